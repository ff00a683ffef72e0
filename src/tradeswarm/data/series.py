"""BarSeries: one symbol's bars of one timeframe as columns, validated once.

Prices and volumes are float64 columns: strategies and indicators read them as arrays, and
money is made from them only where a fill happens (``price_of``: the decimal the float
was read from, exactly, since ``repr`` of a float parsed from a decimal string of at most
15 significant digits gives that string back). ``ts`` is int64 ns since the epoch (UTC):
a daily bar's is its date at 00:00 UTC, an intraday bar's its close time.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt

from tradeswarm.core.errors import InvalidInput

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
NS_PER_SECOND = 1_000_000_000
DAY_S = 86_400
FIELDS = ("open", "high", "low", "close", "volume")
#: Timeframe names and their width in seconds (what `resample` and the catalog accept).
TIMEFRAMES = {
    "1s": 1,
    "1min": 60,
    "5min": 300,
    "15min": 900,
    "30min": 1800,
    "1h": 3600,
    "1d": DAY_S,
    "1w": 7 * DAY_S,
}


def timeframe_seconds(name: str, field: str = "timeframe") -> int:
    if name not in TIMEFRAMES:
        raise InvalidInput(field, name, f"unknown timeframe; known: {', '.join(TIMEFRAMES)}")
    return TIMEFRAMES[name]


def infer_timeframe(ts: IntArray) -> str:
    """The named timeframe nearest the median spacing of ts (1d for a single bar)."""
    if len(ts) < 2:
        return "1d"
    spacing = float(np.median(np.diff(ts))) / NS_PER_SECOND
    if spacing >= 5 * DAY_S:
        return "1w"
    if spacing >= 0.5 * DAY_S:
        return "1d"  # weekends and holidays widen the median of daily data only a little
    return min(TIMEFRAMES, key=lambda name: abs(TIMEFRAMES[name] - spacing))


class BarSeries:
    """Validated, immutable columns of one symbol's bars (see the module docstring)."""

    __slots__ = ("close", "high", "low", "open", "source", "symbol", "timeframe", "ts", "volume")

    def __init__(
        self,
        symbol: str,
        ts: Sequence[int] | IntArray,
        columns: dict[str, Any],
        source: str = "",
        timeframe: str | None = None,
    ) -> None:
        self.symbol = symbol
        self.source = source or symbol
        self.ts = _frozen(np.asarray(ts, dtype=np.int64))
        for name in FIELDS:
            values = np.asarray(columns[name], dtype=np.float64)
            if values.shape != self.ts.shape:
                raise InvalidInput(f"{self.source}:{name}", values.shape, "not one value per bar")
            setattr(self, name, _frozen(values))
        self.timeframe = timeframe or infer_timeframe(self.ts)
        self._validate()

    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray

    def _validate(self) -> None:
        where = self.source
        if len(self.ts) > 1 and not bool(np.all(np.diff(self.ts) > 0)):
            k = int(np.argmin(np.diff(self.ts) > 0)) + 1
            raise InvalidInput(
                f"{where}:row {k + 1}:ts", int(self.ts[k]), "not after the bar before"
            )
        for name in ("open", "high", "low", "close"):
            values = getattr(self, name)
            bad = ~(np.isfinite(values) & (values > 0))
            if bad.any():
                k = int(np.argmax(bad))
                raise InvalidInput(f"{where}:row {k + 1}:{name}", float(values[k]), "not > 0")
        bad = ~(np.isfinite(self.volume) & (self.volume >= 0))
        if bad.any():
            k = int(np.argmax(bad))
            raise InvalidInput(f"{where}:row {k + 1}:volume", float(self.volume[k]), "not >= 0")
        low_ok = self.low <= np.minimum(self.open, self.close)
        high_ok = self.high >= np.maximum(self.open, self.close)
        bad = ~(low_ok & high_ok)
        if bad.any():
            k = int(np.argmax(bad))
            raise InvalidInput(
                f"{where}:row {k + 1}", self.row(k), "low <= open,close <= high fails"
            )

    def __len__(self) -> int:
        return len(self.ts)

    def years(self) -> list[int]:
        """The calendar years (UTC) the bars span, first to last."""
        if not len(self.ts):
            return []
        first, last = (_year(int(self.ts[k])) for k in (0, -1))
        return list(range(first, last + 1))

    def row(self, k: int) -> dict[str, float | int]:
        out: dict[str, float | int] = {"ts": int(self.ts[k])}
        for name in FIELDS:
            out[name] = float(getattr(self, name)[k])
        return out

    def between(self, start_ns: int | None, end_ns: int | None) -> BarSeries:
        """The bars with start_ns <= ts <= end_ns (either bound may be None)."""
        lo = 0 if start_ns is None else int(np.searchsorted(self.ts, start_ns, "left"))
        hi = len(self.ts) if end_ns is None else int(np.searchsorted(self.ts, end_ns, "right"))
        cols = {name: getattr(self, name)[lo:hi] for name in FIELDS}
        return BarSeries(self.symbol, self.ts[lo:hi], cols, self.source, self.timeframe)

    def gaps(self, sessions_ns: IntArray) -> IntArray:
        """The sessions (their 00:00 UTC ns) the calendar lists inside this series' span that
        have no bar: the missing bars, reported, never filled in silently."""
        if not len(self.ts):
            return np.empty(0, dtype=np.int64)
        inside = sessions_ns[(sessions_ns >= self.ts[0]) & (sessions_ns <= self.ts[-1])]
        missing: IntArray = inside[~np.isin(inside, self.ts)]
        return missing


