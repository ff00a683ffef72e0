"""The risk manager's own book of open orders: how many each agent has, and how much is at
stake, kept up to date from its own PERMITs and the execution agent's order updates.

A PERMIT counts as an open order the moment it is decided, before the execution agent has
turned it into one: a burst of intents decided in one delivery cannot each see the book
as it was before the burst. An order's updates then carry its remaining quantity until it
ends. Totals are kept per agent (the count) and per symbol (the remaining quantity), so a
decision reads them in time independent of how many orders are open. The book is seeded
from the store's open orders when the risk manager starts.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import NamedTuple

from tradeswarm.model.messages import OrderUpdated, RiskDecision
from tradeswarm.model.order import Order

ZERO = Decimal(0)
ONE = Decimal(1)


class _Open(NamedTuple):
    agent: str
    symbol: str
    remaining: Decimal
    price: Decimal  # the value to use for the symbol when no mark is known


class OpenBook:
    """Open orders by intent id, with per-agent counts and per-symbol remaining totals."""

    def __init__(self, orders: Iterable[Order] = ()) -> None:
        self._open: dict[uuid.UUID, _Open] = {}
        self._count: dict[str, int] = {}
        self._remaining: dict[str, Decimal] = {}
        self._price: dict[str, Decimal] = {}
        for order in orders:
            if not order.state.is_terminal:
                price = order.limit_price or order.stop_price or ZERO
                self._put(
                    order.intent_id, _Open(order.agent_id, order.symbol, order.remaining, price)
                )

    def _drop(self, key: uuid.UUID) -> None:
        old = self._open.pop(key, None)
        if old is not None:
            self._count[old.agent] -= 1
            self._remaining[old.symbol] -= old.remaining

    def _put(self, key: uuid.UUID, entry: _Open) -> None:
        self._drop(key)
        self._open[key] = entry
        self._count[entry.agent] = self._count.get(entry.agent, 0) + 1
        self._remaining[entry.symbol] = self._remaining.get(entry.symbol, ZERO) + entry.remaining
        if entry.price > 0:
            self._price[entry.symbol] = entry.price

    def permitted(self, decision: RiskDecision) -> None:
        """A PERMIT: its trade is open from now on (until its order says otherwise)."""
        i = decision.intent
        price = Decimal(decision.metrics.get("valuation_price", "0"))
        self._put(i.intent_id, _Open(decision.principal, i.symbol, i.quantity, price))

    def updated(self, update: OrderUpdated) -> None:
        """An order moved: keep its remaining quantity, or drop it when it ended."""
        order = update.order
        if order.state.is_terminal:
            self._drop(order.intent_id)
            return
        known = self._open.get(order.intent_id)
        agent = known.agent if known is not None else order.agent_id
        price = known.price if known is not None else order.limit_price or ZERO
        self._put(order.intent_id, _Open(agent, order.symbol, order.remaining, price))

    def count(self, agent: str) -> int:
        """How many open orders (PERMITs not yet ended) agent has."""
        return self._count.get(agent, 0)

    def exposure(self, marks: Mapping[str, Decimal], multipliers: Mapping[str, Decimal]) -> Decimal:
        """Sum over symbols of |remaining quantity| x mark x multiplier."""
        return sum(
            (
                abs(qty) * marks.get(s, self._price.get(s, ZERO)) * multipliers.get(s, ONE)
                for s, qty in self._remaining.items()
                if qty
            ),
            ZERO,
        )
