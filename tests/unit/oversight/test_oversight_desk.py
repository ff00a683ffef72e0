from __future__ import annotations

from collections.abc import Callable

import pytest
from oversight_kit import HUMAN_KEY, T0, TIMEOUT_NS

from tradeswarm.bus.identity import Identity
from tradeswarm.bus.inproc import InProcessBus
from tradeswarm.bus.topics import OVERSIGHT_DECISIONS, OVERSIGHT_REQUESTS, Role
from tradeswarm.core.clock import SimClock
from tradeswarm.core.errors import AccessDenied, InvalidInput
from tradeswarm.model.enums import OversightStatus
from tradeswarm.model.envelope import Envelope
from tradeswarm.model.messages import OversightDecided, OversightRequested
from tradeswarm.oversight.desk import AUTO_DENY, OversightDesk
from tradeswarm.oversight.service import (
    activate_killswitch,
    decide_request,
    find_request,
    request_uuid,
    resume_trading,
)
from tradeswarm.store import Store

HUMAN = Identity("jane.doe@desk", Role.HUMAN)
SIGNER = HUMAN_KEY.ed25519
MakeRequest = Callable[[int], OversightRequested]


def _watch(bus: InProcessBus) -> list[OversightDecided]:
    got: list[OversightDecided] = []

    async def handler(env: Envelope) -> None:
        assert isinstance(env.payload, OversightDecided)
        got.append(env.payload)

    bus.subscribe(OVERSIGHT_DECISIONS, handler)
    return got


@pytest.mark.parametrize("role", [r for r in Role if r is not Role.HUMAN])
def test_decide_refuses_a_non_human(store: Store, make_request: MakeRequest, role: Role) -> None:
    req = make_request(1)
    with pytest.raises(AccessDenied, match="only a human"):
        decide_request(store, str(req.request_id), Identity("bot", role), True, "", T0, signer=None)
    assert store.get_oversight(req.request_id).status is OversightStatus.PENDING  # type: ignore[union-attr]


def test_human_approves_a_pending_request(store: Store, make_request: MakeRequest) -> None:
    req = make_request(1)
    record = decide_request(store, str(req.request_id), HUMAN, True, "fine", T0 + 1, signer=SIGNER)
    assert record.status is OversightStatus.APPROVED
    assert record.approver == HUMAN.name
    assert record.decision_ns == T0 + 1


def test_decide_by_unique_prefix(store: Store, make_request: MakeRequest) -> None:
    req = make_request(1)
    record = decide_request(
        store, str(req.request_id)[:13], HUMAN, False, "no", T0 + 1, signer=SIGNER
    )
    assert record.status is OversightStatus.DENIED


def test_decide_refuses_an_already_decided_request(store: Store, make_request: MakeRequest) -> None:
    req = make_request(1)
    decide_request(store, str(req.request_id), HUMAN, False, "no", T0 + 1, signer=SIGNER)
    with pytest.raises(InvalidInput, match="already DENIED") as info:
        decide_request(store, str(req.request_id), HUMAN, True, "yes", T0 + 2, signer=SIGNER)
    assert info.value.field == "request_id"
    assert str(req.request_id) in str(info.value)
    assert store.get_oversight(req.request_id).status is OversightStatus.DENIED  # type: ignore[union-attr]


def test_decide_refuses_an_expired_request(store: Store, make_request: MakeRequest) -> None:
    req = make_request(1)
    with pytest.raises(InvalidInput, match="timed out") as info:
        decide_request(store, str(req.request_id), HUMAN, True, "", T0 + TIMEOUT_NS, signer=SIGNER)
    assert info.value.field == "request_id"
    assert str(req.request_id) in str(info.value)
    assert store.get_oversight(req.request_id).status is OversightStatus.PENDING  # type: ignore[union-attr]


def test_decide_just_before_the_timeout_is_accepted(
    store: Store, make_request: MakeRequest
) -> None:
    req = make_request(1)
    record = decide_request(
        store, str(req.request_id), HUMAN, True, "", T0 + TIMEOUT_NS - 1, signer=SIGNER
    )
    assert record.status is OversightStatus.APPROVED