def _year(ts_ns: int) -> int:
    import datetime as dt

    return dt.datetime.fromtimestamp(ts_ns // NS_PER_SECOND, dt.UTC).year


def price_of(value: float) -> Decimal:
    """The decimal a price column's float was read from (see the module docstring)."""
    return Decimal(repr(float(value)))


def _frozen(values: Any) -> Any:
    values = np.ascontiguousarray(values)
    values.setflags(write=False)
    return values


def merge_runs(keys: Any, cols: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """Consecutive rows with equal keys merged into one bar: the run's first open, highest
    high, lowest low, last close, summed volume; and the index of each run's last row."""
    if not len(keys):
        return {f: np.asarray(cols[f], dtype=np.float64) for f in FIELDS}, np.empty(0, np.int64)
    keys = np.asarray(keys)
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    ends = np.r_[starts[1:], len(keys)] - 1
    c = {f: np.asarray(cols[f], dtype=np.float64) for f in FIELDS}
    merged = {
        "open": c["open"][starts],
        "high": np.maximum.reduceat(c["high"], starts),
        "low": np.minimum.reduceat(c["low"], starts),
        "close": c["close"][ends],
        "volume": np.add.reduceat(c["volume"], starts),
    }
    return merged, ends


def resample(series: BarSeries, timeframe: str) -> BarSeries:
    """Bars of a wider timeframe: each bucket's first open, max high, min low, last close,
    summed volume. A bucket is labelled by its last bar's ts, so a strategy on the clock sees
    a week's bar only once the week's last bar has closed (weeks start on Monday)."""
    width = timeframe_seconds(timeframe) * NS_PER_SECOND
    if width < timeframe_seconds(series.timeframe) * NS_PER_SECOND:
        raise InvalidInput("timeframe", timeframe, f"narrower than the data's {series.timeframe}")
    offset = 4 * DAY_S * NS_PER_SECOND if timeframe == "1w" else 0  # 1970-01-01 was a Thursday
    bucket = (series.ts + offset) // width
    cols, ends = merge_runs(bucket, {f: getattr(series, f) for f in FIELDS})
    return BarSeries(series.symbol, series.ts[ends], cols, series.source, timeframe)
