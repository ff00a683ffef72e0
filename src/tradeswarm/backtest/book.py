"""The backtest's books: one account (cash in Decimal), positions per strategy and in all.

Each strategy's position is its own (the attribution of its trades and PnL); the
account's position in a symbol is their sum, what the gate and the equity see.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from tradeswarm.model.enums import Side
from tradeswarm.model.portfolio import Position

ZERO = Decimal(0)


class Books:
    def __init__(self, cash: Decimal, multipliers: Mapping[str, Decimal]) -> None:
        self.cash = cash
        self.fees = ZERO
        self.borrow = ZERO
        self.multipliers = dict(multipliers)
        self.positions: dict[str, Position] = {}
        self.by_strategy: dict[tuple[str, str], Position] = {}
        self.realized: dict[str, Decimal] = {}  # per strategy, net of fees

    def position(self, strategy: str, symbol: str) -> Decimal:
        held = self.by_strategy.get((strategy, symbol))
        return held.quantity if held else ZERO

    def book(
        self, strategy: str, symbol: str, side: Side, qty: Decimal, price: Decimal, fee: Decimal
    ) -> None:
        mult = self.multipliers.get(symbol, Decimal(1))
        self.cash -= side.sign * qty * price * mult + fee
        self.fees += fee
        total = self.positions.get(symbol) or Position(symbol=symbol)
        self.positions[symbol] = total.apply(side, qty, price)
        mine = self.by_strategy.get((strategy, symbol)) or Position(symbol=symbol)
        after = mine.apply(side, qty, price)
        self.by_strategy[(strategy, symbol)] = after
        gained = (after.realized_pnl - mine.realized_pnl) * mult - fee
        self.realized[strategy] = self.realized.get(strategy, ZERO) + gained

    def charge(self, amount: Decimal) -> None:
        self.cash -= amount
        self.borrow += amount

    def equity(self, marks: Mapping[str, Decimal]) -> Decimal:
        value = ZERO
        for symbol, p in self.positions.items():
            if p.quantity:
                mark = marks.get(symbol, p.avg_cost)
                value += p.quantity * mark * self.multipliers.get(symbol, Decimal(1))
        return self.cash + value
