from __future__ import annotations

from decimal import Decimal

import pytest
from exec_kit import COLLAR, MIN, SESSION, Rig, exec_bar, exec_instruments, permit

from tradeswarm.brokers.errors import ErrorCode
from tradeswarm.brokers.port import BrokerOrderStatus
from tradeswarm.bus.identity import Identity
from tradeswarm.bus.topics import EXECUTION_REJECTED, FILLS, KILLSWITCH, ORDERS, Role
from tradeswarm.core.clock import NS_PER_SECOND
from tradeswarm.execution.agent import order_for
from tradeswarm.execution.pretrade import Collar, collar_refusal
from tradeswarm.model.enums import Side, Verdict
from tradeswarm.model.envelope import Envelope, decode_envelope
from tradeswarm.model.market import Quote
from tradeswarm.model.messages import ExecutionRejected, KillSwitchActivated, RiskDecision
from tradeswarm.model.order import OrderState
from tradeswarm.testkit import make_envelope


def _watch(rig: Rig, topic) -> list[Envelope]:  # type: ignore[no-untyped-def]
    got: list[Envelope] = []

    async def handler(env: Envelope) -> None:
        got.append(env)

    rig.bus.subscribe(topic, handler)
    return got


def _cid(decision: RiskDecision) -> str:
    return order_for(decision, 0).client_order_id


@pytest.mark.asyncio
async def test_permit_leads_to_exactly_one_acknowledged_broker_order(rig: Rig) -> None:
    updates = _watch(rig, ORDERS)
    decision = permit(rig.clock)
    await rig.send(decision)
    orders = await rig.broker.get_open_orders()
    assert len(orders) == 1
    order = rig.store.list_orders()[0]
    assert order.state is OrderState.ACKNOWLEDGED
    assert order.broker_order_id == orders[0].broker_order_id
    assert orders[0].client_order_id == order.client_order_id
    assert orders[0].quantity == Decimal(5)
    assert [u.payload.state for u in updates] == ["CREATED", "SUBMITTED", "ACKNOWLEDGED"]  # type: ignore[union-attr]


@pytest.mark.parametrize("verdict", [Verdict.DENY, Verdict.REVIEW])
@pytest.mark.asyncio
async def test_non_permit_sends_nothing(rig: Rig, verdict: Verdict) -> None:
    await rig.send(permit(rig.clock, verdict=verdict))
    assert await rig.broker.get_open_orders() == []
    assert rig.store.list_orders() == []


@pytest.mark.asyncio
async def test_retryable_fault_is_retried_with_the_same_client_order_id(rig: Rig) -> None:
    rig.broker.inject_fault(ErrorCode.ERR_NETWORK, times=2)
    start = rig.clock.now_ns()
    decision = permit(rig.clock)
    await rig.send(decision)
    orders = await rig.broker.get_open_orders()
    assert len(orders) == 1
    assert orders[0].client_order_id == _cid(decision)
    stored = rig.store.list_orders()
    assert len(stored) == 1
    assert stored[0].state is OrderState.ACKNOWLEDGED
    assert rig.clock.now_ns() - start == (100 + 200) * 1_000_000  # backoff on the sim clock


@pytest.mark.asyncio
async def test_lost_response_does_not_duplicate_the_order(rig: Rig) -> None:
    rig.broker.inject_fault(ErrorCode.ERR_NETWORK, after_accept=True)
    await rig.send(permit(rig.clock))
    orders = await rig.broker.get_open_orders()
    assert len(orders) == 1
    stored = rig.store.list_orders()
    assert [o.state for o in stored] == [OrderState.ACKNOWLEDGED]
    assert stored[0].broker_order_id == orders[0].broker_order_id
    assert rig.store.duplicate_client_order_ids() == 0


@pytest.mark.asyncio
async def test_exhausted_retries_end_in_fatal_error(rig: Rig) -> None:
    rejected = _watch(rig, EXECUTION_REJECTED)
    rig.broker.inject_fault(ErrorCode.ERR_NETWORK, times=10)
    await rig.send(permit(rig.clock))
    stored = rig.store.list_orders()
    assert [o.state for o in stored] == [OrderState.FATAL_ERROR]
    assert "after 4 tries" in stored[0].reason
    assert await rig.broker.get_open_orders() == []
    assert len(rejected) == 1


