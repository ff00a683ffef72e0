"""What a human can ask for (oversight.service) and what the desk does (only timeouts).

The service builds signed envelopes and changes nothing; `submit` queues them in the
store's inbox; the gate admits them onto the bus; the kill switch's flag follows the
logged commands. The desk answers nothing but a request's timeout.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from oversight_kit import TIMEOUT_NS, forged_answer

from signed_kit import DESK, HUMAN, RISK
from tradeswarm.bus.identity import Identity
from tradeswarm.bus.inproc import InProcessBus
from tradeswarm.bus.signed import VerifyingGate
from tradeswarm.bus.topics import OVERSIGHT_DECISIONS, OVERSIGHT_REQUESTS, RESUME, Role
from tradeswarm.core.clock import SimClock
from tradeswarm.core.errors import AccessDenied, InvalidInput
from tradeswarm.crypto import KeyRegistry, Signer, verify_envelope
from tradeswarm.model.enums import OversightStatus
from tradeswarm.model.envelope import Envelope, decode_envelope, encode_envelope
from tradeswarm.model.messages import (
    KillSwitchActivated,
    OversightDecided,
    OversightRequested,
    TradingResumed,
)
from tradeswarm.oversight.desk import AUTO_DENY, OversightDesk
from tradeswarm.oversight.service import (
    answer_request,
    find_request,
    human_envelope,
    request_uuid,
    resume_trading,
    stop_trading,
    submit,
)
from tradeswarm.store import Store
from tradeswarm.system.killswitch import KillSwitchState
from tradeswarm.testkit import T0

MakeRequest = Callable[[int], OversightRequested]
Keys = Callable[[Identity], Signer]


def _watch(bus: InProcessBus) -> list[Envelope]:
    got: list[Envelope] = []

    async def handler(env: Envelope) -> None:
        assert isinstance(env.payload, OversightDecided)
        got.append(env)

    bus.subscribe(OVERSIGHT_DECISIONS, handler)
    return got


def _status(store: Store, req: OversightRequested) -> OversightStatus:
    record = store.get_oversight(req.request_id)
    assert record is not None
    return record.status


# -- answer_request: a signed envelope, nothing changed ------------------------------------


@pytest.mark.parametrize("role", [r for r in Role if r is not Role.HUMAN])
def test_answering_is_refused_to_a_non_human(
    store: Store, make_request: MakeRequest, keys: Keys, role: Role
) -> None:
    req = make_request(1)
    with pytest.raises(AccessDenied, match="only a human"):
        answer_request(store, str(req.request_id), Identity("bot", role), True, "", T0,
                       signer=keys(HUMAN))  # fmt: skip
    assert _status(store, req) is OversightStatus.PENDING


def test_an_answer_is_an_envelope_the_human_signed_and_changes_nothing(
    store: Store, make_request: MakeRequest, keys: Keys, registry: KeyRegistry
) -> None:
    req = make_request(1)
    env = answer_request(store, str(req.request_id), HUMAN, True, "fine", T0 + 1,
                         signer=keys(HUMAN))  # fmt: skip
    assert (env.sender, env.topic, env.ts_ns) == (str(HUMAN), OVERSIGHT_DECISIONS.name, T0 + 1)
    answer = env.payload
    assert isinstance(answer, OversightDecided)
    assert (answer.status, answer.approver, answer.decided_ns, answer.notes) == (
        OversightStatus.APPROVED, HUMAN.name, T0 + 1, "fine",
    )  # fmt: skip
    assert answer.intent_id == req.intent.intent_id
    assert answer.human_signature is not None
    assert verify_envelope(env, registry).principal == "human:jane.doe@desk"
    assert _status(store, req) is OversightStatus.PENDING  # nothing moves until the swarm acts
    assert store.inbox_pending() == 0


def test_submit_queues_the_canonical_bytes_in_the_inbox(
    store: Store, make_request: MakeRequest, keys: Keys
) -> None:
    req = make_request(1)
    env = answer_request(store, str(req.request_id), HUMAN, False, "no", T0 + 1,
                         signer=keys(HUMAN))  # fmt: skip
    first = submit(store, env)
    assert submit(store, env) == first + 1
    assert store.inbox_pending() == 2
    assert store.take_inbox() == [encode_envelope(env)] * 2
    assert store.inbox_pending() == 0
    assert _status(store, req) is OversightStatus.PENDING


def test_answer_by_unique_prefix(store: Store, make_request: MakeRequest, keys: Keys) -> None:
    req = make_request(1)
    env = answer_request(store, str(req.request_id)[:13], HUMAN, False, "no", T0 + 1,
                         signer=keys(HUMAN))  # fmt: skip
    assert isinstance(env.payload, OversightDecided)
    assert env.payload.request_id == req.request_id
    assert env.payload.status is OversightStatus.DENIED


def test_answering_a_decided_request_is_refused(
    store: Store, make_request: MakeRequest, keys: Keys
) -> None:
    req = make_request(1)
    assert store.decide_oversight(req.request_id, OversightStatus.DENIED, HUMAN.name, "no", T0 + 1,
                                  None)  # fmt: skip
    with pytest.raises(InvalidInput, match="already DENIED") as info:
        answer_request(store, str(req.request_id), HUMAN, True, "yes", T0 + 2, signer=keys(HUMAN))
    assert info.value.field == "request_id"
    assert str(req.request_id) in str(info.value)


def test_answering_at_the_timeout_is_refused(
    store: Store, make_request: MakeRequest, keys: Keys
) -> None:
    req = make_request(1)
    with pytest.raises(InvalidInput, match="timed out") as info:
        answer_request(store, str(req.request_id), HUMAN, True, "", T0 + TIMEOUT_NS,
                       signer=keys(HUMAN))  # fmt: skip
    assert info.value.field == "request_id"
    assert str(req.request_id) in str(info.value)


def test_answering_just_before_the_timeout_is_accepted(
    store: Store, make_request: MakeRequest, keys: Keys
) -> None:
    req = make_request(1)
    env = answer_request(store, str(req.request_id), HUMAN, True, "", T0 + TIMEOUT_NS - 1,
                         signer=keys(HUMAN))  # fmt: skip
    assert isinstance(env.payload, OversightDecided)
    assert env.payload.decided_ns == T0 + TIMEOUT_NS - 1


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


# -- the kill switch: signed commands, a flag that follows the log -------------------------


def test_resume_is_refused_to_non_humans(keys: Keys) -> None:
    for role in (Role.SYSTEM, Role.RISK, Role.OVERSIGHT, Role.COMPLIANCE):
        with pytest.raises(AccessDenied, match="only a human"):
            resume_trading(Identity("bot", role), T0, signer=keys(RISK))


@pytest.mark.asyncio
async def test_the_flag_follows_the_logged_stop_and_resume(
    bus: InProcessBus, gate: VerifyingGate, store: Store, clock: SimClock, keys: Keys
) -> None:
    KillSwitchState(bus, store)
    stop = stop_trading(RISK, "loss", T0, signer=keys(RISK))  # any identity may stop
    assert isinstance(stop.payload, KillSwitchActivated)
    assert stop.sender == str(RISK)
    assert not store.killswitch_active()  # built, not yet received
    assert gate.receive(stop) is not None
    await bus.drain()
    assert store.killswitch_active()
    clock.advance(1)
    assert gate.receive(resume_trading(HUMAN, T0 + 1, signer=keys(HUMAN))) is not None
    await bus.drain()
    assert not store.killswitch_active()
    logged = [decode_envelope(r.body) for r in store.iter_events()]
    assert [type(e.payload) for e in logged] == [KillSwitchActivated, TradingResumed]


@pytest.mark.asyncio
async def test_a_resume_signed_by_a_non_human_is_refused_at_the_gate_and_logged(
    bus: InProcessBus, gate: VerifyingGate, store: Store, keys: Keys
) -> None:
    KillSwitchState(bus, store)
    assert gate.receive(stop_trading(HUMAN, "drill", T0, signer=keys(HUMAN))) is not None
    await bus.drain()
    forged = human_envelope(TradingResumed(resumed_by=str(RISK), ts_event=T0), RESUME, RISK, T0,
                            keys(RISK), "resume")  # fmt: skip
    assert gate.receive(forged) is None
    await bus.drain()
    assert store.killswitch_active()
    (rejected,) = [
        e.payload for e in map(decode_envelope, (r.body for r in store.iter_events()))
        if e.type == "EnvelopeRejected"
    ]  # fmt: skip
    assert rejected.msg_id == forged.msg_id  # type: ignore[union-attr]
    assert rejected.reason == "sender's role may not publish on this topic"  # type: ignore[union-attr]


# -- the desk: notifies, and answers only a timeout ----------------------------------------


@pytest.mark.asyncio
async def test_tick_publishes_a_timeout_only_at_the_timeout_and_writes_nothing(
    desk: OversightDesk, bus: InProcessBus, clock: SimClock, store: Store, make_request: MakeRequest
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
    (env,) = got
    assert env.sender == str(DESK)
    assert isinstance(env.payload, OversightDecided)
    assert (env.payload.status, env.payload.approver) == (OversightStatus.TIMEOUT, AUTO_DENY)
    assert env.payload.decided_ns == T0 + TIMEOUT_NS
    assert env.payload.human_signature is None
    assert _status(store, req) is OversightStatus.PENDING  # the risk manager moves it


@pytest.mark.asyncio
async def test_tick_never_answers_for_a_human_nor_a_decided_request(
    desk: OversightDesk, bus: InProcessBus, clock: SimClock, store: Store, make_request: MakeRequest
) -> None:
    got = _watch(bus)
    decided, pending = make_request(1), make_request(2)
    assert store.decide_oversight(decided.request_id, OversightStatus.APPROVED, HUMAN.name, "go",
                                  T0 + 5, None)  # fmt: skip
    assert desk.tick() == 0  # before the timeout: nothing, whatever the status
    clock.set(T0 + TIMEOUT_NS + 1)
    assert desk.tick() == 1
    await bus.drain()
    assert [e.payload.request_id for e in got] == [pending.request_id]  # type: ignore[union-attr]
    assert all(e.payload.status is OversightStatus.TIMEOUT for e in got)  # type: ignore[union-attr]


@pytest.mark.asyncio
async def test_a_replayed_answer_is_refused_at_the_gate_and_logged(
    gate: VerifyingGate, bus: InProcessBus, store: Store, make_request: MakeRequest, keys: Keys
) -> None:
    got = _watch(bus)
    req = make_request(1)
    env = forged_answer(req, sender=HUMAN, signer=keys(HUMAN), sent_ns=T0)
    assert gate.receive(env) is not None
    assert gate.receive(env) is None
    await bus.drain()
    assert got == [env]
    logged = [decode_envelope(r.body) for r in store.iter_events()]
    assert [e.type for e in logged] == ["OversightDecided", "EnvelopeRejected"]
    assert logged[0] == env
    assert logged[1].payload.reason == "replayed (msg_id or nonce seen)"  # type: ignore[union-attr]


@pytest.mark.asyncio
async def test_desk_notifies_on_each_request(
    bus: InProcessBus, clock: SimClock, store: Store, make_request: MakeRequest
) -> None:
    seen: list[OversightRequested] = []
    OversightDesk("oversight-desk-01", bus, clock, store=store, notify=seen.append)
    req = make_request(1)
    bus.attach(RISK).publish(OVERSIGHT_REQUESTS, req, key="r")
    await bus.drain()
    assert seen == [req]