@pytest.mark.parametrize("rid", ["ffffffff", "not-a-request"])
def test_unknown_request_names_the_id(store: Store, make_request: MakeRequest, rid: str) -> None:
    make_request(1)
    with pytest.raises(InvalidInput) as info:
        find_request(store, rid)
    assert info.value.field == "request_id"
    assert info.value.value == rid


def test_ambiguous_prefix_is_refused(store: Store, make_request: MakeRequest) -> None:
    make_request(1)
    make_request(2)
    with pytest.raises(InvalidInput, match="ambiguous"):
        find_request(store, "018cca94")


def test_request_uuid_refuses_garbage() -> None:
    with pytest.raises(InvalidInput):
        request_uuid("xyz")


def test_resume_trading_refuses_non_humans(store: Store) -> None:
    activate_killswitch(store, Identity("risk-manager-01", Role.RISK), "loss", T0)
    for role in (Role.SYSTEM, Role.RISK, Role.OVERSIGHT, Role.COMPLIANCE):
        with pytest.raises(AccessDenied):
            resume_trading(store, Identity("bot", role), T0)
    assert store.killswitch_active()
    assert resume_trading(store, HUMAN, T0 + 1) is True
    assert not store.killswitch_active()
    assert resume_trading(store, HUMAN, T0 + 2) is False


def test_activate_killswitch_reports_whether_it_changed(store: Store) -> None:
    assert activate_killswitch(store, HUMAN, "why", T0) is True
    assert activate_killswitch(store, HUMAN, "again", T0) is False
    assert store.killswitch_active()


@pytest.mark.asyncio
async def test_tick_auto_denies_at_the_timeout(
    desk: OversightDesk,
    bus: InProcessBus,
    clock: SimClock,
    store: Store,
    make_request: MakeRequest,
) -> None:
    got = _watch(bus)
    req = make_request(1)
    clock.set(T0 + TIMEOUT_NS - 1)
    assert desk.tick() == 0
    await bus.drain()
    assert got == []
    clock.set(T0 + TIMEOUT_NS)
    assert desk.tick() == 1
    await bus.drain()
    record = store.get_oversight(req.request_id)
    assert record is not None
    assert record.status is OversightStatus.TIMEOUT
    assert record.approver == AUTO_DENY
    assert [(d.status, d.approver) for d in got] == [(OversightStatus.TIMEOUT, AUTO_DENY)]


@pytest.mark.asyncio
async def test_tick_relays_a_human_decision_exactly_once(
    desk: OversightDesk,
    bus: InProcessBus,
    clock: SimClock,
    store: Store,
    make_request: MakeRequest,
) -> None:
    got = _watch(bus)
    req = make_request(1)
    decide_request(store, str(req.request_id), HUMAN, True, "go", T0 + 5, signer=SIGNER)
    assert desk.tick() == 1
    assert desk.tick() == 0
    clock.set(T0 + TIMEOUT_NS + 1)  # past the timeout: a decided request is not auto-denied
    assert desk.tick() == 0
    await bus.drain()
    assert len(got) == 1
    assert got[0].status is OversightStatus.APPROVED
    assert got[0].approver == HUMAN.name
    assert got[0].decided_ns == T0 + 5
    assert got[0].intent_id == req.intent.intent_id
    assert store.get_oversight(req.request_id).status is OversightStatus.APPROVED  # type: ignore[union-attr]


@pytest.mark.asyncio
async def test_relay_survives_a_desk_restart(
    bus: InProcessBus, clock: SimClock, store: Store, make_request: MakeRequest
) -> None:
    got = _watch(bus)
    req = make_request(1)
    decide_request(store, str(req.request_id), HUMAN, False, "no", T0 + 5, signer=SIGNER)
    assert OversightDesk("oversight-desk-01", bus, clock, store=store).tick() == 1
    assert OversightDesk("oversight-desk-01", bus, clock, store=store).tick() == 0
    await bus.drain()
    assert len(got) == 1


@pytest.mark.asyncio
async def test_desk_notifies_on_each_request(
    bus: InProcessBus, clock: SimClock, store: Store, make_request: MakeRequest
) -> None:
    seen: list[OversightRequested] = []
    OversightDesk("oversight-desk-01", bus, clock, store=store, notify=seen.append)
    req = make_request(1)
    bus.attach(Identity("risk-manager-01", Role.RISK)).publish(OVERSIGHT_REQUESTS, req, key="r")
    await bus.drain()
    assert seen == [req]