@pytest.mark.asyncio
async def test_unknown_symbol_is_rejected_without_retry(rig: Rig) -> None:
    rejected = _watch(rig, EXECUTION_REJECTED)
    rig.tick(symbol="ZZ")  # the view has a quote; the broker does not list ZZ
    start = rig.clock.now_ns()
    await rig.send(permit(rig.clock, symbol="ZZ"))
    stored = rig.store.list_orders()
    assert [o.state for o in stored] == [OrderState.REJECTED]
    assert ErrorCode.ERR_INVALID_TICKER in stored[0].reason
    assert rig.clock.now_ns() == start  # no backoff happened
    assert len(rejected) == 1
    assert isinstance(rejected[0].payload, ExecutionRejected)


async def _refused(rig: Rig, decision: RiskDecision | None = None) -> str:
    rejected = _watch(rig, EXECUTION_REJECTED)
    await rig.send(decision or permit(rig.clock))
    assert await rig.broker.get_open_orders() == []
    stored = rig.store.list_orders()
    assert [o.state for o in stored] == [OrderState.REJECTED]
    assert len(rejected) == 1
    return rejected[0].payload.reason  # type: ignore[union-attr]


@pytest.mark.asyncio
async def test_decision_older_than_five_minutes_is_refused(rig: Rig) -> None:
    rejected = _watch(rig, EXECUTION_REJECTED)
    decision = permit(rig.clock)
    rig.clock.advance(301 * NS_PER_SECOND)
    rig.tick()
    await rig.send(decision)
    assert await rig.broker.get_open_orders() == []
    assert "stale approval" in rejected[0].payload.reason  # type: ignore[union-attr]


@pytest.mark.asyncio
async def test_decision_exactly_five_minutes_old_is_sent(rig: Rig) -> None:
    decision = permit(rig.clock)
    rig.clock.advance(300 * NS_PER_SECOND)
    rig.tick()
    await rig.send(decision)
    assert len(await rig.broker.get_open_orders()) == 1


@pytest.mark.asyncio
async def test_within_fifteen_minutes_of_close_is_refused(rig: Rig) -> None:
    rig.clock.set(SESSION.close_ns - 15 * MIN + 1)
    rig.tick()
    reason = await _refused(rig)
    assert "minutes of the close" in reason


@pytest.mark.asyncio
async def test_fifteen_minutes_before_close_is_still_allowed(rig: Rig) -> None:
    rig.clock.set(SESSION.close_ns - 15 * MIN)
    rig.tick()
    await rig.send(permit(rig.clock))
    assert len(await rig.broker.get_open_orders()) == 1


@pytest.mark.asyncio
async def test_wide_spread_is_refused(rig: Rig) -> None:
    now = rig.clock.now_ns()
    # mid 100, spread 2.02 -> 2.02%
    rig.market.set_quote(
        Quote(symbol="ES", ts_event=now, bid=Decimal("98.99"), ask=Decimal("101.01"))
    )
    reason = await _refused(rig)
    assert "spread" in reason


@pytest.mark.asyncio
async def test_spread_of_exactly_two_percent_is_allowed(rig: Rig) -> None:
    now = rig.clock.now_ns()
    rig.market.set_quote(Quote(symbol="ES", ts_event=now, bid=Decimal(99), ask=Decimal(101)))
    await rig.send(permit(rig.clock))
    assert len(await rig.broker.get_open_orders()) == 1


@pytest.mark.asyncio
async def test_stale_quote_is_refused(rig: Rig) -> None:
    rig.clock.advance(16 * NS_PER_SECOND)
    reason = await _refused(rig)
    assert "stale market data" in reason


@pytest.mark.asyncio
async def test_market_closed_is_refused(rig: Rig) -> None:
    rig.clock.set(SESSION.close_ns)
    rig.market.on_bar(exec_bar(rig.clock.now_ns()))  # a fresh quote, but the session is over
    reason = await _refused(rig)
    assert "market closed" in reason


@pytest.mark.asyncio
async def test_kill_switch_refuses_new_orders(rig: Rig) -> None:
    rig.store.set_killswitch(True, "test", rig.clock.now_ns())
    reason = await _refused(rig)
    assert reason == "kill switch active"


