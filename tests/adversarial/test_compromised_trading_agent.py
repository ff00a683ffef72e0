"""A compromised trading agent, holding its own valid key, attacks a real swarm.

Each attack asserts: no PERMIT, no order at the broker, a DENY (or a refusal at the bus or
the gate) whose reason names the control that stopped it, and the attempt in the log.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest
from adversary_kit import HUMAN, MINUTE, PRICE, TRADER, Rig

from tradeswarm.bus.topics import KILLSWITCH, OVERSIGHT_DECISIONS, RISK_DECISIONS
from tradeswarm.core.errors import AccessDenied, InvalidInput
from tradeswarm.crypto import Algorithm
from tradeswarm.model.enums import DecisionKind, OrderType, OversightStatus, Side, Verdict
from tradeswarm.model.envelope import Envelope, encode_envelope
from tradeswarm.model.messages import OversightDecided, RiskDecision, TradeIntent
from tradeswarm.oversight.service import answer_request, stop_trading, submit
from tradeswarm.risk.limits import RiskLimits
from tradeswarm.testkit import make_decision

pytestmark = pytest.mark.asyncio


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    made = Rig(tmp_path / "swarm.sqlite")
    yield made
    made.close()


async def _published(rig: Rig, intent: TradeIntent) -> Envelope:
    sent: list[Envelope] = []
    await rig.step(lambda: sent.append(rig.publish(intent)))
    return sent[0]


async def _refused(rig: Rig, intent: TradeIntent, control: str) -> None:
    """The attack's intent was logged, decided DENY naming control, and never ordered."""
    assert rig.logged_intent(intent)
    verdicts = rig.verdicts(intent)
    assert verdicts and Verdict.PERMIT not in verdicts, verdicts
    assert any(control in r for r in rig.reasons(intent)), rig.reasons(intent)
    assert not await rig.broker_has(intent)


async def test_a_mispriced_reference_is_valued_at_the_market(rig: Rig) -> None:
    lie = rig.intent(90, reference_price=Decimal(1))  # $329,400 at the mark, "$90" claimed
    await rig.step(lambda: rig.publish(lie))
    await _refused(rig, lie, "trade_size: trade $329,")


async def test_impersonating_another_agent_is_refused_naming_both(rig: Rig) -> None:
    other = rig.intent(1, agent_id="trading-agent-02")
    await rig.step(lambda: rig.publish(other))
    await _refused(rig, other, "names agent 'trading-agent-02' but is signed by 'trading-agent-01'")


async def test_impersonation_at_the_process_boundary_is_refused_by_the_gate(rig: Rig) -> None:
    forged = rig.intent(1, agent_id="trading-agent-02")
    env = rig.envelope(forged, sender="trading-agent:trading-agent-02")  # signed with 01's key
    await rig.step(lambda: rig.remote.receive(env))
    assert not rig.logged_intent(forged) and not rig.verdicts(forged)
    (refusal,) = rig.rejections()
    assert refusal.reason == "key belongs to another identity"
    assert refusal.sender == "trading-agent:trading-agent-02"
    assert not await rig.broker_has(forged)


async def test_an_asset_class_lie_cannot_be_told(rig: Rig) -> None:
    rig.bar(Decimal(42_000), symbol="BTCUSD", advance=False)
    crypto = rig.intent("0.01", symbol="BTCUSD", reference_price=Decimal(42_000))
    await rig.step(lambda: rig.publish(crypto))
    await _refused(rig, crypto, "asset_class: asset class crypto is excluded")
    # the field is gone from the message: a body that claims one is not canonical
    env = rig.envelope(rig.intent(1))
    wire = encode_envelope(env).replace(b'"agent_id"', b'"asset_class":"equity","agent_id"')
    await rig.step(lambda: rig.remote.receive_bytes(wire))
    assert rig.rejections()[-1].reason == "malformed signature block"
    assert "non-canonical" in rig.rejections()[-1].detail


