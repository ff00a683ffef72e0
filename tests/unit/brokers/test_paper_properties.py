"""Property tests: over random bars and random orders the books always balance exactly."""

from __future__ import annotations

import asyncio
import contextlib
from decimal import Decimal

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from paper_kit import SESSION, T0, config, d

from tradeswarm.brokers.errors import BrokerNonRetryable
from tradeswarm.brokers.paper import PaperBroker
from tradeswarm.brokers.port import OrderRequest
from tradeswarm.core.clock import NS_PER_SECOND, SimClock
from tradeswarm.model.enums import OrderType, Side, TimeInForce
from tradeswarm.model.market import Bar

SYMBOLS = ("ES", "NQ")
prices = st.decimals(min_value=4900, max_value=5100, places=2)
offsets = st.decimals(min_value=0, max_value=30, places=2)


@st.composite
def bar_steps(draw: st.DrawFn) -> Bar:
    """A valid bar; its ts_event is set from the clock when it is played."""
    o, c = draw(prices), draw(prices)
    return Bar(
        symbol=draw(st.sampled_from(SYMBOLS)),
        ts_event=0,
        open=o,
        high=max(o, c) + draw(offsets),
        low=min(o, c) - draw(offsets),
        close=c,
        volume=Decimal(draw(st.integers(min_value=0, max_value=3000))),
    )


@st.composite
def order_steps(draw: st.DrawFn) -> OrderRequest:
    kind = draw(st.sampled_from(list(OrderType)))
    price = draw(prices) if kind is not OrderType.MARKET else None
    return OrderRequest(
        client_order_id=f"c{draw(st.integers(min_value=0, max_value=40))}",
        internal_order_id="i",
        symbol=draw(st.sampled_from(SYMBOLS)),
        side=draw(st.sampled_from(list(Side))),
        quantity=Decimal(draw(st.integers(min_value=1, max_value=400))),
        order_type=kind,
        time_in_force=draw(st.sampled_from(list(TimeInForce))),
        limit_price=price if kind is OrderType.LIMIT else None,
        stop_price=price if kind is OrderType.STOP else None,
    )


steps = st.lists(st.one_of(bar_steps(), order_steps()), min_size=1, max_size=60)


async def _run(script: list[Bar | OrderRequest], allow_short: bool) -> None:
    clock = SimClock(T0)
    initial = d("2000000")
    broker = PaperBroker(clock, config(initial_cash=initial, allow_short=allow_short))
    broker.open_session(SESSION)
    for symbol in SYMBOLS:  # a first price, so market orders can be placed
        price = d("5000")
        broker.on_bar(
            Bar(
                symbol=symbol,
                ts_event=T0,
                open=price,
                high=price,
                low=price,
                close=price,
                volume=d(0),
            )
        )
    for step in script:
        clock.advance(NS_PER_SECOND)
        if isinstance(step, Bar):
            broker.on_bar(msgspec.structs.replace(step, ts_event=clock.now_ns()))
        else:
            with contextlib.suppress(BrokerNonRetryable):
                await broker.place_order(step)
        await _check_books(broker, initial)
    broker.close()


async def _check_books(broker: PaperBroker, initial: Decimal) -> None:
    fills = await broker.get_fills(0)
    by_order: dict[str, Decimal] = {}
    for f in fills:
        by_order[f.client_order_id] = by_order.get(f.client_order_id, Decimal(0)) + f.quantity
    for cid, qty in by_order.items():
        order = await broker.get_order_by_client_id(cid)
        assert order is not None
        assert qty == order.filled_qty <= order.quantity
    account = await broker.get_account()
    buys = sum((f.notional for f in fills if f.side is Side.BUY), Decimal(0))
    sells = sum((f.notional for f in fills if f.side is Side.SELL), Decimal(0))
    fees = sum((f.fee for f in fills), Decimal(0))
    assert account.cash == initial - buys + sells - fees
    marks = {s: broker.last_price(s) for s in SYMBOLS}
    value = Decimal(0)
    for p in await broker.get_positions():
        mark = marks[p.symbol]
        assert mark is not None
        value += p.quantity * mark
    assert account.cash + value == account.equity


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(script=steps, allow_short=st.booleans())
def test_books_balance_exactly_over_random_bars_and_orders(
    script: list[Bar | OrderRequest], allow_short: bool
) -> None:
    asyncio.run(_run(script, allow_short))
