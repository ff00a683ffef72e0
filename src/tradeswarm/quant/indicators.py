"""Classic indicators (thin, checked TA-Lib wrappers) and the multi-timeframe feature snapshot.

Every wrapper takes float arrays, checks them at the door (finite, equal lengths, a period in
range, enough points for at least one output) and returns what TA-Lib returns: float64 arrays
of the input's length whose first ``lookback`` points are NaN (the warm-up, exactly as TA-Lib
gives it). Everything after the warm-up is finite. NaN in an input is a ValueError.

Bars (OHLCV) are a :class:`Bars` value: ``ts`` (int64 nanoseconds since the Unix epoch, UTC,
strictly increasing) and float64 ``open``, ``high``, ``low``, ``close``, ``volume``. Build one
with :func:`as_bars` from a mapping of arrays or a numpy structured array with those fields.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import talib
from numpy.typing import NDArray

from tradeswarm.quant._checks import FloatArray, as_1d
from tradeswarm.quant._normalize import percentile_rank_last, zscore_last

__all__ = [
    "DEFAULT_FEATURES",
    "TIMEFRAMES",
    "Bars",
    "adx",
    "as_bars",
    "as_hlc",
    "atr",
    "bollinger",
    "ema",
    "feature_snapshot",
    "macd",
    "obv",
    "percentile_rank_last",
    "resample",
    "rsi",
    "sma",
    "stochastic",
    "volume_sma",
    "zscore_last",
]

_MAX_PERIOD = 100_000
NS_PER_MINUTE = 60_000_000_000
TIMEFRAMES: dict[str, int] = {
    "1m": NS_PER_MINUTE,
    "5m": 5 * NS_PER_MINUTE,
    "15m": 15 * NS_PER_MINUTE,
    "30m": 30 * NS_PER_MINUTE,
    "1h": 60 * NS_PER_MINUTE,
    "4h": 240 * NS_PER_MINUTE,
    "1d": 1440 * NS_PER_MINUTE,
}


def _period(name: str, value: int, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name}: must be an integer, got {value!r}")
    if not minimum <= value <= _MAX_PERIOD:
        raise ValueError(f"{name}: must be in [{minimum}, {_MAX_PERIOD}], got {value!r}")
    return int(value)


def _series(name: str, values: Any, lookback: int) -> FloatArray:
    return np.ascontiguousarray(as_1d(name, values, min_len=lookback + 1))


def as_hlc(
    high: Any, low: Any, close: Any, lookback: int = 0
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Check high/low/close: finite, equal lengths above ``lookback``, high never below low."""
    h = _series("high", high, lookback)
    lo = _series("low", low, lookback)
    c = _series("close", close, lookback)
    if not len(h) == len(lo) == len(c):
        raise ValueError(f"high, low, close: lengths differ ({len(h)}, {len(lo)}, {len(c)})")
    bad = np.flatnonzero(h < lo)
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"high: below low at index {i} ({h[i]!r} < {lo[i]!r})")
    return h, lo, c


def sma(close: Any, period: int = 20) -> FloatArray:
    """Simple moving average; the first ``period - 1`` points are warm-up NaN."""
    p = _period("period", period)
    return np.asarray(talib.SMA(_series("close", close, p - 1), timeperiod=p))


def ema(close: Any, period: int = 20) -> FloatArray:
    """Exponential moving average seeded by the SMA (TA-Lib); ``period - 1`` warm-up NaN."""
    p = _period("period", period)
    return np.asarray(talib.EMA(_series("close", close, p - 1), timeperiod=p))


def rsi(close: Any, period: int = 14) -> FloatArray:
    """Wilder's relative strength index in [0, 100]; ``period`` warm-up NaN."""
    p = _period("period", period, minimum=2)
    return np.asarray(talib.RSI(_series("close", close, p), timeperiod=p))


def atr(high: Any, low: Any, close: Any, period: int = 14) -> FloatArray:
    """Wilder's average true range; ``period`` warm-up NaN."""
    p = _period("period", period)
    return np.asarray(talib.ATR(*as_hlc(high, low, close, p), timeperiod=p))


