"""Instruments, bars and quotes."""

from __future__ import annotations

from decimal import Decimal

import msgspec

from tradeswarm.core.errors import InvalidInput


class Instrument(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Reference data of one instrument (the instrument master's row): what the gate
    trusts about it, never the proposing agent.

    multiplier: money per unit of price per unit of quantity (a future's point value);
    tick_size / lot_size: the grids prices and quantities must lie on; calendar: an
    exchange-calendars code (``XNYS``, ``XEUR``, ``CMES``, ``24/7`` ...) whose sessions say
    when the instrument trades; tradable: False keeps it in the master but out of trading.
    """

    symbol: str
    asset_class: str
    currency: str = "USD"
    multiplier: Decimal = Decimal(1)
    tick_size: Decimal = Decimal("0.01")
    lot_size: Decimal = Decimal(1)
    venue: str = ""
    calendar: str = "24/7"
    tradable: bool = True
    description: str = ""

    def __post_init__(self) -> None:
        where = f"instruments.{self.symbol or '?'}"
        for name in ("symbol", "asset_class", "currency", "calendar"):
            if not getattr(self, name).strip():
                raise InvalidInput(f"{where}.{name}", getattr(self, name), "must not be empty")
        for name in ("multiplier", "tick_size", "lot_size"):
            value = getattr(self, name)
            if not value.is_finite() or value <= 0:
                raise InvalidInput(f"{where}.{name}", value, "must be a finite number > 0")

    def on_tick(self, price: Decimal) -> bool:
        """Whether price is a whole number of ticks (False when it cannot be told)."""
        return _whole_multiple(price, self.tick_size)

    def on_lot(self, quantity: Decimal) -> bool:
        """Whether quantity is a whole number of lots (False when it cannot be told)."""
        return _whole_multiple(quantity, self.lot_size)


def _whole_multiple(value: Decimal, step: Decimal) -> bool:
    try:
        return value.is_finite() and (value % step) == 0
    except ArithmeticError:  # the quotient has more digits than the context holds
        return False


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
