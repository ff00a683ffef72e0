from __future__ import annotations

import itertools
from decimal import Decimal

import msgspec
import pytest
from model_kit import T0, make_model_order

from tradeswarm.core.errors import InvalidStateTransition, InvariantViolation
from tradeswarm.model.order import STATE_TABLE, OrderState, OrderTrigger, next_state

ILLEGAL = [
    (s, t) for s, t in itertools.product(OrderState, OrderTrigger) if (s, t) not in STATE_TABLE
]


@pytest.mark.parametrize(("state", "trigger"), ILLEGAL, ids=str)
def test_every_pair_missing_from_the_table_raises(state: OrderState, trigger: OrderTrigger) -> None:
    with pytest.raises(InvalidStateTransition) as info:
        next_state(state, trigger)
    assert info.value.state is state
    assert info.value.trigger is trigger


@pytest.mark.parametrize(("edge", "target"), list(STATE_TABLE.items()), ids=str)
def test_every_pair_in_the_table_moves_to_its_target(
    edge: tuple[OrderState, OrderTrigger], target: OrderState
) -> None:
    assert next_state(*edge) is target


def test_terminal_states_have_no_outgoing_edges() -> None:
    for state, trigger in STATE_TABLE:
        assert not state.is_terminal, (state, trigger)


def test_transition_refuses_fill_triggers() -> None:
    order = make_model_order()
    with pytest.raises(InvariantViolation):
        order.transition(OrderTrigger.FILL, T0)
    with pytest.raises(InvariantViolation):
        order.transition(OrderTrigger.PARTIAL_FILL, T0)


def test_illegal_transition_leaves_the_order_unchanged() -> None:
    order = make_model_order()
    with pytest.raises(InvalidStateTransition):
        order.transition(OrderTrigger.ACK, T0 + 1)
    assert order.state is OrderState.CREATED
    assert order.updated_ns == T0


def _acked(quantity: str = "10"):
    order = make_model_order(quantity).transition(OrderTrigger.SUBMIT, T0)
    return order.transition(OrderTrigger.ACK, T0)


def test_apply_fill_partial_then_full_tracks_average_price() -> None:
    order = _acked().apply_fill(Decimal(4), Decimal(100), T0 + 1)
    assert order.state is OrderState.PARTIALLY_FILLED
    order = order.apply_fill(Decimal(6), Decimal(110), T0 + 2)
    assert order.state is OrderState.FILLED
    assert order.filled_qty == Decimal(10)
    assert order.avg_fill_price == Decimal(106)
    assert order.remaining == 0


def test_apply_fill_beyond_quantity_raises_and_keeps_fills() -> None:
    order = _acked().apply_fill(Decimal(7), Decimal(100), T0 + 1)
    with pytest.raises(InvariantViolation, match="exceeds remaining 3"):
        order.apply_fill(Decimal("3.0001"), Decimal(100), T0 + 2)
    assert order.filled_qty == Decimal(7)


def test_apply_fill_larger_than_whole_order_raises() -> None:
    with pytest.raises(InvariantViolation):
        _acked().apply_fill(Decimal(11), Decimal(100), T0 + 1)


@pytest.mark.parametrize("qty", ["0", "-1"])
def test_apply_fill_refuses_non_positive_quantity(qty: str) -> None:
    with pytest.raises(InvariantViolation):
        _acked().apply_fill(Decimal(qty), Decimal(100), T0 + 1)


def test_apply_fill_on_filled_order_raises() -> None:
    order = _acked().apply_fill(Decimal(10), Decimal(100), T0 + 1)
    with pytest.raises(InvariantViolation):
        order.apply_fill(Decimal(1), Decimal(100), T0 + 2)


def test_apply_fill_on_created_order_is_an_illegal_transition() -> None:
    with pytest.raises(InvalidStateTransition):
        make_model_order().apply_fill(Decimal(1), Decimal(100), T0)


def test_order_is_immutable() -> None:
    order = make_model_order()
    with pytest.raises(AttributeError):
        order.state = OrderState.FILLED  # type: ignore[misc]
    assert msgspec.structs.replace(order, reason="x").state is OrderState.CREATED
