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

import msgspec

from tradeswarm.core.clock import NS_PER_SECOND, Clock
from tradeswarm.data.view import MarketView
from tradeswarm.instruments import InstrumentMaster, calendar_for
from tradeswarm.model.enums import MarketStatus
from tradeswarm.model.market import Instrument, Quote
from tradeswarm.model.messages import HumanApproval, TradeIntent
from tradeswarm.risk.context import (
    ZERO,
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


def quote_problem(symbol: str, quote: Quote | None) -> str | None:
    """Why quote cannot value a trade in symbol (None when it can)."""
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

    def market_facts(
        self,
        instrument: Instrument,
        quote: Quote,
        now_ns: int,
        marks: dict[str, Decimal] | None = None,
    ) -> MarketFacts:
        """What the market view says of instrument now (marks: the view's, if read)."""
        symbol = instrument.symbol
        return MarketFacts(
            quote=quote,
            marks=self.market.marks() if marks is None else marks,
            multipliers=self.multipliers,
            status=self.status(instrument, now_ns),
            volatility=self.market.realized_volatility(symbol),
            history_bars=self.market.history_bars(symbol),
            halted_symbols=frozenset(self.market.halted),
            returns=tuple(self.market.returns(symbol)),
        )

    def book(self, principal: str | None) -> BookFacts:
        """The books now, with principal's open orders and every open order's value
        (principal None: neither, for a burst, which counts its own)."""
        session = self.market.session
        opened = self.store.get_meta(f"equity_at_open:{session.day}") if session else None
        if principal is None:
            count, exposure = 0, ZERO
        else:
            count = self.open_orders.count(principal)
            exposure = self.open_orders.exposure(self.market.marks(), self.multipliers)
        return BookFacts(
            cash=self.store.get_cash(),
            positions=self.store.get_positions(),
            equity_at_open=Decimal(opened) if opened else None,
            open_orders=count,
            open_order_exposure=exposure,
        )

    def desk_facts(
        self, principal: str, symbol: str, now_ns: int, kill_switch: bool | None = None
    ) -> DeskFacts:
        """The desk's facts of principal trading symbol, the traffic counting this intent
        alone (kill_switch: the store's flag, if read)."""
        return DeskFacts(
            principal=principal,
            kill_switch=self.store.killswitch_active() if kill_switch is None else kill_switch,
            compliance_status=self.limits.compliance_status.get(principal, "approved"),
            insider_window=self.limits.in_insider_window(symbol, now_ns),
            now_ns=now_ns,
        )

    def _desk(
        self, intent: TradeIntent, principal: str, approval: HumanApproval | None
    ) -> DeskFacts:
        now = self.clock.now_ns()
        traffic = self.history.traffic(principal, intent.symbol, intent.side, intent.quantity, now)
        if approval is not None:  # a re-decision after oversight is not new traffic
            traffic = traffic._replace(last_second=1, last_minute=1, duplicate_of="")
        desk = self.desk_facts(principal, intent.symbol, now)
        return msgspec.structs.replace(
            desk,
            approval=approval,
            intents_last_second=traffic.last_second,
            intents_last_minute=traffic.last_minute,
            duplicate_of=traffic.duplicate_of,
        )

    def context(
        self, intent: TradeIntent, principal: str, approval: HumanApproval | None
    ) -> RiskContext:
        """The intent's RiskContext now; Unmeasurable when it cannot be valued."""
        instrument = self.instrument(intent.symbol)
        quote = self.market.quote(intent.symbol)
        problem = quote_problem(intent.symbol, quote)
        if problem is not None or quote is None:
            raise Unmeasurable(problem)
        now = self.clock.now_ns()
        return build_context(
            intent,
            instrument,
            self.book(principal),
            self.market_facts(instrument, quote, now),
            self._desk(intent, principal, approval),
        )
