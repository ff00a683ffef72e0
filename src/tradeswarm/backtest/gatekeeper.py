"""The backtest's risk gate: the swarm's Cedar policies on what the engine measured itself.

A proposal becomes a `TradeIntent` whose principal is the strategy's own name; its
`RiskContext` is built by `risk.context.build_context` from the engine's facts only: the
instrument master, a quote made from the bar's close (± half of ``quote_spread_bps``),
the books, the strategy's open orders and traffic in sim time, volatility annualised
from the instrument's calendar and the bar size. A REVIEW is answered by the configured
oversight policy (approve: decided again with a human approval in the context, so a
hard forbid still denies; deny: a DENY).
"""

from __future__ import annotations

import bisect
import math
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import NamedTuple

import msgspec
import numpy as np

from tradeswarm.backtest.book import Books
from tradeswarm.backtest.config import OversightConfig, OversightPolicy
from tradeswarm.instruments import InstrumentMaster, calendar_for
from tradeswarm.model.enums import MarketStatus, Verdict
from tradeswarm.model.market import Quote
from tradeswarm.model.messages import HumanApproval, TradeIntent
from tradeswarm.risk.context import BookFacts, DeskFacts, MarketFacts, build_context
from tradeswarm.risk.gate import GateVerdict, PolicyGate
from tradeswarm.risk.limits import RiskLimits
from tradeswarm.risk.measure import quote_problem
from tradeswarm.strategy.market import AsOfMarket

NS = 1_000_000_000
BPS = Decimal(10_000)


_GATES: dict[bytes, PolicyGate] = {}


def shared_gate(limits: RiskLimits) -> PolicyGate:
    """One compiled gate per set of limits in a process: a sweep's runs share it (its
    state is caches of what the policies and limits determine; the traffic, books and
    open orders each run measures are the Gatekeeper's own)."""
    key = msgspec.json.encode(limits)
    gate = _GATES.get(key)
    if gate is None:
        if len(_GATES) >= 16:
            _GATES.clear()
        gate = _GATES[key] = PolicyGate.from_limits(limits)
    return gate


class Decision(NamedTuple):
    """The gate's answer: verdict (final), first (the first answer: a REVIEW when
    oversight answered), oversight ("" / approved / denied), the context's metrics, and
    the approval the final decision was made with."""

    verdict: GateVerdict
    first: GateVerdict
    oversight: str
    metrics: dict[str, str]
    approval: HumanApproval | None = None


class OpenOrder:
    __slots__ = ("intent", "remaining", "strategy")

    def __init__(self, strategy: str, intent: TradeIntent) -> None:
        self.strategy = strategy
        self.intent = intent
        self.remaining = intent.quantity


