"""MarketView: the read-only market state agents consult (the seed's MarketDataAPI)."""

from __future__ import annotations

import collections
import math
from collections.abc import Sequence
from decimal import Decimal

from tradeswarm.core.errors import InvalidInput
from tradeswarm.data.replay import synth_quote
from tradeswarm.model.enums import MarketStatus
from tradeswarm.model.market import Bar, Quote, Session
from tradeswarm.quant.streaming import RollingVariance

MINUTES_PER_YEAR = 252 * 780  # minutes in a year of the bundled market's sessions


class _Closes:
    """One symbol's close window: the last window + 1 closes as simple and log returns,
    kept as they arrive (O(1) per bar), so reading them never recomputes the window."""

    __slots__ = ("_last", "bars", "log_returns", "returns")
    _last: float | None

    def __init__(self, window: int) -> None:
        self.bars = 0  # closes in the window, at most window + 1
        self._last = None
        self.returns: collections.deque[float] = collections.deque(maxlen=window)
        self.log_returns = RollingVariance(max(window, 2))

    def push(self, close: float, window: int) -> None:
        last, self._last = self._last, close
        if self.bars <= window:
            self.bars += 1
        if last is None:  # the first close
            return
        ratio = close / last if last else _ratio_from_zero(close)
        self.returns.append(ratio - 1.0)
        self.log_returns.push(math.log(ratio) if ratio > 0 else _log_of_zero(ratio))


def _ratio_from_zero(close: float) -> float:
    """close / 0.0 as IEEE division gives it (inf, NaN for 0 / 0): a positive close too
    small for a float must not stop the feed; the gate denies on the non-finite
    volatility and returns it leads to."""
    return math.inf if close else math.nan


def _log_of_zero(ratio: float) -> float:
    return -math.inf if ratio == 0 else math.nan


class MarketView:
    """Last bar, quote and session per symbol, updated by the feed, read by agents.

    ``on_bar`` / ``set_quote`` take one message of a trusted source (the replay, a test);
    ``apply`` takes a feed's batch (``tradeswarm.data.feed``), whole or not at all.
    """

    def __init__(self, spread: Decimal = Decimal(1), window: int = 30) -> None:
        self._spread = spread
        self._half = spread / 2  # synth_quote's, computed once
        self._window = window
        self._closes: dict[str, _Closes] = {}
        self._quotes: dict[str, Quote] = {}
        self._bars: dict[str, Bar] = {}
        self._fed: set[str] = set()  # symbols whose quotes come from a quote feed
        self.session: Session | None = None
        self.halted: set[str] = set()

    def open_session(self, session: Session) -> None:
        self.session = session

    def on_bar(self, bar: Bar) -> None:
        self._push_bar(bar)
        self._quotes[bar.symbol] = synth_quote(bar, self._spread)

    def _push_bar(self, bar: Bar) -> None:
        closes = self._closes.get(bar.symbol)
        if closes is None:
            closes = self._closes[bar.symbol] = _Closes(self._window)
        closes.push(float(bar.close), self._window)
        self._bars[bar.symbol] = bar

    def set_quote(self, quote: Quote) -> None:
        """Override the derived quote (a real quote feed, or a test)."""
        self._quotes[quote.symbol] = quote

    def apply(self, messages: Sequence[Bar | Quote]) -> list[Bar]:
        """Apply a feed's batch in its order; return its bars.

        Nothing changes unless the whole batch fits: each symbol's bars in strictly rising
        time, after its last bar, and its quotes never older than its last feed quote. A
        bar derives its symbol's quote (as ``on_bar``) until the feed quotes that symbol.
        """
        self._check_order(messages)
        bars: list[Bar] = []
        quotes: dict[str, Quote] = {}
        for message in messages:
            if isinstance(message, Bar):
                self._push_bar(message)
                bars.append(message)
            else:
                quotes[message.symbol] = message
        self._quotes.update(quotes)
        self._fed.update(quotes)
        derive = {bar.symbol: bar for bar in bars if bar.symbol not in self._fed}
        half = self._half
        for symbol, bar in derive.items():  # synth_quote, with the half spread computed once
            close = bar.close
            self._quotes[symbol] = Quote(
                symbol=symbol, ts_event=bar.ts_event, bid=close - half, ask=close + half
            )
        return bars

    def _check_order(self, messages: Sequence[Bar | Quote]) -> None:
        bar_ns: dict[str, int] = {}
        quote_ns: dict[str, int] = {}
        for index, m in enumerate(messages):
            symbol = m.symbol
            if isinstance(m, Bar):
                last = bar_ns.get(symbol)
                if last is None:
                    last = self._last_bar_ns(symbol)
                if m.ts_event <= last:
                    raise InvalidInput(
                        f"feed[{index}].ts_event", m.ts_event, f"not after {symbol}'s bar at {last}"
                    )
                bar_ns[symbol] = m.ts_event
            else:
                last = quote_ns.get(symbol)
                if last is None:
                    last = self._last_quote_ns(symbol)
                if m.ts_event < last:
                    raise InvalidInput(
                        f"feed[{index}].ts_event",
                        m.ts_event,
                        f"older than {symbol}'s quote at {last}",
                    )
                quote_ns[symbol] = m.ts_event

    def _last_bar_ns(self, symbol: str) -> int:
        bar = self._bars.get(symbol)
        return -1 if bar is None else bar.ts_event

    def _last_quote_ns(self, symbol: str) -> int:
        quote = self._quotes.get(symbol) if symbol in self._fed else None
        return -1 if quote is None else quote.ts_event

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
        closes = self._closes.get(symbol)
        return closes.bars if closes else 0

    def status(self, now_ns: int) -> MarketStatus:
        if self.session is None or not self.session.is_open(now_ns):
            return MarketStatus.CLOSED
        return MarketStatus.OPEN

    def returns(self, symbol: str) -> list[float]:
        """Simple one-bar returns over the window, oldest first (empty when too short)."""
        closes = self._closes.get(symbol)
        return list(closes.returns) if closes else []

    def realized_volatility(self, symbol: str) -> float:
        """Annualized stdev of one-minute log returns over the window; 0 when too short."""
        closes = self._closes.get(symbol)
        if closes is None or closes.bars < 3:
            return 0.0
        return math.sqrt(closes.log_returns.variance() * MINUTES_PER_YEAR)
