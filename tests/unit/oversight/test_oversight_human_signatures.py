"""Oversight decisions signed by the human's own key: stored, relayed, checked by the gate.

The gate (RiskManager with the swarm's registry) must refuse an approval that is unsigned,
signed with another human's key, with a key the registry does not know, under another
context, or altered after signing, and log that refusal as a DENY with the reason.
"""

from __future__ import annotations

import json
import uuid
from decimal import Decimal

import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from oversight_kit import HUMAN_KEY, OTHER_KEY, T0

from tradeswarm.bus.identity import Identity
from tradeswarm.bus.inproc import InProcessBus
from tradeswarm.bus.topics import INTENTS, RISK_DECISIONS, Role
from tradeswarm.core.clock import NS_PER_SECOND, SimClock
from tradeswarm.crypto import AgentIdentity, KeyRegistry, SignatureInvalid, Signer, sign_bytes
from tradeswarm.data.view import MarketView
from tradeswarm.model.enums import OversightStatus, Verdict
from tradeswarm.model.envelope import Envelope, decode_envelope
from tradeswarm.model.market import Bar, Session
from tradeswarm.model.messages import (
    HUMAN_DECISION_CONTEXT,
    HumanApproval,
    OversightDecided,
    RiskDecision,
)
from tradeswarm.oversight.desk import OversightDesk
from tradeswarm.oversight.service import decide_request, verify_decision
from tradeswarm.risk.limits import RiskLimits
from tradeswarm.risk.manager import RiskManager
from tradeswarm.store import Store
from tradeswarm.testkit import make_intent

HUMAN = Identity("jane.doe@desk", Role.HUMAN)
TRADER = Identity("trading-agent-01", Role.TRADER)
REGISTRY = KeyRegistry([HUMAN_KEY.public(), OTHER_KEY.public()])
STRANGER = AgentIdentity.from_seed("jane.doe@desk", "human", b"a seed nobody registered", 0)


class Desk(msgspec.Struct):
    bus: InProcessBus
    clock: SimClock
    store: Store
    desk: OversightDesk
    decisions: list[RiskDecision]


@pytest.fixture
def desk(bus: InProcessBus, clock: SimClock, store: Store) -> Desk:
    store.set_initial_cash(Decimal(5_000_000))
    market = MarketView()
    market.open_session(Session(day="2024-01-02", open_ns=T0 - 60, close_ns=T0 + 3600 * 10**9))
    price = Decimal(120_000)
    market.on_bar(Bar(symbol="ES", ts_event=T0, open=price, high=price, low=price, close=price,
                      volume=Decimal(1000)))  # fmt: skip
    RiskManager("risk-manager-01", bus, clock, store=store, market=market, limits=RiskLimits(),
                registry=REGISTRY)  # fmt: skip
    decisions: list[RiskDecision] = []

    async def watch(env: Envelope) -> None:
        assert isinstance(env.payload, RiskDecision)
        decisions.append(env.payload)

    bus.subscribe(RISK_DECISIONS, watch)
    return Desk(bus, clock, store, OversightDesk("oversight-desk-01", bus, clock, store=store),
                decisions)  # fmt: skip


async def _review(d: Desk) -> uuid.UUID:
    """A $120,000 intent (one contract): the gate asks for a human; returns the request id."""
    intent = make_intent(
        intent_id=uuid.UUID(int=5),
        agent_id=TRADER.name,
        reference_price=Decimal(120_000),
        rationale="t",
        ts_event=T0,
    )
    d.bus.attach(TRADER).publish(INTENTS, intent, key="big")
    await d.bus.drain()
    assert [x.verdict for x in d.decisions] == [Verdict.REVIEW], d.decisions[0].reasons
    (record,) = d.store.list_oversight()
    return record.request.request_id


async def _relay(d: Desk) -> RiskDecision:
    assert d.desk.tick() == 1
    await d.bus.drain()
    return d.decisions[-1]


def _logged(store: Store, kind: type) -> list[Envelope]:
    envs = [decode_envelope(r.body) for r in store.iter_events()]
    return [e for e in envs if isinstance(e.payload, kind)]


@pytest.mark.asyncio
async def test_an_approval_signed_by_the_human_is_permitted_and_relayed_with_it(desk: Desk) -> None:
    rid = await _review(desk)
    desk.clock.advance(30 * NS_PER_SECOND)
    record = decide_request(desk.store, str(rid), HUMAN, True, "ok", desk.clock.now_ns(),
                            signer=HUMAN_KEY.ed25519)  # fmt: skip
    assert record.signature is not None
    assert verify_decision(record, REGISTRY).principal == "human:jane.doe@desk"  # type: ignore[union-attr]
    final = await _relay(desk)
    assert final.verdict is Verdict.PERMIT
    assert final.approval is not None and final.approval.approver == HUMAN.name
    (relayed,) = _logged(desk.store, OversightDecided)
    assert isinstance(relayed.payload, OversightDecided)
    assert relayed.sender == "oversight-desk:oversight-desk-01"  # the desk relays ...
    assert relayed.payload.human_signature == record.signature  # ... what the human signed