async def test_a_fat_finger_limit_is_stopped_by_the_price_collar(rig: Rig) -> None:
    fat = rig.intent(1, order_type=OrderType.LIMIT, limit_price=PRICE * 10)
    await rig.step(lambda: rig.publish(fat))
    await _refused(rig, fat, "price_collar: price collar: limit price 36600")


async def test_a_stop_far_through_the_market_is_stopped_by_the_collar(tmp_path: Path) -> None:
    rig = Rig(tmp_path / "s.sqlite", RiskLimits(allowed_order_types=list(OrderType)))
    try:
        stop = rig.intent(1, order_type=OrderType.STOP, stop_price=PRICE / 2)
        await rig.step(lambda: rig.publish(stop))
        await _refused(rig, stop, "price_collar: price collar: stop price 1830")
    finally:
        rig.close()


async def test_quantity_overflow_and_negatives_are_denied(rig: Rig) -> None:
    huge = rig.intent("1e20")
    await rig.step(lambda: rig.publish(huge))
    await _refused(rig, huge, "context_error: trade_amount=")
    for bad in (Decimal(-5), Decimal("NaN"), Decimal(0)):
        forced = rig.intent(5)
        msgspec.structs.force_setattr(forced, "quantity", bad)  # altered after it was built

        def attack(forced: TradeIntent = forced) -> None:
            with pytest.raises(InvalidInput, match=r"intent\.quantity"):
                rig.publish(forced)  # the bus re-runs the message's own checks

        await rig.step(attack)
        assert rig.rejections()[-1].reason == "message fails its own field checks"
        assert not rig.logged_intent(forced) and not await rig.broker_has(forced)
    # altering the object after publishing changes nothing: the bus delivered its own copy
    late = rig.intent(6)
    rig.bar(PRICE)
    env = await _published(rig, late)
    msgspec.structs.force_setattr(late, "quantity", Decimal(60_000))
    await rig.step()
    assert env.payload.quantity == Decimal(6)  # type: ignore[union-attr]
    assert [d.intent.quantity for d in rig.decisions(late)] == [Decimal(6)]
    # and on the wire: a negative quantity does not even decode
    wire = encode_envelope(rig.envelope(rig.intent(7))).replace(
        b'"quantity":"7"', b'"quantity":"-7"'
    )
    await rig.step(lambda: rig.remote.receive_bytes(wire))
    assert rig.rejections()[-1].detail.startswith("undecodable")


async def test_an_order_flood_is_throttled(rig: Rig) -> None:
    flood = [rig.intent(n + 1) for n in range(25)]

    async def attack() -> None:
        for i in flood:
            rig.publish(i)

    await rig.step(attack)
    verdicts = rig.verdicts(*flood)
    assert verdicts.count(Verdict.PERMIT) == 10  # the throttle's own limit, then nothing
    for i in flood[10:]:
        await _refused(rig, i, "message_throttle: message throttle: agent trading-agent-01")


async def test_a_duplicate_order_is_refused(rig: Rig) -> None:
    first, again = rig.intent(3), rig.intent(3)

    async def attack() -> None:
        rig.publish(first)
        rig.publish(again)

    await rig.step(attack)
    assert rig.verdicts(first) == [Verdict.PERMIT]
    await _refused(rig, again, "duplicate_order: duplicate order: intent")


async def _approved_trade(rig: Rig) -> tuple[TradeIntent, OversightDecided, bytes]:
    """A big trade a human approves through the inbox; returns the answer's wire bytes."""
    big = rig.intent(30)  # $109,800: above the oversight threshold
    await rig.step(lambda: rig.publish(big))
    request = rig.swarm.store.list_oversight()[0].request
    rig.bar(PRICE)
    signer = rig.swarm.human_signer()
    env = answer_request(
        rig.swarm.store,
        str(request.request_id),
        HUMAN,
        True,
        "ok",
        rig.clock.now_ns(),
        signer=signer,
    )
    submit(rig.swarm.store, env)
    await rig.step()
    assert rig.verdicts(big)[-1] is Verdict.PERMIT
    assert isinstance(env.payload, OversightDecided)
    return big, env.payload, encode_envelope(env)


