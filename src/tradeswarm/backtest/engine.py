"""The backtest engine: strategies on the SimClock over their symbols' bars, bar by bar.

Each instant of the merged timeline, in order: (1) the orders resting before it meet each
symbol's bar there (`backtest.fills`); (2) the market's cursors move to the bars that
closed; (3) due timers fire, then the fills are told; (4) every strategy sees each of its
symbols' new bars (symbol order), and what it proposes is decided by the gate
(`backtest.gatekeeper`) at once; a PERMIT rests until a later bar fills it. The equity
curve is computed at the end, in floats, from the step functions of cash and positions;
the final cash and equity are exact Decimals.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import numpy as np

from tradeswarm.backtest.book import Books
from tradeswarm.backtest.config import FillConfig
from tradeswarm.backtest.fills import fee, fill_price, fill_quantity
from tradeswarm.backtest.gatekeeper import Decision, Gatekeeper, OpenOrder
from tradeswarm.backtest.governed import GovernedLog
from tradeswarm.backtest.result import DecisionRow, Run, TradeRow
from tradeswarm.data.series import BarSeries
from tradeswarm.instruments import InstrumentMaster
from tradeswarm.model.enums import OrderType, Side, TimeInForce, Verdict
from tradeswarm.model.messages import TradeIntent
from tradeswarm.risk.gate import GateVerdict
from tradeswarm.strategy.api import Context, DecisionRef, FillRef, Proposal, Strategy
from tradeswarm.strategy.market import AsOfMarket, StrategyError

NS_PER_DAY = 86_400 * 1_000_000_000
BPS = Decimal(10_000)
ID_SPACE = uuid.UUID("6f0d6a53-5f0e-4f44-9d0c-6b5d1e0b7a11")
Progress = Callable[[int, int], None]
#: What a proposal made during the warm-up returns (it goes nowhere).
WARM_UP = "warm-up"


class Engine:
    def __init__(
        self,
        series: dict[str, BarSeries],
        strategies: list[tuple[str, list[str], Strategy]],
        gatekeeper: Gatekeeper,
        instruments: InstrumentMaster,
        fills: FillConfig,
        cash: Decimal,
        allow_short: bool,
    ) -> None:
        self.series = series
        self.market = AsOfMarket(series)
        self.gatekeeper = gatekeeper
        self.instruments = instruments
        self.cfg = fills
        self._costs = {s: fills.at(i.venue) for s, i in instruments.items() if s in series}
        self.allow_short = allow_short
        self.books = Books(cash, {s: i.multiplier for s, i in instruments.items()})
        self.initial_cash = cash
        self.strategies = [
            (name, symbols, strategy, Context(name, symbols, self.market, self))
            for name, symbols, strategy in strategies
        ]
        self._watchers = {
            s: [(st, ctx) for _, symbols, st, ctx in self.strategies if s in symbols]
            for s in series
        }
        self._contexts = {name: (st, ctx) for name, _, st, ctx in self.strategies}
        self.open: dict[str, list[OpenOrder]] = {s: [] for s in series}
        self._day_of: dict[uuid.UUID, int] = {}  # a DAY order's day of first eligibility
        self._timers: list[tuple[int, str, str]] = []
        self._fills: list[tuple[str, FillRef]] = []
        self._seq = 0
        self._now = 0
        self._equity_at_open: Decimal | None = cash
        self._opening: tuple[Decimal, dict[str, Any]] = (cash, {})
        self._day = -1
        self.trade_from = -(2**63)  # bars before this warm the strategies up; no trading
        self.journal: GovernedLog | None = None  # governed mode: the signed log
        self.journal_figures: dict[str, int | None] = {}
        self._logged = 0
        self._last_proposal: dict[tuple[str, str], int] = {}
        self._line: Any = np.empty(0, np.int64)
        self._events: list[list[tuple[str, int]]] = []
        self.trades: list[TradeRow] = []
        self.decisions: list[DecisionRow] = []
        self._cash_steps: list[tuple[int, float]] = []
        self._position_steps: dict[str, list[tuple[int, float]]] = {s: [] for s in series}

    # -- the Desk protocol, for the strategies' contexts
    def position(self, strategy: str, symbol: str) -> Decimal:
        return self.books.position(strategy, symbol)

    def cash(self) -> Decimal:
        return self.books.cash

    def equity(self) -> Decimal:
        return self.books.equity(self._marks())

    def schedule(self, strategy: str, name: str, at_ns: int) -> None:
        self._timers.append((at_ns, strategy, name))
        self._timers.sort()

    def warming_up(self) -> bool:
        return self._now < self.trade_from

    def last_proposal_ns(self, strategy: str, symbol: str) -> int | None:
        return self._last_proposal.get((strategy, symbol))

    def propose(self, strategy: str, proposal: Proposal) -> str:
        if self._now < self.trade_from:
            return WARM_UP  # the warm-up's bars are history: nothing is proposed
        self._seq += 1
        self._last_proposal[(strategy, proposal.symbol)] = self._now
        if self.market.last_close(proposal.symbol) is None:
            return self._unpriced(strategy, proposal)
        intent = _intent(strategy, proposal, self._now, self._seq, self.market)
        decision = self._decide(strategy, intent)
        verdict, oversight = decision.verdict, decision.oversight
        first = decision.first.verdict
        row = DecisionRow(
            ts=self._now,
            strategy=strategy,
            proposal_id=str(intent.intent_id),
            symbol=proposal.symbol,
            side=str(proposal.side),
            quantity=str(proposal.quantity),
            verdict=str(first),
            final=str(verdict.verdict),
            oversight=oversight,
            reasons=list(verdict.reasons),
        )
        self.decisions.append(row)
        if verdict.verdict is Verdict.PERMIT:
            self.open[proposal.symbol].append(OpenOrder(strategy, intent))
            if self.journal is not None:
                self.journal.accepted(intent)
        st, ctx = self._contexts[strategy]
        answer = DecisionRef(
            row.proposal_id, proposal.symbol, str(first), tuple(row.reasons), oversight
        )
        self._call(st, ctx, "on_decision", answer)
        return row.proposal_id

    def _opening_equity(self) -> Decimal:
        """Equity at the day's first bar: its cash and positions at the last closes before
        it (what the daily-loss limit measures from)."""
        if self._equity_at_open is None:
            cash, positions = self._opening
            value = Decimal(0)
            for symbol, p in positions.items():
                bar = self.market.at(symbol, self._day - 1) if p.quantity else None
                mark = Decimal(repr(bar.close)) if bar is not None else p.avg_cost
                value += p.quantity * mark * self.books.multipliers.get(symbol, Decimal(1))
            self._equity_at_open = cash + value
        return self._equity_at_open

    def _call(self, st: Strategy, ctx: Context, what: str, *args: Any) -> None:
        """A strategy callback; what it raises becomes a StrategyError naming it."""
        try:
            getattr(st, what)(ctx, *args)
        except StrategyError:
            raise
        except Exception as err:
            raise StrategyError.of(ctx.name, what, self._now, err) from err

    def _unpriced(self, strategy: str, proposal: Proposal) -> str:
        """A proposal before the symbol's first bar: nothing can value it (unknown means
        deny); no intent is made of it."""
        pid = str(uuid.uuid5(ID_SPACE, f"{strategy}:{self._now}:{self._seq}"))
        why = f"market_data: no bar of {proposal.symbol} yet; the trade cannot be valued"
        row = DecisionRow(
            ts=self._now,
            strategy=strategy,
            proposal_id=pid,
            symbol=proposal.symbol,
            side=str(proposal.side),
            quantity=str(proposal.quantity),
            verdict="DENY",
            final="DENY",
            oversight="",
            reasons=[why],
        )
        self.decisions.append(row)
        st, ctx = self._contexts[strategy]
        self._call(st, ctx, "on_decision", DecisionRef(pid, proposal.symbol, "DENY", (why,), ""))
        return pid

    def _decide(self, strategy: str, intent: TradeIntent) -> Decision:
        """The gate's decision; governed, on the principal the intent's signature names,
        each decision signed into the log."""
        journal = self.journal
        principal = strategy
        if journal is not None:
            journal.at(self._now)
            principal, why = journal.propose(strategy, intent)
            if why is not None:
                denied = GateVerdict(Verdict.DENY, [f"identity: {why}"])
                journal.decided(intent, denied, {}, principal)
                return Decision(denied, denied, "", {})
        every = [o for orders in self.open.values() for o in orders]
        decision = self.gatekeeper.decide(
            intent, self.market, self.books, every, self._opening_equity()
        )
        if journal is not None:
            journal.decided(intent, decision.first, decision.metrics, principal)
            if decision.approval is not None:
                journal.reviewed(intent, decision, principal)
        return decision

    # -- the loop
    def run(self, progress: Progress | None = None, every: int | None = None) -> Run:
        """The whole run: start, every instant of the timeline, finish; progress is told
        every `every` instants (default: about 200 times a run)."""
        timeline = self.start()
        total = len(timeline)
        every = every or max(1, total // 200)
        for i in range(total):
            self.step(i)
            if progress is not None and (i + 1) % every == 0:
                progress(i + 1, total)
        if progress is not None:
            progress(total, total)
        return self.finish()

    def start(self) -> Any:
        """Merge the timeline and start the strategies; returns the timeline (int64 ns)."""
        self._line, self._events = self._timeline()
        for _, _, st, ctx in self.strategies:
            self._call(st, ctx, "on_start")
        return self._line

    def step(self, i: int) -> None:
        """Instant i of the timeline (in order; a paper run paces these on a live clock)."""
        self._step(int(self._line[i]), self._events[i])
        journal = self.journal
        if journal is not None and journal.bus.stats.published > self._logged:
            self._logged = journal.bus.stats.published
            journal.flush()

    def finish(self, upto: int | None = None) -> Run:
        """Stop the strategies and close the books; upto: the instants stepped (a paper
        run stopped early), default all."""
        for _, _, st, ctx in self.strategies:
            self._call(st, ctx, "on_stop")
        if self.journal is not None:
            self.journal_figures = self.journal.close()
        line = self._line if upto is None else self._line[:upto]
        return self._result(line[np.searchsorted(line, self.trade_from, "left") :])

    def _timeline(self) -> tuple[Any, list[list[tuple[str, int]]]]:
        stamps = [s.ts for s in self.series.values()]
        timeline = np.unique(np.concatenate(stamps)) if stamps else np.empty(0, np.int64)
        events: list[list[tuple[str, int]]] = [[] for _ in range(len(timeline))]
        for symbol in sorted(self.series):
            steps = np.searchsorted(timeline, self.series[symbol].ts).tolist()
            for k, step in enumerate(steps):
                events[step].append((symbol, k))
        return timeline, events

    def _step(self, ts: int, bars: list[tuple[str, int]]) -> None:
        day = ts - ts % NS_PER_DAY
        if day != self._day:  # the books as the day opens, valued when a decision asks
            self._day = day
            self._opening = (self.books.cash, dict(self.books.positions))
            self._equity_at_open = None
        for symbol, k in bars:
            if self.open[symbol]:
                self._match(symbol, k, ts)
        for symbol, k in bars:
            self.market.advance(symbol, k, ts)
        self.market.set_time(ts)
        self._now = ts
        if self.cfg.borrow_bps_per_year and self.books.positions:
            self._borrow(ts)
        self._tell(ts)
        for symbol, _ in bars:
            watchers = self._watchers[symbol]
            if watchers:
                self._show(watchers, symbol, ts)

    def _show(self, watchers: list[tuple[Strategy, Context]], symbol: str, ts: int) -> None:
        """The symbol's new bar to each strategy that trades it."""
        bar = self.market.bar(symbol)
        assert bar is not None  # the cursor just moved to it
        for st, ctx in watchers:
            try:
                st.on_bar(ctx, bar)
            except StrategyError:
                raise
            except Exception as err:
                raise StrategyError.of(ctx.name, "on_bar", ts, err) from err

    def _tell(self, ts: int) -> None:
        """Due timers, then the fills of this instant, to their strategies."""
        while self._timers and self._timers[0][0] <= ts:
            _, strategy, name = self._timers.pop(0)
            st, ctx = self._contexts[strategy]
            self._call(st, ctx, "on_timer", name)
        if self._fills:
            fills, self._fills = self._fills, []
            for strategy, fill in fills:
                st, ctx = self._contexts[strategy]
                self._call(st, ctx, "on_fill", fill)

    def _match(self, symbol: str, k: int, ts: int) -> None:
        series = self.series[symbol]
        bar = _bar_at(series, k)
        day = ts - ts % NS_PER_DAY
        tick = self.instruments[symbol].tick_size
        keep: list[OpenOrder] = []
        for order in self.open[symbol]:
            intent = order.intent
            first = self._day_of.setdefault(intent.intent_id, day)
            expired = (
                intent.time_in_force is TimeInForce.DAY
                and intent.order_type is not OrderType.MARKET
                and day > first
            )
            if expired:
                self._note(order, ts, "expired: a DAY order not filled on its day")
                continue
            costs = self._costs[symbol]
            price = fill_price(intent, bar, costs, tick)
            qty = Decimal(0) if price is None else fill_quantity(order.remaining, bar, costs)
            if price is not None and qty > 0:
                refusal = self._refusal(order, qty, price)
                if refusal:
                    self._note(order, ts, refusal)
                    continue
                self._fill(order, qty, price, ts)
            if order.remaining > 0:
                keep.append(order)
        self.open[symbol] = keep

    def _refusal(self, order: OpenOrder, qty: Decimal, price: Decimal) -> str:
        """Why the simulated exchange refuses the fill ("" when it does not)."""
        intent = order.intent
        held = self.books.positions.get(intent.symbol)
        now = held.quantity if held else Decimal(0)
        after = now + intent.side.sign * qty
        if not self.allow_short and after < 0:
            return f"refused: selling {qty} of {intent.symbol} would go short (holding {now})"
        mult = self.books.multipliers.get(intent.symbol, Decimal(1))
        costs = self._costs[intent.symbol]
        cost = intent.side.sign * qty * price * mult + fee(qty, price, mult, costs)
        if intent.side is Side.BUY and after > 0 and self.books.cash - cost < 0:
            return f"refused: insufficient cash ({self.books.cash} for {cost})"
        return ""

    def _note(self, order: OpenOrder, ts: int, why: str) -> None:
        intent = order.intent
        if self.journal is not None:
            self.journal.at(ts)
            self.journal.ended(intent, why.startswith("expired"), why)
        self.decisions.append(
            DecisionRow(
                ts=ts,
                strategy=order.strategy,
                proposal_id=str(intent.intent_id),
                symbol=intent.symbol,
                side=str(intent.side),
                quantity=str(order.remaining),
                verdict="CANCELED",
                final="CANCELED",
                oversight="",
                reasons=[why],
            )
        )

    def _fill(self, order: OpenOrder, qty: Decimal, price: Decimal, ts: int) -> None:
        intent = order.intent
        symbol = intent.symbol
        mult = self.books.multipliers.get(symbol, Decimal(1))
        cost = fee(qty, price, mult, self._costs[symbol])
        self.books.book(order.strategy, symbol, intent.side, qty, price, cost)
        order.remaining -= qty
        if self.journal is not None:
            self.journal.at(ts)
            self.journal.filled(intent, len(self.trades), qty, price, cost)
        self.trades.append(
            TradeRow(
                ts=ts,
                strategy=order.strategy,
                proposal_id=str(intent.intent_id),
                symbol=symbol,
                side=str(intent.side),
                quantity=str(qty),
                price=str(price),
                fee=str(cost),
            )
        )
        held = self.books.positions[symbol].quantity
        self._position_steps[symbol].append((ts, float(held)))
        self._cash_steps.append((ts, float(self.books.cash)))
        fill = FillRef(symbol, intent.side, qty, price, cost, ts, str(intent.intent_id))
        self._fills.append((order.strategy, fill))

    def _borrow(self, ts: int) -> None:
        for symbol, p in self.books.positions.items():
            close = self.market.last_close(symbol)
            if p.quantity < 0 and close is not None:
                mult = self.books.multipliers.get(symbol, Decimal(1))
                value = abs(p.quantity) * Decimal(repr(close)) * mult
                periods = Decimal(repr(self.gatekeeper.periods[symbol]))
                self.books.charge(value * self.cfg.borrow_bps_per_year / BPS / periods)
                self._cash_steps.append((ts, float(self.books.cash)))

    def _marks(self) -> dict[str, Decimal]:
        marks = {}
        for symbol in self.books.positions:
            close = self.market.last_close(symbol)
            if close is not None:
                marks[symbol] = Decimal(repr(close))
        return marks

    def _result(self, timeline: Any) -> Run:
        equity = _steps(timeline, self._cash_steps, float(self.initial_cash))
        gross = np.zeros(len(timeline), dtype=np.float64)
        for symbol, steps in self._position_steps.items():
            if not steps:
                continue
            held = _steps(timeline, steps, 0.0)
            series = self.series[symbol]
            at = np.searchsorted(series.ts, timeline, "right") - 1
            closes = np.where(at >= 0, series.close[np.maximum(at, 0)], 0.0)
            value = held * closes * float(self.books.multipliers.get(symbol, Decimal(1)))
            equity += value
            gross += np.abs(value)
        return Run(
            timeline=timeline,
            equity=equity,
            trades=self.trades,
            decisions=self.decisions,
            cash=self.books.cash,
            final_equity=self.books.equity(self._marks()),
            fees=self.books.fees,
            borrow=self.books.borrow,
            realized=dict(self.books.realized),
            positions={s: p.quantity for s, p in self.books.positions.items() if p.quantity},
            series=self.series,
            gross_exposure=gross,
        )