@pytest.mark.asyncio
async def test_kill_switch_message_cancels_open_orders_at_the_broker(rig: Rig) -> None:
    await rig.send(permit(rig.clock, 1))
    await rig.send(permit(rig.clock, 2))
    assert len(await rig.broker.get_open_orders()) == 2
    system = rig.bus.attach(Identity("ops", Role.SYSTEM))
    system.publish(
        KILLSWITCH,
        KillSwitchActivated(reason="panic", triggered_by="ops", ts_event=rig.clock.now_ns()),
        key="k",
    )
    await rig.bus.drain()
    assert rig.store.killswitch_active()  # set by the KillSwitchState projector
    assert await rig.broker.get_open_orders() == []
    for order in rig.store.list_orders():
        assert order.state is OrderState.CANCELED
        seen = await rig.broker.get_order_status(order.broker_order_id)  # type: ignore[arg-type]
        assert seen.status is BrokerOrderStatus.CANCELED
    third = permit(rig.clock, 3)
    await rig.send(third)
    assert rig.store.get_order_by_client_id(_cid(third)).state is OrderState.REJECTED  # type: ignore[union-attr]


@pytest.mark.asyncio
async def test_kill_switch_in_store_cancels_open_orders_on_sync(rig: Rig) -> None:
    await rig.send(permit(rig.clock))
    rig.store.set_killswitch(True, "from the cli", rig.clock.now_ns())
    await rig.agent.sync()
    assert await rig.broker.get_open_orders() == []
    assert rig.store.list_orders(open_only=True) == []


@pytest.mark.asyncio
async def test_same_decision_delivered_twice_sends_one_order(rig: Rig) -> None:
    decision = permit(rig.clock)
    env = await rig.send(decision)
    await rig.agent.on_decision(env)  # a replay hands the same envelope again
    await rig.send(decision, key="redelivered-with-another-key")
    rig.bus.inject(env)
    await rig.bus.drain()
    assert len(await rig.broker.get_open_orders()) == 1
    assert len(rig.store.list_orders()) == 1
    assert rig.store.list_orders()[0].state is OrderState.ACKNOWLEDGED


@pytest.mark.asyncio
async def test_fills_are_booked_once_and_finish_the_order(rig: Rig) -> None:
    fills = _watch(rig, FILLS)
    await rig.send(permit(rig.clock, qty="5"))
    rig.clock.advance(MIN)
    rig.tick("101")
    await rig.agent.sync()
    await rig.agent.sync()  # a second sync books nothing new
    await rig.bus.drain()
    order = rig.store.list_orders()[0]
    assert order.state is OrderState.FILLED
    assert order.filled_qty == Decimal(5)
    trades = rig.store.list_trades()
    assert len(trades) == 1
    assert len(fills) == 1
    assert rig.store.get_positions()["ES"].quantity == Decimal(5)
    assert rig.store.get_cash() == Decimal(1_000_000) + trades[0].cash_delta


@pytest.mark.asyncio
async def test_the_agent_cancels_on_a_kill_switch_but_leaves_the_flag_to_its_projector(
    rig: Rig,
) -> None:
    await rig.send(permit(rig.clock))
    halt = KillSwitchActivated(reason="panic", triggered_by="ops", ts_event=rig.clock.now_ns())
    env = make_envelope(halt, topic=KILLSWITCH.name, sender="system:ops", ts_ns=halt.ts_event)
    await rig.agent.on_killswitch(env)  # the agent's handler alone, not the projector's
    assert not rig.store.killswitch_active()
    assert await rig.broker.get_open_orders() == []
    assert [o.state for o in rig.store.list_orders()] == [OrderState.CANCELED]


@pytest.mark.asyncio
async def test_a_humans_vote_short_of_its_quorum_leaves_open_orders_working(rig: Rig) -> None:
    await rig.send(permit(rig.clock))
    vote = KillSwitchActivated(
        reason="drill", triggered_by="human:jane", ts_event=rig.clock.now_ns()
    )
    env = make_envelope(vote, topic=KILLSWITCH.name, sender="human:jane", ts_ns=vote.ts_event)
    await rig.agent.on_killswitch(env)  # the projector left the flag off: no quorum yet
    assert [o.state for o in rig.store.list_orders()] != [OrderState.CANCELED]
    assert len(await rig.broker.get_open_orders()) == 1
    rig.store.set_killswitch(True, "human:jane: drill (2 of 2: jane, sam)", vote.ts_event)
    await rig.agent.on_killswitch(env)  # the quorum met: the flag is on
    assert [o.state for o in rig.store.list_orders()] == [OrderState.CANCELED]


