"""Indicator wrappers and bars on generated, degenerate and malformed input."""

from __future__ import annotations

import numpy as np
import pytest
import talib
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from tradeswarm.quant import indicators as ind

prices = arrays(
    np.float64,
    st.integers(30, 120),
    elements=st.floats(1.0, 1e4, allow_nan=False, allow_infinity=False),
)


@settings(max_examples=40, deadline=None)
@given(close=prices, period=st.integers(2, 25))
def test_wrappers_equal_talib_and_are_finite_after_warm_up(close: np.ndarray, period: int) -> None:
    high, low = close * 1.01, close * 0.99
    for ours, theirs, warm in [
        (ind.sma(close, period), talib.SMA(close, period), period - 1),
        (ind.ema(close, period), talib.EMA(close, period), period - 1),
        (ind.rsi(close, period), talib.RSI(close, period), period),
        (ind.atr(high, low, close, period), talib.ATR(high, low, close, period), period),
    ]:
        np.testing.assert_array_equal(ours, theirs)
        assert np.isfinite(ours[warm:]).all()


def test_all_equal_prices_give_finite_values() -> None:
    flat = np.full(80, 42.0)
    assert (ind.rsi(flat)[14:] == 0.0).all()  # TA-Lib's convention for no movement
    assert (ind.atr(flat, flat, flat)[14:] == 0.0).all()
    upper, _, lower = ind.bollinger(flat)
    assert (upper[19:] == 42.0).all() and (lower[19:] == 42.0).all()
    assert ind.zscore_last(flat, 20) == 0.0
    assert ind.percentile_rank_last(flat, 20) == 50.0


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda x: ind.sma(x, 5), "close"),
        (lambda x: ind.rsi(x, 5), "close"),
        (lambda x: ind.atr(x + 1, x, x, 5), "high"),
        (lambda x: ind.volume_sma(x, 5), "volume"),
        (lambda x: ind.zscore_last(x, 5), "values"),
    ],
)
def test_nan_in_input_is_an_error_naming_the_argument(call, argument) -> None:  # type: ignore[no-untyped-def]
    x = np.linspace(1.0, 2.0, 30)
    x[17] = np.nan
    with pytest.raises(ValueError, match=rf"^{argument}: non-finite value nan at index \(17,\)"):
        call(x)


@pytest.mark.parametrize("period", [0, -3, 1.5, True, 100_001])
def test_bad_period_is_an_error_naming_it(period: object) -> None:
    with pytest.raises(ValueError, match=r"^period: "):
        ind.sma(np.arange(50.0), period)  # type: ignore[arg-type]


def test_empty_and_short_series_are_errors() -> None:
    with pytest.raises(ValueError, match=r"^close: needs at least 20 values, got 0"):
        ind.sma([], 20)
    with pytest.raises(ValueError, match=r"^close: needs at least 15 values, got 14"):
        ind.rsi(np.arange(14.0), 14)
    with pytest.raises(ValueError, match=r"^values: needs at least 20 values"):
        ind.percentile_rank_last(np.arange(5.0), 20)


def test_mismatched_and_inverted_ohlc_are_errors() -> None:
    x = np.arange(1.0, 31.0)
    with pytest.raises(ValueError, match=r"^high, low, close: lengths differ"):
        ind.atr(x, x[:-1], x)
    low = x.copy()
    low[9] = 99.0
    with pytest.raises(ValueError, match=r"^high: below low at index 9"):
        ind.atr(x, low, x)
    with pytest.raises(ValueError, match=r"^fast: must be below slow"):
        ind.macd(x, 26, 12)
    with pytest.raises(ValueError, match=r"^nbdev: "):
        ind.bollinger(x, 5, float("nan"))


def _bars(n: int = 10) -> dict[str, np.ndarray]:
    ts = np.arange(n, dtype=np.int64) * 60_000_000_000
    x = np.linspace(10, 11, n)
    return {"ts": ts, "open": x, "high": x + 1, "low": x - 1, "close": x, "volume": np.ones(n)}


def test_bars_are_checked_field_by_field() -> None:
    b = _bars()
    assert len(ind.as_bars(b)) == 10
    structured = np.zeros(10, dtype=[(k, "i8" if k == "ts" else "f8") for k in b])
    for k, v in b.items():
        structured[k] = v
    np.testing.assert_array_equal(ind.as_bars(structured).close, b["close"])
    with pytest.raises(ValueError, match=r"^bars: missing field 'volume'"):
        ind.as_bars({k: v for k, v in b.items() if k != "volume"})
    with pytest.raises(ValueError, match=r"^bars.ts: not strictly increasing at index 3"):
        ind.as_bars({**b, "ts": np.r_[b["ts"][:3], b["ts"][2:9]]})
    with pytest.raises(ValueError, match=r"^bars.ts: expected a non-empty 1-D integer"):
        ind.as_bars({**b, "ts": b["ts"].astype(float)})
    with pytest.raises(ValueError, match=r"^bars.close: non-finite value nan at index \(4,\)"):
        ind.as_bars({**b, "close": np.where(np.arange(10) == 4, np.nan, b["close"])})
    with pytest.raises(ValueError, match=r"^bars.volume: negative at index 0"):
        ind.as_bars({**b, "volume": -b["volume"]})
    with pytest.raises(ValueError, match=r"^bars.open: length 9 differs"):
        ind.as_bars({**b, "open": b["open"][:-1]})


def test_snapshot_rejects_unknown_timeframes_specs_and_too_few_bars() -> None:
    b = _bars(10)
    with pytest.raises(ValueError, match=r"^timeframe: expected one of"):
        ind.feature_snapshot(b, ("2m",))
    with pytest.raises(ValueError, match=r"^specs: unknown indicator 'vwap'"):
        ind.feature_snapshot(b, ("1m",), specs=[("vwap", 14)])
    with pytest.raises(ValueError, match=r"^bars: 10 bars are too few for any feature"):
        ind.feature_snapshot(b, ("1m",), specs=[("sma", 20)])
    snap = ind.feature_snapshot(b, ("1m",), specs=[("sma", 5), ("close", None)], zscore_lookback=3)
    assert snap.keys() == {"sma_5_1m", "zscore_sma_5_1m", "close_1m", "zscore_close_1m"}


@settings(max_examples=30, deadline=None)
@given(
    gaps=arrays(np.int64, st.integers(1, 300), elements=st.integers(1, 7_200)),
    tf=st.sampled_from(sorted(ind.TIMEFRAMES)),
)
def test_resample_conserves_volume_and_extremes(gaps: np.ndarray, tf: str) -> None:
    ts = np.cumsum(gaps) * 1_000_000_000
    rng = np.random.default_rng(len(gaps))
    close = 100 + np.cumsum(rng.normal(size=len(ts)))
    bars = {
        "ts": ts,
        "open": close,
        "high": close + 1,
        "low": close - 1,
        "close": close,
        "volume": rng.integers(0, 100, len(ts)).astype(float),
    }
    out = ind.resample(bars, tf)
    assert out.volume.sum() == bars["volume"].sum()
    assert out.high.max() == bars["high"].max() and out.low.min() == bars["low"].min()
    assert out.open[0] == close[0] and out.close[-1] == close[-1]
    assert (np.diff(out.ts) > 0).all() and (out.ts % ind.TIMEFRAMES[tf] == 0).all()
