"""Pure matching rules of the paper broker: trigger, fill price, fill size, fee.

Nothing here touches storage or the clock; every function maps values to values,
all in Decimal.
"""

from __future__ import annotations

import uuid
from decimal import ROUND_FLOOR, Decimal

import msgspec

from tradeswarm.brokers.port import BrokerOrder, BrokerOrderStatus
from tradeswarm.model.enums import OrderType, Side, TimeInForce
from tradeswarm.model.market import Bar
from tradeswarm.model.money import round_money, round_price

BPS = Decimal(10_000)
ZERO = Decimal(0)
OPEN_STATUSES = frozenset({BrokerOrderStatus.ACCEPTED, BrokerOrderStatus.PARTIALLY_FILLED})


class RestingOrder(msgspec.Struct, frozen=True, kw_only=True):
    """The broker's full record of one order (more than the port's BrokerOrder)."""

    broker_order_id: str
    seq: int
    client_order_id: str
    internal_order_id: str
    symbol: str
    side: Side
    quantity: Decimal
    order_type: OrderType
    time_in_force: TimeInForce
    limit_price: Decimal | None
    stop_price: Decimal | None
    extended_hours: bool
    status: BrokerOrderStatus
    filled_qty: Decimal
    avg_fill_price: Decimal | None
    fill_count: int
    triggered: bool
    submitted_ns: int
    updated_ns: int
    reason: str = ""

    @property
    def remaining(self) -> Decimal:
        return self.quantity - self.filled_qty

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def order_uuid(self) -> uuid.UUID:
        """The caller's internal order id as a UUID (derived if it is not one)."""
        try:
            return uuid.UUID(self.internal_order_id)
        except ValueError:
            return uuid.uuid5(uuid.NAMESPACE_OID, self.internal_order_id)

    def to_port(self) -> BrokerOrder:
        return BrokerOrder(
            broker_order_id=self.broker_order_id,
            client_order_id=self.client_order_id,
            symbol=self.symbol,
            side=self.side,
            quantity=self.quantity,
            order_type=self.order_type,
            time_in_force=self.time_in_force,
            limit_price=self.limit_price,
            stop_price=self.stop_price,
            status=self.status,
            filled_qty=self.filled_qty,
            avg_fill_price=self.avg_fill_price,
            submitted_ns=self.submitted_ns,
            updated_ns=self.updated_ns,
            reason=self.reason,
        )


def slipped(price: Decimal, side: Side, slippage_bps: Decimal) -> Decimal:
    """A buy pays up, a sell receives less; rounded to the price tick."""
    return round_price(price * (1 + side.sign * slippage_bps / BPS))


def is_triggered(order: RestingOrder, bar: Bar) -> bool:
    """Whether a STOP order's stop is touched by bar (or was touched before)."""
    if order.order_type is not OrderType.STOP or order.triggered:
        return order.triggered
    assert order.stop_price is not None
    if order.side is Side.BUY:
        return bar.high >= order.stop_price
    return bar.low <= order.stop_price


def fill_price(order: RestingOrder, bar: Bar, slippage_bps: Decimal) -> Decimal | None:
    """The price order trades at in bar, or None if it does not trade in bar."""
    buy = order.side is Side.BUY
    if order.order_type is OrderType.MARKET or order.triggered:
        return slipped(bar.open, order.side, slippage_bps)
    if order.order_type is OrderType.LIMIT:
        limit = order.limit_price
        assert limit is not None
        if buy:
            return round_price(min(limit, bar.open)) if bar.low <= limit else None
        return round_price(max(limit, bar.open)) if bar.high >= limit else None
    if not is_triggered(order, bar):
        return None
    stop = order.stop_price
    assert stop is not None
    base = max(stop, bar.open) if buy else min(stop, bar.open)
    return slipped(base, order.side, slippage_bps)


def fill_quantity(remaining: Decimal, volume: Decimal, participation: Decimal) -> Decimal:
    """min(remaining, floor(participation x volume)); zero means no fill this bar."""
    cap = (participation * volume).to_integral_value(rounding=ROUND_FLOOR)
    return max(ZERO, min(remaining, cap))


def fee_for(notional: Decimal, fee_bps: Decimal, fee_min: Decimal) -> Decimal:
    """max(fee_min, notional x fee_bps / 10000), rounded to cents (half-even)."""
    return round_money(max(fee_min, abs(notional) * fee_bps / BPS))


def estimated_cost(
    qty: Decimal, price: Decimal, slippage_bps: Decimal, fee_bps: Decimal, fee_min: Decimal
) -> Decimal:
    """What a buy of qty near price may cost: notional with slippage, plus the fee."""
    notional = qty * price * (1 + slippage_bps / BPS)
    return notional + fee_for(notional, fee_bps, fee_min)


def match(
    order: RestingOrder, bar: Bar, participation: Decimal, slippage_bps: Decimal
) -> tuple[Decimal, Decimal] | None:
    """(qty, price) order fills in bar, or None. Only orders sent before the bar close trade."""
    if not order.is_open or order.symbol != bar.symbol or order.submitted_ns >= bar.ts_event:
        return None
    price = fill_price(order, bar, slippage_bps)
    if price is None:
        return None
    qty = fill_quantity(order.remaining, bar.volume, participation)
    return (qty, price) if qty > 0 else None
