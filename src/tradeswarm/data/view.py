"""MarketView: the read-only market state agents consult (the seed's MarketDataAPI)."""

from __future__ import annotations

import collections
import itertools
import math
from decimal import Decimal

from tradeswarm.data.replay import synth_quote
from tradeswarm.model.enums import MarketStatus
from tradeswarm.model.market import Bar, Quote, Session

MINUTES_PER_YEAR = 252 * 780  # minutes in a year of the bundled market's sessions


class MarketView:
    """Last bar, quote and session per symbol, updated by the feed, read by agents."""

    def __init__(self, spread: Decimal = Decimal(1), window: int = 30) -> None:
        self._spread = spread
        self._window = window
        self._closes: dict[str, collections.deque[float]] = {}
        self._quotes: dict[str, Quote] = {}
        self._bars: dict[str, Bar] = {}
        self.session: Session | None = None
        self.halted: set[str] = set()

    def open_session(self, session: Session) -> None:
        self.session = session

    def on_bar(self, bar: Bar) -> None:
        closes = self._closes.setdefault(bar.symbol, collections.deque(maxlen=self._window + 1))
        closes.append(float(bar.close))
        self._bars[bar.symbol] = bar
        self._quotes[bar.symbol] = synth_quote(bar, self._spread)

    def set_quote(self, quote: Quote) -> None:
        """Override the derived quote (a real quote feed, or a test)."""
        self._quotes[quote.symbol] = quote

    def quote(self, symbol: str) -> Quote | None:
        return self._quotes.get(symbol)

    def last_price(self, symbol: str) -> Decimal | None:
        bar = self._bars.get(symbol)
        return bar.close if bar else None

    def marks(self) -> dict[str, Decimal]:
        return {s: b.close for s, b in self._bars.items()}

    def history_bars(self, symbol: str) -> int:
        """How many bars of the symbol the volatility and VaR windows hold (at most
        window + 1): the gate denies on fewer than it is configured to need."""
        return len(self._closes.get(symbol, ()))

    def status(self, now_ns: int) -> MarketStatus:
        if self.session is None or not self.session.is_open(now_ns):
            return MarketStatus.CLOSED
        return MarketStatus.OPEN

    def returns(self, symbol: str) -> list[float]:
        """Simple one-bar returns over the window, oldest first (empty when too short)."""
        closes = list(self._closes.get(symbol, ()))
        return [b / a - 1.0 for a, b in itertools.pairwise(closes)]

    def realized_volatility(self, symbol: str) -> float:
        """Annualized stdev of one-minute log returns over the window; 0 when too short."""
        closes = list(self._closes.get(symbol, ()))
        if len(closes) < 3:
            return 0.0
        rets = [math.log(b / a) for a, b in itertools.pairwise(closes)]
        mean = sum(rets) / len(rets)
        var = sum((r - mean) ** 2 for r in rets) / (len(rets) - 1)
        return math.sqrt(var * MINUTES_PER_YEAR)
