"""The risk manager's own book of open orders: how many each agent has, and how much is at
stake, kept up to date from its own PERMITs and the execution agent's order updates.

A PERMIT counts as an open order the moment it is decided, before the execution agent has
turned it into one: a burst of intents decided in one delivery cannot each see the book
as it was before the burst. An order's updates then carry its remaining quantity until it
ends. Totals are kept per agent (the count) and per symbol (the remaining quantity), so a
decision reads them in time independent of how many orders are open. The book is seeded
from the store's open orders when the risk manager starts.

A burst of intents is decided against a `draft` of the book: the PERMITs the burst
assumes go into the draft, never into the book, and the draft's exposure moves one
symbol's term at a time (risk.exactsum) instead of summing every symbol per intent.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import NamedTuple

from tradeswarm.model.messages import OrderUpdated, RiskDecision
from tradeswarm.model.order import Order
from tradeswarm.risk.exactsum import ExactSum

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
        return _exposure(self._remaining, self._price, marks, multipliers)

    def draft(self, marks: Mapping[str, Decimal], multipliers: Mapping[str, Decimal]) -> OpenDraft:
        """A scratch copy for deciding a burst at these marks (see the module docstring)."""
        return OpenDraft(self, marks, multipliers)


def _term(
    symbol: str,
    qty: Decimal,
    price: Mapping[str, Decimal],
    marks: Mapping[str, Decimal],
    multipliers: Mapping[str, Decimal],
) -> Decimal:
    return abs(qty) * marks.get(symbol, price.get(symbol, ZERO)) * multipliers.get(symbol, ONE)


def _exposure(
    remaining: Mapping[str, Decimal],
    price: Mapping[str, Decimal],
    marks: Mapping[str, Decimal],
    multipliers: Mapping[str, Decimal],
) -> Decimal:
    return sum(
        (_term(s, qty, price, marks, multipliers) for s, qty in remaining.items() if qty),
        ZERO,
    )


class OpenDraft:
    """The book with a burst's assumed PERMITs on top; the book itself is untouched."""

    __slots__ = ("_count", "_marks", "_mults", "_open", "_price", "_remaining", "_sum", "_terms")

    def __init__(
        self, book: OpenBook, marks: Mapping[str, Decimal], multipliers: Mapping[str, Decimal]
    ) -> None:
        self._open = dict(book._open)
        self._count = dict(book._count)
        self._remaining = dict(book._remaining)
        self._price = dict(book._price)
        self._marks, self._mults = marks, multipliers
        self._terms = {
            s: _term(s, q, self._price, marks, multipliers) for s, q in self._remaining.items() if q
        }
        self._sum = ExactSum(self._terms.values())

    def count(self, agent: str) -> int:
        return self._count.get(agent, 0)

    def exposure(self) -> Decimal:
        """What `OpenBook.exposure` would give with the assumed PERMITs in the book."""
        found = self._sum.value()
        if found is None:
            return _exposure(self._remaining, self._price, self._marks, self._mults)
        return found

    def permit(self, key: uuid.UUID, agent: str, symbol: str, qty: Decimal, price: Decimal) -> None:
        """What `OpenBook.permitted` does for a PERMIT of agent's intent key."""
        old = self._open.pop(key, None)
        if old is not None:
            self._count[old.agent] -= 1
            self._move(old.symbol, self._remaining[old.symbol] - old.remaining)
        self._open[key] = _Open(agent, symbol, qty, price)
        self._count[agent] = self._count.get(agent, 0) + 1
        if price > 0:
            self._price[symbol] = price
        self._move(symbol, self._remaining.get(symbol, ZERO) + qty)

    def _move(self, symbol: str, remaining: Decimal) -> None:
        self._remaining[symbol] = remaining
        old = self._terms.pop(symbol, None)
        if old is not None:
            self._sum.remove(old)
        if remaining:
            new = self._terms[symbol] = _term(
                symbol, remaining, self._price, self._marks, self._mults
            )
            self._sum.add(new)