@pytest.mark.asyncio
async def test_a_symbol_missing_from_the_instrument_master_never_reaches_the_broker(
    rig: Rig,
) -> None:
    rig.tick(symbol="QQQQ")  # a fresh quote, but no reference data
    reason = await _refused(rig, permit(rig.clock, symbol="QQQQ"))
    assert "unknown instrument QQQQ" in reason


# -- the price collar, checked again against the latest quote (mid 100 at the start) ------


@pytest.mark.asyncio
async def test_limit_outside_the_collar_of_the_latest_quote_is_not_sent(rig: Rig) -> None:
    decision = permit(rig.clock, limit="104")  # 4% off the mid the gate saw
    rig.tick("110")  # the market moved: 104 is now 5.45% below the mid
    reason = await _refused(rig, decision)
    assert reason.startswith("price collar:")
    assert "limit 104" in reason


@pytest.mark.asyncio
async def test_limit_far_from_an_unmoved_quote_is_not_sent(rig: Rig) -> None:
    reason = await _refused(rig, permit(rig.clock, limit="94.75", side=Side.SELL))
    assert reason.startswith("price collar:")


@pytest.mark.asyncio
async def test_limit_exactly_at_the_collar_is_sent(rig: Rig) -> None:
    decision = permit(rig.clock, limit="105")  # 5% of the mid 100: the edge is inside
    await rig.send(decision)
    assert await rig.broker.get_order_by_client_id(_cid(decision)) is not None
    assert rig.store.list_orders()[0].state is not OrderState.REJECTED


@pytest.mark.asyncio
async def test_market_order_whose_mid_moved_beyond_the_collar_is_not_sent(rig: Rig) -> None:
    decision = permit(rig.clock, reference_price="100")
    rig.tick("106")  # |100 - 106| / 106 = 5.7% since the gate valued the trade
    reason = await _refused(rig, decision)
    assert reason.startswith("price collar:")
    assert "market moved" in reason


@pytest.mark.asyncio
async def test_market_order_whose_mid_moved_inside_the_collar_is_sent(rig: Rig) -> None:
    decision = permit(rig.clock, reference_price="100")
    rig.tick("104")  # 3.8%
    await rig.send(decision)
    assert await rig.broker.get_order_by_client_id(_cid(decision)) is not None
    assert [o.state for o in rig.store.list_orders()] == [OrderState.ACKNOWLEDGED]


@pytest.mark.parametrize("valued", [None, "abc", "NaN", "0", "-100"])
@pytest.mark.asyncio
async def test_a_permit_without_a_usable_gate_valuation_is_not_sent(
    rig: Rig, valued: str | None
) -> None:
    reason = await _refused(rig, permit(rig.clock, reference_price=valued))
    assert reason.startswith("price collar: the decision carries no usable gate valuation")


def test_the_collar_in_ticks_widens_the_fraction(rig: Rig) -> None:
    es = exec_instruments()["ES"]  # tick 0.25
    quote = Quote(symbol="ES", ts_event=0, bid=Decimal("99.5"), ask=Decimal("100.5"))
    decision = permit(rig.clock, limit="106")  # 6% off: 24 ticks
    assert collar_refusal(decision, quote, COLLAR, es) is not None
    assert collar_refusal(decision, quote, Collar(Decimal("0.05"), Decimal(24)), es) is None
    assert collar_refusal(decision, quote, Collar(Decimal("0.05"), Decimal(23)), es) is not None


# -- a broker fatal error halts trading ----------------------------------------------------


@pytest.mark.asyncio
async def test_broker_fatal_error_publishes_a_kill_switch_and_stops_trading(rig: Rig) -> None:
    halts = _watch(rig, KILLSWITCH)
    rig.broker.inject_fault(ErrorCode.ERR_AUTH)
    cause = await rig.send(permit(rig.clock, 1))
    assert [o.state for o in rig.store.list_orders()] == [OrderState.FATAL_ERROR]
    (halt,) = halts
    assert isinstance(halt.payload, KillSwitchActivated)
    assert halt.sender == "order-executor:order-executor-01"
    assert ErrorCode.ERR_AUTH in halt.payload.reason
    assert halt.causation_id == cause.msg_id
    logged = [e.msg_id for e in map(decode_envelope, (r.body for r in rig.store.iter_events()))]
    assert halt.msg_id in logged
    assert rig.store.killswitch_active()
    second = permit(rig.clock, 2)
    await rig.send(second)
    assert rig.store.get_order_by_client_id(_cid(second)).reason == "kill switch active"  # type: ignore[union-attr]