def bollinger(
    close: Any, period: int = 20, nbdev: float = 2.0
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Bollinger bands (upper, middle = SMA, lower) at ``nbdev`` population deviations."""
    p = _period("period", period, minimum=2)
    k = float(nbdev)
    if not np.isfinite(k) or k <= 0:
        raise ValueError(f"nbdev: must be finite and > 0, got {nbdev!r}")
    c = _series("close", close, p - 1)
    upper, mid, lower = talib.BBANDS(c, timeperiod=p, nbdevup=k, nbdevdn=k)
    return np.asarray(upper), np.asarray(mid), np.asarray(lower)


def stochastic(
    high: Any, low: Any, close: Any, k_period: int = 14, k_smooth: int = 3, d_period: int = 3
) -> tuple[FloatArray, FloatArray]:
    """Slow stochastic (%K, %D) in [0, 100], SMA smoothing; ``k+s+d-3`` warm-up NaN."""
    k = _period("k_period", k_period)
    s = _period("k_smooth", k_smooth)
    d = _period("d_period", d_period)
    hlc = as_hlc(high, low, close, k + s + d - 3)
    slow_k, slow_d = talib.STOCH(
        *hlc,
        fastk_period=k,
        slowk_period=s,
        slowd_period=d,
    )
    return np.asarray(slow_k), np.asarray(slow_d)


def macd(
    close: Any, fast: int = 12, slow: int = 26, signal: int = 9
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """MACD line, signal line and histogram; ``slow + signal - 2`` warm-up NaN."""
    f = _period("fast", fast, minimum=2)
    s = _period("slow", slow, minimum=2)
    g = _period("signal", signal)
    if f >= s:
        raise ValueError(f"fast: must be below slow ({s}), got {fast!r}")
    line, sig, hist = talib.MACD(
        _series("close", close, s + g - 2), fastperiod=f, slowperiod=s, signalperiod=g
    )
    return np.asarray(line), np.asarray(sig), np.asarray(hist)


def volume_sma(volume: Any, period: int = 20) -> FloatArray:
    """Simple moving average of volume (volume must be >= 0)."""
    p = _period("period", period)
    v = _series("volume", volume, p - 1)
    if (v < 0).any():
        raise ValueError(f"volume: negative value at index {int(np.argmax(v < 0))}")
    return np.asarray(talib.SMA(v, timeperiod=p))


def obv(close: Any, volume: Any) -> FloatArray:
    """On-balance volume (no warm-up)."""
    c, v = _series("close", close, 0), _series("volume", volume, 0)
    if len(c) != len(v):
        raise ValueError(f"close, volume: lengths differ ({len(c)}, {len(v)})")
    return np.asarray(talib.OBV(c, v))


def adx(high: Any, low: Any, close: Any, period: int = 14) -> FloatArray:
    """Wilder's average directional index in [0, 100]; ``2 * period - 1`` warm-up NaN."""
    p = _period("period", period, minimum=2)
    return np.asarray(talib.ADX(*as_hlc(high, low, close, 2 * p - 1), timeperiod=p))


@dataclass(frozen=True, eq=False)
class Bars:
    """OHLCV bars: ``ts`` int64 ns since the epoch (UTC, strictly increasing), float64 rest."""

    ts: NDArray[np.int64]
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray

    def __len__(self) -> int:
        return len(self.ts)


_PRICE_FIELDS = ("open", "high", "low", "close", "volume")


def _field(bars: Any, name: str) -> Any:
    try:
        return bars[name]
    except (KeyError, ValueError, IndexError, TypeError):
        raise ValueError(f"bars: missing field {name!r}") from None


def as_bars(bars: Bars | Mapping[str, Any] | NDArray[Any]) -> Bars:
    """Check and convert a mapping of arrays (or a structured array) into :class:`Bars`."""
    if isinstance(bars, Bars):
        return bars
    ts = np.asarray(_field(bars, "ts"))
    if ts.ndim != 1 or ts.size == 0 or not np.issubdtype(ts.dtype, np.integer):
        raise ValueError(f"bars.ts: expected a non-empty 1-D integer array, got {ts.dtype}")
    ts = ts.astype(np.int64)
    steps = np.flatnonzero(np.diff(ts) <= 0)
    if steps.size:
        raise ValueError(f"bars.ts: not strictly increasing at index {int(steps[0]) + 1}")
    cols = {f: as_1d(f"bars.{f}", _field(bars, f)) for f in _PRICE_FIELDS}
    for f, col in cols.items():
        if len(col) != len(ts):
            raise ValueError(f"bars.{f}: length {len(col)} differs from bars.ts ({len(ts)})")
    inverted = np.flatnonzero(cols["high"] < cols["low"])
    if inverted.size:
        raise ValueError(f"bars.high: below bars.low at index {int(inverted[0])}")
    if (cols["volume"] < 0).any():
        raise ValueError(f"bars.volume: negative at index {int(np.argmax(cols['volume'] < 0))}")
    return Bars(ts=ts, **cols)


def _width(timeframe: str) -> int:
    if timeframe not in TIMEFRAMES:
        raise ValueError(f"timeframe: expected one of {sorted(TIMEFRAMES)}, got {timeframe!r}")
    return TIMEFRAMES[timeframe]


def resample(bars: Bars | Mapping[str, Any] | NDArray[Any], timeframe: str) -> Bars:
    """Aggregate bars into ``timeframe`` buckets (first open, max high, min low, last close, sum).

    Buckets are ``[start, start + width)`` aligned on the Unix epoch (midnight UTC for ``1d``)
    and labelled by their start, as pandas' ``resample(...).agg(...)`` does; empty buckets are
    dropped (pandas gives them as NaN rows).
    """
    b = as_bars(bars)
    width = _width(timeframe)
    bucket = b.ts // width
    starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
    ends = np.r_[starts[1:], len(b)] - 1
    return Bars(
        ts=bucket[starts] * width,
        open=b.open[starts],
        high=np.maximum.reduceat(b.high, starts),
        low=np.minimum.reduceat(b.low, starts),
        close=b.close[ends],
        volume=np.add.reduceat(b.volume, starts),
    )


@dataclass(frozen=True)
class _Feature:
    lookback: Callable[[int], int]
    compute: Callable[[Bars, int], FloatArray]


DEFAULT_FEATURES: Mapping[str, _Feature] = {
    "sma": _Feature(lambda p: p - 1, lambda b, p: sma(b.close, p)),
    "ema": _Feature(lambda p: p - 1, lambda b, p: ema(b.close, p)),
    "rsi": _Feature(lambda p: p, lambda b, p: rsi(b.close, p)),
    "atr": _Feature(lambda p: p, lambda b, p: atr(b.high, b.low, b.close, p)),
    "bbupper": _Feature(lambda p: p - 1, lambda b, p: bollinger(b.close, p)[0]),
    "bblower": _Feature(lambda p: p - 1, lambda b, p: bollinger(b.close, p)[2]),
    "stochk": _Feature(lambda p: p + 3, lambda b, p: stochastic(b.high, b.low, b.close, p)[0]),
    "volsma": _Feature(lambda p: p - 1, lambda b, p: volume_sma(b.volume, p)),
    "close": _Feature(lambda p: 0, lambda b, p: b.close),
    "volume": _Feature(lambda p: 0, lambda b, p: b.volume),
}
DEFAULT_SPECS: tuple[tuple[str, int | None], ...] = (
    ("rsi", 14),
    ("atr", 14),
    ("sma", 20),
    ("sma", 50),
    ("ema", 12),
    ("ema", 26),
    ("bbupper", 20),
    ("bblower", 20),
    ("stochk", 14),
    ("volsma", 20),
    ("close", None),
    ("volume", None),
)


def _spec(spec: tuple[str, int | None]) -> tuple[str, _Feature, int]:
    name, param = spec
    if name not in DEFAULT_FEATURES:
        raise ValueError(f"specs: unknown indicator {name!r}; known {sorted(DEFAULT_FEATURES)}")
    if param is None:
        if DEFAULT_FEATURES[name].lookback(1) != 0:
            raise ValueError(f"specs: indicator {name!r} needs a period")
        return name, DEFAULT_FEATURES[name], 1
    return name, DEFAULT_FEATURES[name], _period(f"specs[{name}]", param, minimum=2)


def _timeframe_features(
    bars: Bars, tf: str, specs: Iterable[tuple[str, int | None]], z_lb: int, pct_lb: int
) -> dict[str, float]:
    out: dict[str, float] = {}
    for spec in specs:
        name, feature, p = _spec(spec)
        warm = feature.lookback(p)
        if len(bars) <= warm:
            continue
        key = f"{name}_{tf}" if spec[1] is None else f"{name}_{p}_{tf}"
        valid = feature.compute(bars, p)[warm:]
        out[key] = float(valid[-1])
        if len(valid) >= z_lb:
            out[f"zscore_{key}"] = zscore_last(valid, z_lb)
        if len(valid) >= pct_lb:
            out[f"percentile_{key}"] = percentile_rank_last(valid, pct_lb)
    return out


def feature_snapshot(
    bars: Bars | Mapping[str, Any] | NDArray[Any],
    timeframes: Iterable[str] = ("1m", "5m", "15m", "1h", "1d"),
    *,
    specs: Iterable[tuple[str, int | None]] = DEFAULT_SPECS,
    zscore_lookback: int = 20,
    percentile_lookback: int = 100,
) -> dict[str, float]:
    """The seed's ("Cream") multi-timeframe snapshot of the latest bar, as a flat dict.

    For each timeframe the bars are resampled (:func:`resample`) and each ``(indicator, period)``
    spec gives ``{indicator}_{period}_{timeframe}`` (e.g. ``rsi_14_1h``; raw series without a
    period, ``close`` and ``volume``, give ``{name}_{timeframe}``), the value on the latest bar.
    ``zscore_{key}`` is the z-score of that value among the last ``zscore_lookback`` post-warm-up
    values (population deviation, 0.0 for a constant window) and ``percentile_{key}`` its
    percentile rank (0-100, ties count half) among the last ``percentile_lookback`` values.
    A key whose timeframe has too few bars for its warm-up or lookback is left out, never NaN.
    """
    b = as_bars(bars)
    z_lb = _period("zscore_lookback", zscore_lookback, minimum=2)
    pct_lb = _period("percentile_lookback", percentile_lookback, minimum=2)
    spec_list = list(specs)
    tfs = list(timeframes)
    if not tfs:
        raise ValueError("timeframes: must name at least one timeframe")
    out: dict[str, float] = {}
    for tf in tfs:
        out.update(_timeframe_features(resample(b, tf), tf, spec_list, z_lb, pct_lb))
    if not out:
        raise ValueError(f"bars: {len(b)} bars are too few for any feature")
    return out