def _steps(timeline: Any, steps: list[tuple[int, float]], start: float) -> Any:
    """A step function on the timeline: start, then each step's value from its ts on."""
    out = np.full(len(timeline), start, dtype=np.float64)
    if not steps:
        return out
    ts = np.asarray([t for t, _ in steps], dtype=np.int64)
    values = np.asarray([v for _, v in steps], dtype=np.float64)
    at = np.searchsorted(ts, timeline, "right") - 1
    return np.where(at >= 0, values[np.maximum(at, 0)], start)


def _bar_at(series: BarSeries, k: int) -> Any:
    from tradeswarm.strategy.market import BarRef

    return BarRef(
        series.symbol,
        int(series.ts[k]),
        float(series.open[k]),
        float(series.high[k]),
        float(series.low[k]),
        float(series.close[k]),
        float(series.volume[k]),
    )


def _intent(strategy: str, p: Proposal, now: int, seq: int, market: AsOfMarket) -> TradeIntent:
    """The proposal's intent; the symbol has a bar (`Engine._unpriced` answers otherwise)."""
    close = market.last_close(p.symbol)
    assert close is not None
    reference = p.reference_price or Decimal(repr(close))
    return p.intent(uuid.uuid5(ID_SPACE, f"{strategy}:{now}:{seq}"), strategy, reference, now)
