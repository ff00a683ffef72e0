"""A burst of intents measured at once: the facts they share read once, their contexts
built with the book's sums and the VaR/ES pass computed per burst and per symbol.

`Measurer.context` builds one intent's context from the store, the market view and the
books; a burst reads each of those once (the cash, positions and equity; each symbol's
quote, session, volatility and returns; each agent's compliance status), computes every
intent's VaR/ES impact in one numpy pass per symbol (risk.tails) and the book's gross
exposure with the traded symbol's position replaced by swapping one term of a kept sum
(risk.exactsum), then builds each context with `build_context` itself. What depends on
the intents decided before in the same burst (the agent's traffic, duplicates, open
orders, the open orders' value) is left for risk.speculate to fill in: a `Base` holds
the context with those fields at their before-the-burst values.

Anything a row cannot be measured with is its DENY reason, worded as the one-at-a-time
path words it (an invalid intent, an unknown instrument, no usable quote, a context
error).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import NamedTuple

from tradeswarm.core.errors import InvalidInput
from tradeswarm.model.market import Instrument, Quote
from tradeswarm.model.messages import TradeIntent
from tradeswarm.model.portfolio import Position
from tradeswarm.risk.context import (
    ONE,
    ZERO,
    BookFacts,
    DeskFacts,
    MarketFacts,
    RiskContext,
    Shared,
    build_context,
    equity_of,
    gross_exposure,
)
from tradeswarm.risk.exactsum import ExactSum
from tradeswarm.risk.measure import Measurer, Unmeasurable, quote_problem
from tradeswarm.risk.tails import TailRisk, tail_risks


class Base(NamedTuple):
    """A row's context before the burst's own effects, and its positions' exposure
    (gross_exposure_after is that plus the open orders' value)."""

    ctx: RiskContext
    positions_exposure: Decimal


class _Symbol(NamedTuple):
    instrument: Instrument
    quote: Quote
    market: MarketFacts
    current: Decimal  # the position held
    mark: Decimal  # the mark the book values the symbol at (the quote's mid without one)


def deny_reason(err: Exception) -> str:
    """The DENY reason the one-at-a-time path gives for a context it could not build."""
    if isinstance(err, InvalidInput):
        return f"intent_invalid: {err}"
    if isinstance(err, Unmeasurable):
        return str(err)
    return f"context_error: {err}"


class BurstFacts:
    """What every intent of one burst is measured against, read once at `now`."""

    def __init__(self, measure: Measurer, now_ns: int) -> None:
        self.measure = measure
        self.now = now_ns
        book = measure.book(principal=None)
        self.book = book
        self.marks = measure.market.marks()
        self.multipliers = measure.multipliers
        self.equity = equity_of(book.cash, book.positions, self.marks, self.multipliers)
        self._terms = {
            s: _position_term(s, p, self.marks, self.multipliers) for s, p in book.positions.items()
        }
        self._sum = ExactSum(self._terms.values())
        self._symbols: dict[str, _Symbol | Exception] = {}
        self._desks: dict[tuple[str, str], DeskFacts] = {}

    def symbol(self, symbol: str) -> _Symbol:
        """The symbol's instrument, quote and market facts; Unmeasurable as the
        one-at-a-time path raises it."""
        found = self._symbols.get(symbol)
        if found is None:
            try:
                found = self._read_symbol(symbol)
            except (Unmeasurable, ValueError, ArithmeticError) as err:
                found = err
            self._symbols[symbol] = found
        if isinstance(found, Exception):
            raise found
        return found

    def _read_symbol(self, symbol: str) -> _Symbol:
        instrument = self.measure.instrument(symbol)
        quote = self.measure.market.quote(symbol)
        problem = quote_problem(symbol, quote)
        if problem is not None or quote is None:
            raise Unmeasurable(problem)
        market = self.measure.market_facts(instrument, quote, self.now, self.marks)
        held = self.book.positions.get(symbol)
        mark = self.marks.get(symbol, quote.mid)
        return _Symbol(instrument, quote, market, held.quantity if held else ZERO, mark)

    def desk(self, principal: str, symbol: str) -> DeskFacts:
        """The desk's facts for principal trading symbol, its traffic left at one."""
        key = (principal, symbol)
        found = self._desks.get(key)
        if found is None:
            found = self._desks[key] = self.measure.desk_facts(principal, symbol, self.now)
        return found

    def positions_exposure(self, symbol: str, post: Decimal, mark: Decimal) -> Decimal:
        """`gross_exposure` of the book with (symbol, post, mark) standing in."""
        new = abs(post * mark * self.multipliers.get(symbol, ONE))
        found = self._sum.swapped(self._terms.get(symbol), new)
        if found is None:
            positions = self.book.positions
            return gross_exposure(positions, self.marks, self.multipliers, (symbol, post, mark))
        return found


def _position_term(
    symbol: str, p: Position, marks: Mapping[str, Decimal], mults: Mapping[str, Decimal]
) -> Decimal:
    return abs(p.quantity * marks.get(symbol, p.avg_cost) * mults.get(symbol, ONE))


def _trade_value(intent: TradeIntent, s: _Symbol) -> float:
    post = s.current + intent.side.sign * intent.quantity
    return float((post - s.current) * s.mark * s.instrument.multiplier)


def _tails(
    facts: BurstFacts, rows: Sequence[tuple[int, TradeIntent]]
) -> dict[int, TailRisk | ValueError]:
    """Every measurable row's VaR/ES impact, one pass per symbol."""
    groups: dict[str, list[tuple[int, TradeIntent]]] = {}
    for k, intent in rows:
        groups.setdefault(intent.symbol, []).append((k, intent))
    out: dict[int, TailRisk | ValueError] = {}
    for symbol, members in groups.items():
        s = facts.symbol(symbol)
        held = float(s.current * s.mark * s.instrument.multiplier)
        trades = [_trade_value(intent, s) for _, intent in members]
        found = tail_risks(s.market.returns, held, trades, facts.equity)
        out.update((k, t) for (k, _), t in zip(members, found, strict=True))
    return out


def _measurable(
    facts: BurstFacts, rows: Sequence[tuple[int, TradeIntent]]
) -> tuple[list[tuple[int, TradeIntent]], dict[int, str]]:
    ok, refused = [], {}
    for k, intent in rows:
        try:
            intent.validate()
            facts.symbol(intent.symbol)
        except (InvalidInput, Unmeasurable, ValueError, ArithmeticError) as err:
            refused[k] = deny_reason(err)
        else:
            ok.append((k, intent))
    return ok, refused


def base_contexts(
    facts: BurstFacts, rows: Sequence[tuple[int, TradeIntent, str]]
) -> dict[int, Base | str]:
    """Each row's Base (keyed by the row's index), or the reason it is denied without one.
    rows: (index, intent, principal)."""
    principals = {k: p for k, _, p in rows}
    ok, out = _measurable(facts, [(k, i) for k, i, _ in rows])
    tails = _tails(facts, ok)
    result: dict[int, Base | str] = dict(out)
    for k, intent in ok:
        try:
            result[k] = _base(facts, intent, principals[k], tails[k])
        except (InvalidInput, Unmeasurable, ValueError, ArithmeticError) as err:
            result[k] = deny_reason(err)
    return result


def _base(
    facts: BurstFacts, intent: TradeIntent, principal: str, tail: TailRisk | ValueError
) -> Base:
    s = facts.symbol(intent.symbol)
    post = s.current + intent.side.sign * intent.quantity
    positions = facts.positions_exposure(intent.symbol, post, s.mark)
    shared = Shared(facts.equity, tail, positions)
    desk = facts.desk(principal, intent.symbol)
    book: BookFacts = facts.book
    ctx = build_context(intent, s.instrument, book, s.market, desk, shared)
    return Base(ctx, positions)