async def test_a_replayed_approval_is_refused_and_sends_nothing_twice(rig: Rig) -> None:
    big, _, wire = await _approved_trade(rig)
    orders = len(rig.swarm.store.list_orders())
    await rig.step(lambda: rig.remote.receive_bytes(wire))
    assert rig.rejections()[-1].reason == "replayed (msg_id or nonce seen)"
    assert len(rig.swarm.store.list_orders()) == orders
    assert rig.verdicts(big).count(Verdict.PERMIT) == 1


async def test_an_approval_reused_for_another_intent_is_refused(rig: Rig) -> None:
    _, answer, _ = await _approved_trade(rig)
    other = rig.intent(31)
    await rig.step(lambda: rig.publish(other))
    other_request = next(
        r.request for r in rig.swarm.store.list_oversight() if r.request.intent == other
    )
    reused = msgspec.structs.replace(
        answer, request_id=other_request.request_id, intent_id=other.intent_id
    )
    with pytest.raises(AccessDenied):  # the agent may not speak for a human on the bus
        rig.publish(reused, OVERSIGHT_DECISIONS)
    forged = rig.envelope(reused, OVERSIGHT_DECISIONS, sender=str(HUMAN))
    await rig.step(lambda: rig.remote.receive(forged))
    reasons = [r.reason for r in rig.rejections()]
    assert "sender's role may not publish on this topic" in reasons  # logged by the bus
    assert "key belongs to another identity" in reasons  # logged by the gate
    assert Verdict.PERMIT not in rig.verdicts(other)
    assert not await rig.broker_has(other)


async def test_an_approval_older_than_five_minutes_is_refused(rig: Rig) -> None:
    big = rig.intent(30)
    await rig.step(lambda: rig.publish(big))
    request = rig.swarm.store.list_oversight()[0].request
    signer = rig.swarm.human_signer()
    env = answer_request(
        rig.swarm.store,
        str(request.request_id),
        HUMAN,
        True,
        "ok",
        rig.clock.now_ns(),
        signer=signer,
    )
    for _ in range(6):
        rig.bar(PRICE)  # six minutes pass before the answer reaches the swarm
    await rig.step(lambda: rig.remote.receive(env))
    assert rig.rejections()[-1].reason == "older than the replay window"
    assert Verdict.PERMIT not in rig.verdicts(big)
    assert not await rig.broker_has(big)


async def test_stale_market_data_values_nothing(rig: Rig) -> None:
    rig.clock.advance(10 * MINUTE)  # the feed stops for ten minutes
    blind = rig.intent(1)
    await rig.step(lambda: rig.publish(blind))
    await _refused(
        rig, blind, "stale_market_data: stale market data: the quote for IDXF is 600s old"
    )


async def test_an_unknown_symbol_is_refused(rig: Rig) -> None:
    ghost = rig.intent(1, symbol="GHOST")
    await rig.step(lambda: rig.publish(ghost))
    await _refused(rig, ghost, "instrument: unknown instrument 'GHOST'")


async def test_too_little_history_is_unknown_and_denied(rig: Rig) -> None:
    for _ in range(5):
        rig.bar(Decimal(185), symbol="AAPL", advance=False)
    young = rig.intent(1, symbol="AAPL", reference_price=Decimal(185))
    await rig.step(lambda: rig.publish(young))
    await _refused(rig, young, "insufficient_history: insufficient history: 5 of 30 bars")


