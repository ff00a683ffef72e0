"""Instruments, bars and quotes."""

from __future__ import annotations

from decimal import Decimal

import msgspec

from tradeswarm.core.errors import InvalidInput


class Instrument(msgspec.Struct, frozen=True, kw_only=True):
    symbol: str
    asset_class: str = "equity_index_future"
    description: str = ""
    currency: str = "USD"


class Bar(msgspec.Struct, frozen=True, kw_only=True):
    """One OHLCV bar; ts_event is the bar's close time in ns."""

    symbol: str
    ts_event: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal

    def __post_init__(self) -> None:
        for name in ("open", "high", "low", "close"):
            value = getattr(self, name)
            if not value.is_finite() or value <= 0:
                raise InvalidInput(f"bar.{name}", value, "price must be finite and positive")
        if not self.volume.is_finite() or self.volume < 0:
            raise InvalidInput("bar.volume", self.volume, "volume must be finite and >= 0")
        if not (self.low <= min(self.open, self.close) and self.high >= max(self.open, self.close)):
            raise InvalidInput("bar", self, "low <= open,close <= high does not hold")


class Quote(msgspec.Struct, frozen=True, kw_only=True):
    symbol: str
    ts_event: int
    bid: Decimal
    ask: Decimal

    @property
    def mid(self) -> Decimal:
        return (self.bid + self.ask) / 2

    @property
    def spread_pct(self) -> Decimal:
        """Spread as a fraction of the mid price."""
        return (self.ask - self.bid) / self.mid


class Session(msgspec.Struct, frozen=True, kw_only=True):
    """One trading session of a market: [open_ns, close_ns)."""

    day: str
    open_ns: int
    close_ns: int

    def is_open(self, ts_ns: int) -> bool:
        return self.open_ns <= ts_ns < self.close_ns

    def minutes_to_close(self, ts_ns: int) -> float:
        return (self.close_ns - ts_ns) / 60e9