def test_the_human_signature_verifies_with_an_independent_ed25519_over_plain_json(
    store: Store,
) -> None:
    """Outside oracle: the `cryptography` package and the json module, not our encoder."""
    answer = HumanApproval(
        request_id=uuid.UUID(int=9), approver="jane.doe@desk", approved=True,
        decided_ns=T0, notes="size ok — ünïcode",
    )  # fmt: skip
    block = msgspec.msgpack.decode(
        sign_bytes(HUMAN_DECISION_CONTEXT, answer.signing_bytes(), HUMAN_KEY.ed25519)
    )
    assert block[:3] == [1, "ed25519", HUMAN_KEY.ed25519.key_id]
    plain = {
        "approved": True, "approver": "jane.doe@desk", "decided_ns": T0,
        "notes": "size ok — ünïcode", "request_id": str(uuid.UUID(int=9)),
    }  # fmt: skip
    data = json.dumps(plain, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    public = Ed25519PublicKey.from_public_bytes(HUMAN_KEY.ed25519.public_key_bytes())
    public.verify(block[3], b"tradeswarm/v1/HumanApproval\x00" + data)  # raises if wrong


def _forged_signature(kind: str, rid: uuid.UUID, decided_ns: int) -> tuple[bytes | None, str]:
    """(signature block, the reason the gate must give) for each kind of forgery."""
    answer = HumanApproval(request_id=rid, approver=HUMAN.name, approved=True,
                           decided_ns=decided_ns, notes="ok")  # fmt: skip
    signer: Signer = HUMAN_KEY.ed25519
    data, context = answer.signing_bytes(), HUMAN_DECISION_CONTEXT
    if kind == "unsigned":
        return None, "unsigned"
    if kind == "another human's key":
        signer = OTHER_KEY.ed25519
        reason = "key belongs to another identity"
    elif kind == "unregistered key":
        signer = STRANGER.ed25519
        reason = "unknown key"
    elif kind == "another context":
        context = "OversightDecided"
        reason = "signature made for another message type"
    else:  # the decision was altered after it was signed: it said deny
        data = msgspec.structs.replace(answer, approved=False).signing_bytes()
        reason = "signature does not verify"
    return sign_bytes(context, data, signer), reason


@pytest.mark.parametrize(
    "kind",
    ["unsigned", "another human's key", "unregistered key", "another context", "altered"],
)
@pytest.mark.asyncio
async def test_a_forged_approval_is_refused_and_the_refusal_logged(desk: Desk, kind: str) -> None:
    rid = await _review(desk)
    now = desk.clock.now_ns() + 30 * NS_PER_SECOND
    desk.clock.set(now)
    signature, reason = _forged_signature(kind, rid, now)
    assert desk.store.decide_oversight(rid, OversightStatus.APPROVED, HUMAN.name, "ok", now,
                                       signature)  # fmt: skip
    record = desk.store.get_oversight(rid)
    assert record is not None
    with pytest.raises(SignatureInvalid, match=reason):
        verify_decision(record, REGISTRY)
    final = await _relay(desk)
    assert final.verdict is Verdict.DENY
    (why,) = final.reasons
    assert why.startswith(f"oversight: approval by {HUMAN.name} refused: human signature")
    assert reason in why
    assert final.approval is None
    # logged: in the risk events and in the envelope log, after the relayed approval
    assert desk.store.get_decision_for_intent(final.intent.intent_id) == final
    logged = [e.payload for e in _logged(desk.store, RiskDecision)]
    assert logged[-1] == final
    assert desk.store.count_risk_events() == 2  # the REVIEW and this DENY


@pytest.mark.asyncio
async def test_a_human_denial_needs_no_verification_to_deny(desk: Desk) -> None:
    rid = await _review(desk)
    decide_request(desk.store, str(rid), HUMAN, False, "too big", T0 + 1, signer=None)
    final = await _relay(desk)
    assert final.verdict is Verdict.DENY
    assert final.reasons == [f"oversight: denied by {HUMAN.name}: too big"]


def test_kill_switch_and_resume_commands_carry_the_signers_signature(store: Store) -> None:
    from tradeswarm.oversight.service import (
        activate_killswitch,
        last_command,
        resume_trading,
        verify_command,
    )

    assert last_command(store) is None
    assert activate_killswitch(store, HUMAN, "drill", T0, signer=HUMAN_KEY.ed25519)
    stopped = last_command(store)
    assert stopped is not None and stopped.signer == "human:jane.doe@desk"
    assert verify_command(stopped, REGISTRY).key_id == HUMAN_KEY.ed25519.key_id
    assert resume_trading(store, HUMAN, T0 + 1, signer=OTHER_KEY.ed25519)  # mallory's key
    resumed = last_command(store)
    assert resumed is not None and resumed.command.ts_event == T0 + 1
    with pytest.raises(SignatureInvalid, match="key belongs to another identity"):
        verify_command(resumed, REGISTRY)
    forged = msgspec.structs.replace(stopped, command=msgspec.structs.replace(
        stopped.command, reason="not a drill"))  # fmt: skip
    with pytest.raises(SignatureInvalid, match="does not verify"):
        verify_command(forged, REGISTRY)
