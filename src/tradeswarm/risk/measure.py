"""What the risk manager measures for an intent: the RiskContext, from its own sources only.

The instrument comes from the instrument master, the quote and marks from the market
view, whether the market trades from the instrument's exchange calendar (and the feed's
session), the books from the store, open orders from its own book of them
(risk.openbook), the agent's recent traffic from its own history. An intent it cannot
value (an unknown instrument, no quote, a crossed quote) gets a refusal instead of a
context: unknown means deny.
"""

from __future__ import annotations

from decimal import Decimal

from tradeswarm.core.clock import NS_PER_SECOND, Clock
from tradeswarm.data.view import MarketView
from tradeswarm.instruments import InstrumentMaster, calendar_for
from tradeswarm.model.enums import MarketStatus
from tradeswarm.model.market import Instrument, Quote
from tradeswarm.model.messages import HumanApproval, TradeIntent
from tradeswarm.risk.context import (
    BookFacts,
    DeskFacts,
    MarketFacts,
    RiskContext,
    build_context,
)
from tradeswarm.risk.history import IntentHistory
from tradeswarm.risk.limits import RiskLimits
from tradeswarm.risk.openbook import OpenBook
from tradeswarm.store import Store


class Unmeasurable(Exception):
    """The intent cannot be valued; the message is the DENY reason."""


def _quote_problem(symbol: str, quote: Quote | None) -> str | None:
    if quote is None:
        return f"market_data: no quote for {symbol}; the trade cannot be valued"
    if quote.bid <= 0 or quote.ask < quote.bid:
        return (
            f"market_data: crossed or empty quote for {symbol} (bid {quote.bid}, ask {quote.ask})"
        )
    return None


class Measurer:
    """Builds the RiskContext of an intent from the risk manager's own facts."""

    def __init__(
        self,
        clock: Clock,
        store: Store,
        market: MarketView,
        limits: RiskLimits,
        instruments: InstrumentMaster,
    ) -> None:
        self.clock = clock
        self.store = store
        self.market = market
        self.limits = limits
        self.instruments = instruments
        self.multipliers = {s: i.multiplier for s, i in instruments.items()}
        self.history = IntentHistory(
            limits.duplicate_window_s * NS_PER_SECOND, store.list_intent_decisions_since
        )
        self.open_orders = OpenBook(store.list_orders(open_only=True))

    def instrument(self, symbol: str) -> Instrument:
        found = self.instruments.get(symbol)
        if found is None:
            raise Unmeasurable(
                f"instrument: unknown instrument {symbol!r} (not in the instrument master "
                f"{self.instruments.source})"
            )
        return found

    def status(self, instrument: Instrument, now_ns: int) -> MarketStatus:
        """OPEN when the instrument's exchange calendar and the feed's session both are."""
        if self.market.status(now_ns) is not MarketStatus.OPEN:
            return MarketStatus.CLOSED
        if not calendar_for(instrument.calendar).is_open(now_ns):
            return MarketStatus.CLOSED
        return MarketStatus.OPEN

    def _market(self, instrument: Instrument, quote: Quote, now_ns: int) -> MarketFacts:
        symbol = instrument.symbol
        return MarketFacts(
            quote=quote,
            marks=self.market.marks(),
            multipliers=self.multipliers,
            status=self.status(instrument, now_ns),
            volatility=self.market.realized_volatility(symbol),
            history_bars=self.market.history_bars(symbol),
            halted_symbols=frozenset(self.market.halted),
            returns=tuple(self.market.returns(symbol)),
        )

    def _book(self, principal: str) -> BookFacts:
        session = self.market.session
        opened = self.store.get_meta(f"equity_at_open:{session.day}") if session else None
        return BookFacts(
            cash=self.store.get_cash(),
            positions=self.store.get_positions(),
            equity_at_open=Decimal(opened) if opened else None,
            open_orders=self.open_orders.count(principal),
            open_order_exposure=self.open_orders.exposure(self.market.marks(), self.multipliers),
        )

    def _desk(
        self, intent: TradeIntent, principal: str, approval: HumanApproval | None
    ) -> DeskFacts:
        now = self.clock.now_ns()
        traffic = self.history.traffic(principal, intent.symbol, intent.side, intent.quantity, now)
        if approval is not None:  # a re-decision after oversight is not new traffic
            traffic = traffic._replace(last_second=1, last_minute=1, duplicate_of="")
        return DeskFacts(
            principal=principal,
            kill_switch=self.store.killswitch_active(),
            compliance_status=self.limits.compliance_status.get(principal, "approved"),
            insider_window=self.limits.in_insider_window(intent.symbol, now),
            approval=approval,
            intents_last_second=traffic.last_second,
            intents_last_minute=traffic.last_minute,
            duplicate_of=traffic.duplicate_of,
            now_ns=now,
        )

    def context(
        self, intent: TradeIntent, principal: str, approval: HumanApproval | None
    ) -> RiskContext:
        """The intent's RiskContext now; Unmeasurable when it cannot be valued."""
        instrument = self.instrument(intent.symbol)
        quote = self.market.quote(intent.symbol)
        problem = _quote_problem(intent.symbol, quote)
        if problem is not None or quote is None:
            raise Unmeasurable(problem)
        now = self.clock.now_ns()
        return build_context(
            intent,
            instrument,
            self._book(principal),
            self._market(instrument, quote, now),
            self._desk(intent, principal, approval),
        )