async def test_trading_during_the_kill_switch_is_denied(rig: Rig) -> None:
    stop = stop_trading(HUMAN, "drill", rig.clock.now_ns(), signer=rig.swarm.human_signer())
    submit(rig.swarm.store, stop)
    await rig.step()
    assert rig.swarm.store.killswitch_active()
    sneaky = rig.intent(1)
    await rig.step(lambda: rig.publish(sneaky))
    await _refused(rig, sneaky, "kill_switch: kill switch is active")
    assert any(e.topic == KILLSWITCH.name for e in rig.log())


async def test_the_agent_cannot_resume_trading_or_stop_it_as_a_human(rig: Rig) -> None:
    fake = stop_trading(
        TRADER, "sabotage", rig.clock.now_ns(), signer=rig.keys.signer(Algorithm.ED25519)
    )
    submit(rig.swarm.store, fake)  # a trading agent on the human-commands gate
    await rig.step()
    assert not rig.swarm.store.killswitch_active()
    assert rig.rejections()[-1].reason == "sender's role may not publish on this topic"


async def test_a_forbidden_order_type_is_denied(rig: Rig) -> None:
    stop = rig.intent(1, order_type=OrderType.STOP, stop_price=PRICE + 5)
    await rig.step(lambda: rig.publish(stop))
    await _refused(rig, stop, "order_type: compliance: order type STOP is not allowed")


async def test_reusing_an_intent_id_for_another_trade_is_a_conflict(rig: Rig) -> None:
    small = rig.intent(1)
    await rig.step(lambda: rig.publish(small))
    bigger = msgspec.structs.replace(small, quantity=Decimal(40), side=Side.BUY)
    await rig.step(lambda: rig.publish(bigger))
    by_phase = {d.phase: d for d in rig.decisions(small)}
    assert by_phase[DecisionKind.INTENT].verdict is Verdict.PERMIT
    conflict = by_phase[DecisionKind.CONFLICT]
    assert conflict.verdict is Verdict.DENY and conflict.intent == bigger
    assert conflict.reasons[0].startswith("intent_id_reused:")
    orders = [o for o in rig.swarm.store.list_orders() if o.intent_id == small.intent_id]
    assert [o.quantity for o in orders] == [Decimal(1)]  # only the first was ever ordered


async def test_a_forged_permit_never_reaches_the_broker(rig: Rig) -> None:
    target = rig.intent(40)
    permit = make_decision(intent=target, verdict=Verdict.PERMIT, reasons=["all policies passed"])
    with pytest.raises(AccessDenied):
        rig.publish(permit, RISK_DECISIONS)
    env = rig.envelope(permit, RISK_DECISIONS)
    await rig.step(lambda: rig.remote.receive(env))
    assert not isinstance(rig.log()[-1].payload, RiskDecision)
    assert [r.reason for r in rig.rejections()] == [
        "sender's role may not publish on this topic",
        "sender's role may not publish on this topic",
    ]
    assert not await rig.broker_has(target)


async def test_an_unsigned_intent_across_the_boundary_is_refused(rig: Rig) -> None:
    unsigned = msgspec.structs.replace(rig.envelope(rig.intent(1)), signature=None)
    await rig.step(lambda: rig.remote.receive(unsigned))
    assert rig.rejections()[-1].reason == "unsigned"
    assert not isinstance(unsigned.payload, TradeIntent) or not rig.verdicts(unsigned.payload)


async def test_a_denied_human_can_still_only_deny(rig: Rig) -> None:
    """The oversight answers the agent cannot forge are the only ones that move requests."""
    big = rig.intent(30)
    await rig.step(lambda: rig.publish(big))
    request = rig.swarm.store.list_oversight()[0].request
    for _ in range(6):
        rig.bar(PRICE)
        await rig.step()
    record = rig.swarm.store.get_oversight(request.request_id)
    assert record is not None and record.status is OversightStatus.TIMEOUT
    assert rig.verdicts(big)[-1] is Verdict.DENY
    assert not await rig.broker_has(big)
