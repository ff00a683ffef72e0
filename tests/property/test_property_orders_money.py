"""The order state table refuses every illegal move; the books add up exactly."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradeswarm.core.errors import InvalidStateTransition, InvariantViolation
from tradeswarm.model.enums import OrderType, Side, TimeInForce
from tradeswarm.model.order import STATE_TABLE, Order, OrderState, OrderTrigger
from tradeswarm.model.portfolio import Account, Fill, Position
from tradeswarm.testkit import T0

FILL_TRIGGERS = (OrderTrigger.FILL, OrderTrigger.PARTIAL_FILL)


def _order(quantity: Decimal) -> Order:
    return Order(
        order_id=uuid.UUID(int=1),
        client_order_id="cid",
        intent_id=uuid.UUID(int=2),
        agent_id="a",
        symbol="ES",
        side=Side.BUY,
        quantity=quantity,
        order_type=OrderType.MARKET,
        time_in_force=TimeInForce.DAY,
        created_ns=T0,
        updated_ns=T0,
    )


@settings(max_examples=300, deadline=None)
@given(
    quantity=st.integers(1, 50).map(Decimal),
    steps=st.lists(st.tuples(st.sampled_from(list(OrderTrigger)), st.integers(1, 60)), max_size=25),
)
def test_random_trigger_sequences_follow_the_table_or_raise(
    quantity: Decimal, steps: list[tuple[OrderTrigger, int]]
) -> None:
    order = _order(quantity)
    for n, (trigger, size) in enumerate(steps, start=1):
        before = order
        if trigger in FILL_TRIGGERS:
            qty = Decimal(size) if trigger is OrderTrigger.PARTIAL_FILL else order.remaining
            if qty <= 0 or order.filled_qty + qty > order.quantity:
                with pytest.raises(InvariantViolation):
                    order.apply_fill(qty, Decimal(100), T0 + n)
                assert order == before
                continue
            effective = (
                OrderTrigger.FILL
                if order.filled_qty + qty == quantity
                else OrderTrigger.PARTIAL_FILL
            )
            edge = (order.state, effective)
            if edge in STATE_TABLE:
                order = order.apply_fill(qty, Decimal(100), T0 + n)
                assert order.state is STATE_TABLE[edge]
                assert order.filled_qty == before.filled_qty + qty
            else:
                with pytest.raises(InvalidStateTransition):
                    order.apply_fill(qty, Decimal(100), T0 + n)
                assert order == before
        elif (order.state, trigger) in STATE_TABLE:
            order = order.transition(trigger, T0 + n)
            assert order.state is STATE_TABLE[(before.state, trigger)]
            assert order.updated_ns == T0 + n
        else:
            with pytest.raises(InvalidStateTransition):
                order.transition(trigger, T0 + n)
            assert order == before
        assert 0 <= order.filled_qty <= order.quantity
        assert (order.state is OrderState.FILLED) == (order.filled_qty == order.quantity)
        if before.state.is_terminal:
            assert order == before


@settings(max_examples=200, deadline=None)
@given(
    quantity=st.integers(1, 1000).map(Decimal),
    fills=st.lists(st.integers(1, 400).map(Decimal), max_size=20),
)
def test_fills_never_exceed_the_order_quantity(quantity: Decimal, fills: list[Decimal]) -> None:
    order = _order(quantity).transition(OrderTrigger.SUBMIT, T0).transition(OrderTrigger.ACK, T0)
    for qty in fills:
        if order.state is OrderState.FILLED or order.filled_qty + qty > quantity:
            with pytest.raises(InvariantViolation):
                order.apply_fill(qty, Decimal(1), T0)
        else:
            order = order.apply_fill(qty, Decimal(1), T0)
        assert order.filled_qty <= quantity
    assert order.remaining == quantity - order.filled_qty


def price_st() -> st.SearchStrategy[Decimal]:
    return st.integers(1, 10_000_00).map(lambda n: Decimal(n).scaleb(-2))


fill_st = st.tuples(
    st.sampled_from(["ES", "NQ"]),
    st.sampled_from(list(Side)),
    st.integers(1, 50).map(Decimal),
    price_st(),
    st.integers(0, 500).map(lambda n: Decimal(n).scaleb(-2)),
)


def _fill(n: int, spec: tuple[str, Side, Decimal, Decimal, Decimal]) -> Fill:
    symbol, side, qty, price, fee = spec
    return Fill(
        fill_id=f"f{n}",
        order_id=uuid.UUID(int=n),
        client_order_id=f"c{n}",
        symbol=symbol,
        side=side,
        quantity=qty,
        price=price,
        fee=fee,
        ts_event=T0 + n,
    )


@settings(max_examples=300, deadline=None)
@given(
    cash=st.integers(0, 10**8).map(Decimal),
    fills=st.lists(fill_st, max_size=30),
    marks=st.fixed_dictionaries({"ES": price_st(), "NQ": price_st()}),
)
def test_account_cash_and_positions_add_up_exactly(
    cash: Decimal,
    fills: list[tuple[str, Side, Decimal, Decimal, Decimal]],
    marks: dict[str, Decimal],
) -> None:
    account = Account(cash=cash)
    flows = Decimal(0)
    held = {"ES": Decimal(0), "NQ": Decimal(0)}
    for n, spec in enumerate(fills):
        fill = _fill(n, spec)
        account = account.apply_fill(fill)
        flows += (
            -fill.quantity * fill.price if fill.side is Side.BUY else fill.quantity * fill.price
        ) - fill.fee
        held[fill.symbol] += fill.quantity if fill.side is Side.BUY else -fill.quantity
    assert account.cash == cash + flows
    for symbol, qty in held.items():
        got = account.positions.get(symbol)
        assert (got.quantity if got else Decimal(0)) == qty
    expected = account.cash + sum(
        (p.quantity * marks[s] for s, p in account.positions.items()), Decimal(0)
    )
    assert account.equity(marks) == expected


# Position keeps an average cost, a quotient rounded to the Decimal context (28 digits);
# with a non-terminating average (3.01 / 3) realized P&L is off by ~1e-27. Exact when the
# average terminates (one price per round trip), bounded by ROUNDING otherwise.
ROUNDING = Decimal("1e-18")


def _round_trip(
    lots: list[tuple[Decimal, Decimal]], exit_price: Decimal, short: bool
) -> tuple[Position, Decimal]:
    opening, closing = (Side.SELL, Side.BUY) if short else (Side.BUY, Side.SELL)
    pos = Position(symbol="ES")
    flow = Decimal(0)
    for qty, price in lots:
        pos = pos.apply(opening, qty, price)
        flow += -opening.sign * qty * price
    total = sum((q for q, _ in lots), Decimal(0))
    assert abs(pos.quantity) == total
    pos = pos.apply(closing, total, exit_price)
    flow += -closing.sign * total * exit_price
    assert pos.quantity == 0
    assert pos.avg_cost == 0
    return pos, flow


lots_st = st.lists(st.tuples(st.integers(1, 50).map(Decimal), price_st()), min_size=1, max_size=8)


@settings(max_examples=300, deadline=None)
@given(
    qtys=st.lists(st.integers(1, 50).map(Decimal), min_size=1, max_size=8),
    entry=price_st(),
    exit_price=price_st(),
    short=st.booleans(),
)
def test_round_trip_at_one_entry_price_realizes_the_cash_flow_exactly(
    qtys: list[Decimal], entry: Decimal, exit_price: Decimal, short: bool
) -> None:
    pos, flow = _round_trip([(q, entry) for q in qtys], exit_price, short)
    assert pos.realized_pnl == flow


@settings(max_examples=300, deadline=None)
@given(lots=lots_st, exit_price=price_st(), short=st.booleans())
def test_round_trip_realized_pnl_equals_cash_flow(
    lots: list[tuple[Decimal, Decimal]], exit_price: Decimal, short: bool
) -> None:
    pos, flow = _round_trip(lots, exit_price, short)
    assert abs(pos.realized_pnl - flow) <= ROUNDING


@pytest.mark.xfail(strict=True, reason="avg_cost is a rounded quotient: P&L not exact (reported)")
def test_round_trip_with_a_non_terminating_average_is_exact() -> None:
    lots = [
        (Decimal(1), Decimal("0.01")),
        (Decimal(1), Decimal("0.01")),
        (Decimal(1), Decimal("2.99")),
    ]
    pos, flow = _round_trip(lots, Decimal("0.01"), short=False)
    assert pos.realized_pnl == flow


@settings(max_examples=300, deadline=None)
@given(lots=lots_st, mark=price_st())
def test_realized_plus_unrealized_equals_cash_flow_plus_value(
    lots: list[tuple[Decimal, Decimal]], mark: Decimal
) -> None:
    """Open a long in lots, sell half at the mark: realized + unrealized == Σ flow + value."""
    pos = Position(symbol="ES")
    flow = Decimal(0)
    for qty, price in lots:
        pos = pos.apply(Side.BUY, qty, price)
        flow -= qty * price
    half = pos.quantity // 2
    if half:
        pos = pos.apply(Side.SELL, half, mark)
        flow += half * mark
    unrealized = pos.quantity * (mark - pos.avg_cost)
    assert abs(pos.realized_pnl + unrealized - (flow + pos.quantity * mark)) <= ROUNDING
