"""The execution agent's burst path against its one-at-a-time path.

A run of decisions delivered at once (`on_decisions`: one `place_orders` call, the
orders' updates published as bursts) must leave the books, the broker and the refusals
exactly as the same decisions handled one by one (`burst=False`), whatever the run
holds: denials, repeats of an intent, orders refused before the broker or by it, and a
fault of any kind at any call. Broker order ids are compared by client order id: a retry
after a burst takes the id the broker gives it then.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from exec_kit import MIN, Rig, build_rig, permit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tradeswarm.brokers.errors import ErrorCode
from tradeswarm.brokers.port import BrokerOrderStatus
from tradeswarm.bus.topics import EXECUTION_REJECTED, KILLSWITCH, ORDERS, RISK_DECISIONS
from tradeswarm.core.errors import InvariantViolation
from tradeswarm.crypto.burst import decode_burst_block
from tradeswarm.execution.agent import order_for
from tradeswarm.model.enums import Side, Verdict
from tradeswarm.model.envelope import Envelope
from tradeswarm.model.messages import RiskDecision
from tradeswarm.model.order import OrderState

KINDS = ("buy", "sell", "deny", "unlisted", "far_limit", "repeat")
FAULTS = (
    (ErrorCode.ERR_RATE_LIMIT, False),
    (ErrorCode.ERR_NETWORK, False),
    (ErrorCode.ERR_NETWORK, True),  # accepted, then the response is lost
    (ErrorCode.ERR_INSUFFICIENT_FUNDS, False),
    (ErrorCode.ERR_INVALID_TICKER, False),
    (ErrorCode.ERR_AUTH, False),  # fatal: halts trading
)


def _decision(rig: Rig, kind: str, n: int, qty: int, made: list[RiskDecision]) -> RiskDecision:
    if kind == "repeat" and made:
        return made[n % len(made)]
    if kind == "sell":
        return permit(rig.clock, n, qty=str(qty), side=Side.SELL)
    if kind == "deny":
        return permit(rig.clock, n, verdict=Verdict.DENY)
    if kind == "unlisted":  # in the master, not at the broker: the broker refuses it
        return permit(rig.clock, n, symbol="ZZ")
    if kind == "far_limit":  # outside the collar: refused before the broker
        return permit(rig.clock, n, qty=str(qty), limit="80")
    return permit(rig.clock, n, qty=str(qty))


def _cid(decision: RiskDecision) -> str:
    return order_for(decision, 0).client_order_id


def _watch(rig: Rig) -> dict[str, list[Envelope]]:
    seen: dict[str, list[Envelope]] = {}
    for topic in (ORDERS, EXECUTION_REJECTED, KILLSWITCH):
        got = seen.setdefault(topic.name, [])

        async def handler(env: Envelope, got: list[Envelope] = got) -> None:
            got.append(env)

        rig.bus.subscribe(topic, handler)
    return seen


async def _run(burst: bool, script: list[tuple[str, int]], fault: Any) -> dict[str, Any]:
    rig = build_rig(burst=burst)
    try:
        seen = _watch(rig)
        await rig.agent.sync()  # nothing to sync yet; the start both paths share
        if fault is not None:
            (code, after_accept), skip = fault
            rig.broker.inject_fault(code, after_accept=after_accept, skip=skip)
        made: list[RiskDecision] = []
        for n, (kind, qty) in enumerate(script):
            made.append(_decision(rig, kind, n, qty, made))
        for n, decision in enumerate(made):  # one run: delivered together
            rig.risk.publish(RISK_DECISIONS, decision, key=f"d{n}")
        await rig.bus.drain()
        rig.clock.advance(MIN)
        rig.tick("100")
        await rig.agent.sync()
        await rig.bus.drain()
        return _outcome(rig, seen)
    finally:
        rig.close()


def _outcome(rig: Rig, seen: dict[str, list[Envelope]]) -> dict[str, Any]:
    """What the run left, independent of the order of calls within it."""
    orders = {
        o.client_order_id: (o.state, o.filled_qty, o.avg_fill_price, o.reason)
        for o in rig.store.list_orders()
    }
    updates = sorted(  # per order, in the order made: the same stream either way
        (e.payload.order.client_order_id, str(e.payload.order.state), e.payload.note)  # type: ignore[union-attr]
        for e in seen[ORDERS.name]
    )
    rejected = sorted(
        (e.payload.client_order_id, e.payload.reason)  # type: ignore[union-attr]
        for e in seen[EXECUTION_REJECTED.name]
    )
    trades = sorted((t.client_order_id, t.quantity, t.price) for t in rig.store.list_trades())
    return {
        "orders": orders,
        "updates": updates,
        "rejected": rejected,
        "halts": len(seen[KILLSWITCH.name]),
        "killswitch": rig.store.killswitch_active(),
        "trades": trades,
        "positions": {s: (p.quantity, p.avg_cost) for s, p in rig.store.get_positions().items()},
        "cash": rig.store.get_cash(),
        "duplicates": rig.store.duplicate_client_order_ids(),
    }


scripts = st.lists(
    st.tuples(st.sampled_from(KINDS), st.integers(min_value=1, max_value=40)),
    min_size=3,
    max_size=10,
)
faults = st.sampled_from((None, *FAULTS)).flatmap(
    lambda f: st.just(None) if f is None else st.tuples(st.just(f), st.integers(0, 4))
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(script=scripts, fault=faults)
def test_a_run_of_decisions_in_one_burst_ends_as_one_at_a_time(
    script: list[tuple[str, int]], fault: Any
) -> None:
    import asyncio

    one = asyncio.run(_run(False, script, fault))
    burst = asyncio.run(_run(True, script, fault))
    assert burst == one


@pytest.mark.asyncio
async def test_a_burst_is_placed_in_one_broker_call_and_its_updates_published_as_one() -> None:
    rig = build_rig(burst=True, signed=True)
    try:
        calls: list[int] = []
        place_orders = rig.broker.place_orders

        async def counting(requests):  # type: ignore[no-untyped-def]
            calls.append(len(requests))
            return await place_orders(requests)

        rig.broker.place_orders = counting  # type: ignore[method-assign]
        seen = _watch(rig)
        for n in range(5):
            rig.risk.publish(RISK_DECISIONS, permit(rig.clock, n), key=f"d{n}")
        await rig.bus.drain()
        assert calls == [5]
        states = [str(e.payload.order.state) for e in seen[ORDERS.name]]  # type: ignore[union-attr]
        assert states == ["CREATED", "SUBMITTED", "ACKNOWLEDGED"] * 5
        blocks = [e.signature for e in seen[ORDERS.name]]
        roots = {decode_burst_block(b).root for b in blocks if b is not None}
        assert len(roots) == 1 and None not in blocks  # one burst under one root signature
        assert len(await rig.broker.get_open_orders()) == 5
    finally:
        rig.close()


@pytest.mark.asyncio
async def test_after_a_fatal_error_the_rest_of_the_burst_never_reaches_the_broker() -> None:
    rig = build_rig(burst=True)
    try:
        seen = _watch(rig)
        rig.broker.inject_fault(ErrorCode.ERR_AUTH, skip=1)
        made = [permit(rig.clock, n) for n in range(4)]
        for n, decision in enumerate(made):
            rig.risk.publish(RISK_DECISIONS, decision, key=f"d{n}")
        await rig.bus.drain()
        at_broker = [await rig.broker.get_order_by_client_id(_cid(d)) for d in made]
        first = at_broker[0]
        assert first is not None and first.status is BrokerOrderStatus.CANCELED  # the halt
        assert at_broker[1:] == [None, None, None]  # the fault's, and two never sent
        reasons = sorted(e.payload.reason for e in seen[EXECUTION_REJECTED.name])  # type: ignore[union-attr]
        assert reasons == ["ERR_AUTH: injected ERR_AUTH"] + ["kill switch active"] * 2
        assert rig.store.killswitch_active()
        assert len(seen[KILLSWITCH.name]) == 1
    finally:
        rig.close()


@pytest.mark.asyncio
async def test_a_burst_of_fills_books_each_once_and_moves_cash_as_one_by_one() -> None:
    rig = build_rig(burst=True)
    try:
        for n in range(6):
            rig.risk.publish(RISK_DECISIONS, permit(rig.clock, n, qty=str(n + 1)), key=f"d{n}")
        await rig.bus.drain()
        rig.clock.advance(MIN)
        rig.tick("101")
        await rig.agent.sync()
        await rig.agent.sync()  # nothing new: every fill is booked already
        trades = rig.store.list_trades()
        assert len(trades) == 6
        assert rig.store.get_positions()["ES"].quantity == Decimal(21)
        spent = sum((t.cash_delta for t in trades), Decimal(0))
        assert rig.store.get_cash() == Decimal(1_000_000) + spent
        assert rig.store.record_fills([(t, "x") for t in trades]) == [False] * 6
    finally:
        rig.close()


@pytest.mark.asyncio
async def test_a_broker_answering_a_burst_with_the_wrong_count_is_refused_by_name() -> None:
    rig = build_rig(burst=True)
    try:

        async def short(requests):  # type: ignore[no-untyped-def]
            return []

        rig.broker.place_orders = short  # type: ignore[method-assign]
        for n in range(3):
            rig.risk.publish(RISK_DECISIONS, permit(rig.clock, n), key=f"d{n}")
        with pytest.raises(InvariantViolation, match="answered 0 results to 3 requests"):
            await rig.bus.drain()
    finally:
        rig.close()


@pytest.mark.asyncio
async def test_a_broker_answering_with_something_else_is_refused_by_name() -> None:
    rig = build_rig(burst=True)
    try:

        async def odd(requests):  # type: ignore[no-untyped-def]
            return ["ok"] * len(requests)

        rig.broker.place_orders = odd  # type: ignore[method-assign]
        for n in range(2):
            rig.risk.publish(RISK_DECISIONS, permit(rig.clock, n), key=f"d{n}")
        with pytest.raises(InvariantViolation, match="answered 'ok' for ts-"):
            await rig.bus.drain()
    finally:
        rig.close()


@pytest.mark.asyncio
async def test_an_order_the_broker_took_after_a_fatal_answer_is_recorded_then_canceled() -> None:
    """An adapter that answers past a fatal error (the port says None there): the order it
    took is at the broker, so it is recorded as taken, and the kill switch cancels it."""
    rig = build_rig(burst=True)
    try:
        place_orders = rig.broker.place_orders

        async def past_fatal(requests):  # type: ignore[no-untyped-def]
            rig.broker.inject_fault(ErrorCode.ERR_AUTH)
            first = await place_orders(requests[:1])
            return first + await place_orders(requests[1:])

        rig.broker.place_orders = past_fatal  # type: ignore[method-assign]
        made = [permit(rig.clock, n) for n in range(2)]
        for n, decision in enumerate(made):
            rig.risk.publish(RISK_DECISIONS, decision, key=f"d{n}")
        await rig.bus.drain()
        states = {o.client_order_id: o.state for o in rig.store.list_orders()}
        assert states[_cid(made[0])] is OrderState.FATAL_ERROR
        assert states[_cid(made[1])] is OrderState.CANCELED  # taken, then the halt's cancel
        at_broker = await rig.broker.get_order_by_client_id(_cid(made[1]))
        assert at_broker is not None and at_broker.status is BrokerOrderStatus.CANCELED
    finally:
        rig.close()


@pytest.mark.asyncio
async def test_a_broker_leaving_a_request_unanswered_before_any_fatal_is_refused() -> None:
    rig = build_rig(burst=True)
    try:

        async def silent(requests):  # type: ignore[no-untyped-def]
            return [None] * len(requests)

        rig.broker.place_orders = silent  # type: ignore[method-assign]
        for n in range(2):
            rig.risk.publish(RISK_DECISIONS, permit(rig.clock, n), key=f"d{n}")
        with pytest.raises(InvariantViolation, match="answered None for ts-"):
            await rig.bus.drain()
    finally:
        rig.close()