class Gatekeeper:
    def __init__(
        self,
        limits: RiskLimits,
        instruments: InstrumentMaster,
        oversight: OversightConfig,
        spread_bps: Decimal,
        periods_per_year: Mapping[str, float],
    ) -> None:
        self.limits = limits
        self.gate = shared_gate(limits)
        self.instruments = instruments
        self.oversight = oversight
        self.spread_bps = spread_bps
        self.periods = dict(periods_per_year)
        self.multipliers = {s: i.multiplier for s, i in instruments.items()}
        self._traffic: dict[str, list[int]] = {}
        self.window = max(30, limits.min_history_bars)

    def quote(self, symbol: str, close: float, ts: int) -> Quote:
        mid = Decimal(repr(close))
        half = mid * self.spread_bps / BPS / 2
        return Quote(symbol=symbol, ts_event=ts, bid=mid - half, ask=mid + half)

    def _market(self, market: AsOfMarket, symbol: str, marks: dict[str, Decimal]) -> MarketFacts:
        closes = market.history(symbol, "close", self.window + 1)
        returns = closes[1:] / closes[:-1] - 1.0 if len(closes) > 1 else np.empty(0)
        logs = np.log(closes[1:] / closes[:-1]) if len(closes) > 1 else np.empty(0)
        vol = (
            float(np.std(logs, ddof=1)) * math.sqrt(self.periods[symbol]) if len(logs) > 2 else 0.0
        )
        bar = market.bar(symbol)
        assert bar is not None
        return MarketFacts(
            quote=self.quote(symbol, bar.close, bar.ts),
            marks=marks,
            multipliers=self.multipliers,
            status=self._status(symbol, bar.ts),
            volatility=vol,
            history_bars=len(closes),
            returns=tuple(returns.tolist()),
        )

    def _status(self, symbol: str, ts: int) -> MarketStatus:
        """OPEN when the bar's day is a session of the instrument's calendar (a daily bar)
        or its close minute lies in one (an intraday bar)."""
        calendar = calendar_for(self.instruments[symbol].calendar)
        day = ts - ts % (86_400 * NS)
        open_ = calendar.is_session_day(day) if ts == day else calendar.is_open(ts - 1)
        return MarketStatus.OPEN if open_ else MarketStatus.CLOSED

    def _traffic_counts(self, principal: str, now: int) -> tuple[int, int]:
        times = self._traffic.setdefault(principal, [])
        times.append(now)
        second = len(times) - bisect.bisect_right(times, now - NS)
        minute = len(times) - bisect.bisect_right(times, now - 60 * NS)
        if len(times) > 4096:
            del times[: len(times) - 2048]
        return second, minute

    def decide(
        self,
        intent: TradeIntent,
        market: AsOfMarket,
        books: Books,
        open_orders: list[OpenOrder],
        equity_at_open: Decimal,
    ) -> Decision:
        """The gate's decision on intent, from the engine's own facts (every intent counts
        in its principal's traffic, refused ones too, as in the swarm)."""
        symbol = intent.symbol
        traffic = self._traffic_counts(intent.agent_id, intent.ts_event)
        instrument = self.instruments.get(symbol)
        if instrument is None:
            why = f"instrument: unknown instrument {symbol!r} ({self.instruments.source})"
            return _plain(GateVerdict(Verdict.DENY, [why]))
        marks = {s: Decimal(repr(c)) for s in books.positions if (c := market.last_close(s))}
        facts = self._market(market, symbol, marks)
        problem = quote_problem(symbol, facts.quote)
        if problem is not None:
            return _plain(GateVerdict(Verdict.DENY, [problem]))
        book, desk = self._books(intent, market, books, open_orders, equity_at_open, traffic)
        ctx = build_context(intent, instrument, book, facts, desk)
        verdict = self.gate.decide(intent, ctx)
        if verdict.verdict is not Verdict.REVIEW:
            return Decision(verdict, verdict, "", ctx.metrics())
        approval = self._answer(intent)
        if not approval.approved:
            denied = GateVerdict(Verdict.DENY, ["oversight: denied by the backtest's policy"])
            return Decision(denied, verdict, "denied", ctx.metrics(), approval)
        desk = msgspec.structs.replace(desk, approval=approval)
        again = self.gate.decide(intent, build_context(intent, instrument, book, facts, desk))
        return Decision(again, verdict, "approved", ctx.metrics(), approval)

    def _books(
        self,
        intent: TradeIntent,
        market: AsOfMarket,
        books: Books,
        open_orders: list[OpenOrder],
        equity_at_open: Decimal,
        traffic: tuple[int, int],
    ) -> tuple[BookFacts, DeskFacts]:
        principal, now = intent.agent_id, intent.ts_event
        mine = [o for o in open_orders if o.strategy == principal]
        book = BookFacts(
            cash=books.cash,
            positions=dict(books.positions),
            equity_at_open=equity_at_open,
            open_orders=len(mine),
            open_order_exposure=_exposure(open_orders, market, self.multipliers),
        )
        desk = DeskFacts(
            principal=principal,
            compliance_status=self.limits.compliance_status.get(principal, "approved"),
            insider_window=self.limits.in_insider_window(intent.symbol, now),
            intents_last_second=traffic[0],
            intents_last_minute=traffic[1],
            duplicate_of=_duplicate(intent, mine, self.limits.duplicate_window_s * NS),
            now_ns=now,
        )
        return book, desk

    def _answer(self, intent: TradeIntent) -> HumanApproval:
        """The oversight policy's answer to a REVIEW, at once."""
        return HumanApproval(
            request_id=uuid.uuid5(intent.intent_id, "oversight"),
            approver=self.oversight.approver,
            approved=self.oversight.policy is OversightPolicy.APPROVE,
            decided_ns=intent.ts_event,
            notes=f"the backtest's oversight policy: {self.oversight.policy}",
        )


def _plain(verdict: GateVerdict) -> Decision:
    return Decision(verdict, verdict, "", {})


def _exposure(
    orders: list[OpenOrder], market: AsOfMarket, multipliers: Mapping[str, Decimal]
) -> Decimal:
    total = Decimal(0)
    for o in orders:
        close = market.last_close(o.intent.symbol)
        if close is not None:
            mult = multipliers.get(o.intent.symbol, Decimal(1))
            total += abs(o.remaining * Decimal(repr(close)) * mult)
    return total


def _duplicate(intent: TradeIntent, mine: list[OpenOrder], window_ns: int) -> str:
    if window_ns <= 0:
        return ""
    for o in mine:
        i = o.intent
        same = (i.side, i.symbol, i.quantity) == (intent.side, intent.symbol, intent.quantity)
        if same and intent.ts_event - i.ts_event <= window_ns:
            return str(i.intent_id)
    return ""
