"""Orders and their state table: one row per legal move, anything else raises."""

from __future__ import annotations

import uuid
from decimal import Decimal
from enum import StrEnum

import msgspec

from tradeswarm.core.errors import InvalidStateTransition, InvariantViolation
from tradeswarm.model.enums import OrderType, Side, TimeInForce


class OrderState(StrEnum):
    CREATED = "CREATED"
    SUBMITTED = "SUBMITTED"
    ACKNOWLEDGED = "ACKNOWLEDGED"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    REJECTED = "REJECTED"
    CANCELED = "CANCELED"
    EXPIRED = "EXPIRED"
    FATAL_ERROR = "FATAL_ERROR"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATES


class OrderTrigger(StrEnum):
    SUBMIT = "SUBMIT"
    ACK = "ACK"
    PARTIAL_FILL = "PARTIAL_FILL"
    FILL = "FILL"
    REJECT = "REJECT"
    CANCEL = "CANCEL"
    EXPIRE = "EXPIRE"
    FATAL = "FATAL"


S, T = OrderState, OrderTrigger

# (state, trigger) -> next state. A one-line reason per row.
STATE_TABLE: dict[tuple[OrderState, OrderTrigger], OrderState] = {
    (S.CREATED, T.SUBMIT): S.SUBMITTED,  # handed to the broker
    (S.CREATED, T.REJECT): S.REJECTED,  # a pre-trade check refused it before sending
    (S.CREATED, T.CANCEL): S.CANCELED,  # kill switch before it was sent
    (S.CREATED, T.FATAL): S.FATAL_ERROR,  # could not be sent at all
    (S.SUBMITTED, T.ACK): S.ACKNOWLEDGED,  # broker accepted it
    (S.SUBMITTED, T.REJECT): S.REJECTED,  # broker refused it
    (S.SUBMITTED, T.FATAL): S.FATAL_ERROR,  # retries exhausted, outcome unknown
    (S.SUBMITTED, T.CANCEL): S.CANCELED,  # canceled before the ack arrived
    (S.SUBMITTED, T.PARTIAL_FILL): S.PARTIALLY_FILLED,  # fill report overtook the ack
    (S.SUBMITTED, T.FILL): S.FILLED,  # fill report overtook the ack
    (S.ACKNOWLEDGED, T.PARTIAL_FILL): S.PARTIALLY_FILLED,  # some quantity traded
    (S.ACKNOWLEDGED, T.FILL): S.FILLED,  # all quantity traded
    (S.ACKNOWLEDGED, T.CANCEL): S.CANCELED,  # canceled while working
    (S.ACKNOWLEDGED, T.EXPIRE): S.EXPIRED,  # time in force ran out
    (S.PARTIALLY_FILLED, T.PARTIAL_FILL): S.PARTIALLY_FILLED,  # more quantity traded
    (S.PARTIALLY_FILLED, T.FILL): S.FILLED,  # the rest traded
    (S.PARTIALLY_FILLED, T.CANCEL): S.CANCELED,  # rest canceled (end of day, kill switch)
    (S.PARTIALLY_FILLED, T.EXPIRE): S.EXPIRED,  # rest expired
}

TERMINAL_STATES = frozenset({S.FILLED, S.REJECTED, S.CANCELED, S.EXPIRED, S.FATAL_ERROR})


def next_state(state: OrderState, trigger: OrderTrigger) -> OrderState:
    """Look the move up in the state table; raise InvalidStateTransition if absent."""
    try:
        return STATE_TABLE[(state, trigger)]
    except KeyError:
        raise InvalidStateTransition(state, trigger) from None


class Order(msgspec.Struct, frozen=True, kw_only=True):
    order_id: uuid.UUID
    client_order_id: str
    intent_id: uuid.UUID
    agent_id: str
    symbol: str
    side: Side
    quantity: Decimal
    order_type: OrderType
    time_in_force: TimeInForce
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    state: OrderState = OrderState.CREATED
    filled_qty: Decimal = Decimal(0)
    avg_fill_price: Decimal | None = None
    broker_order_id: str | None = None
    reason: str = ""
    created_ns: int
    updated_ns: int

    @property
    def remaining(self) -> Decimal:
        return self.quantity - self.filled_qty

    def transition(self, trigger: OrderTrigger, ts_ns: int, reason: str = "") -> Order:
        """Return this order moved by trigger; fills go through `apply_fill`."""
        if trigger in (OrderTrigger.FILL, OrderTrigger.PARTIAL_FILL):
            raise InvariantViolation("fills move an order through apply_fill, not transition")
        state = next_state(self.state, trigger)
        return msgspec.structs.replace(
            self, state=state, updated_ns=ts_ns, reason=reason or self.reason
        )

    def apply_fill(self, qty: Decimal, price: Decimal, ts_ns: int) -> Order:
        """Return this order with a fill of qty at price; never beyond its quantity."""
        if qty <= 0:
            raise InvariantViolation(f"fill quantity {qty} must be positive")
        filled = self.filled_qty + qty
        if filled > self.quantity:
            raise InvariantViolation(
                f"order {self.client_order_id}: fill of {qty} exceeds remaining {self.remaining}"
            )
        trigger = OrderTrigger.FILL if filled == self.quantity else OrderTrigger.PARTIAL_FILL
        state = next_state(self.state, trigger)
        prior = (self.avg_fill_price or Decimal(0)) * self.filled_qty
        avg = (prior + qty * price) / filled
        return msgspec.structs.replace(
            self, state=state, filled_qty=filled, avg_fill_price=avg, updated_ns=ts_ns
        )
