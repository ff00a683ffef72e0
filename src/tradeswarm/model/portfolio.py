"""Fills, positions and the account: the books, in Decimal."""

from __future__ import annotations

import uuid
from decimal import Decimal

import msgspec

from tradeswarm.model.enums import Side

ZERO = Decimal(0)


class Fill(msgspec.Struct, frozen=True, kw_only=True):
    fill_id: str
    order_id: uuid.UUID
    client_order_id: str
    symbol: str
    side: Side
    quantity: Decimal
    price: Decimal
    fee: Decimal
    ts_event: int

    @property
    def notional(self) -> Decimal:
        return self.quantity * self.price

    @property
    def cash_delta(self) -> Decimal:
        """Cash change: a buy pays notional plus fee, a sell receives notional less fee."""
        return -self.side.sign * self.notional - self.fee


class Position(msgspec.Struct, frozen=True, kw_only=True):
    """A signed position (positive long, negative short) with average cost."""

    symbol: str
    quantity: Decimal = ZERO
    avg_cost: Decimal = ZERO
    realized_pnl: Decimal = ZERO

    def apply(self, side: Side, qty: Decimal, price: Decimal) -> Position:
        """Return the position after trading qty at price on side."""
        signed = side.sign * qty
        new_qty = self.quantity + signed
        if self.quantity == 0 or (self.quantity > 0) == (signed > 0):
            total = abs(self.quantity) * self.avg_cost + qty * price
            avg = total / abs(new_qty)
            return msgspec.structs.replace(self, quantity=new_qty, avg_cost=avg)
        closing = min(qty, abs(self.quantity))
        pnl = closing * (price - self.avg_cost) * (1 if self.quantity > 0 else -1)
        realized = self.realized_pnl + pnl
        if new_qty == 0:
            return msgspec.structs.replace(
                self, quantity=ZERO, avg_cost=ZERO, realized_pnl=realized
            )
        if (new_qty > 0) == (self.quantity > 0):
            return msgspec.structs.replace(self, quantity=new_qty, realized_pnl=realized)
        return msgspec.structs.replace(
            self, quantity=new_qty, avg_cost=price, realized_pnl=realized
        )

    def market_value(self, mark: Decimal) -> Decimal:
        return self.quantity * mark


class Account(msgspec.Struct, frozen=True, kw_only=True):
    """Cash plus positions; equity is always cash plus marked positions."""

    cash: Decimal
    positions: dict[str, Position] = {}

    def apply_fill(self, fill: Fill) -> Account:
        pos = self.positions.get(fill.symbol, Position(symbol=fill.symbol))
        positions = dict(self.positions)
        positions[fill.symbol] = pos.apply(fill.side, fill.quantity, fill.price)
        return Account(cash=self.cash + fill.cash_delta, positions=positions)

    def equity(self, marks: dict[str, Decimal]) -> Decimal:
        value = sum(
            (p.market_value(marks.get(s, p.avg_cost)) for s, p in self.positions.items()), ZERO
        )
        return self.cash + value
