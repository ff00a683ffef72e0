"""Indicator wrappers against TA-Lib, resampling against pandas, normalisation against scipy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import talib
from scipy import stats
from talib import abstract

from shared_data import MARKET_DATA
from tradeswarm.quant import indicators as ind

DATA = MARKET_DATA


def _daily() -> pd.DataFrame:
    path = DATA / "nvda-1999-2014.txt"
    assert path.exists(), f"shared market data missing: {path}"
    return pd.read_csv(path)


def _minute() -> pd.DataFrame:
    path = DATA / "2006-01-02-volume-min-001.txt"
    assert path.exists(), f"shared market data missing: {path}"
    names = ["d", "t", "open", "high", "low", "close", "volume", "oi"]
    df = pd.read_csv(path, header=None, skiprows=1, names=names)
    df.index = pd.to_datetime(df.d + " " + df.t).astype("datetime64[ns]")
    return df[["open", "high", "low", "close", "volume"]].astype(np.float64)


def _bars(df: pd.DataFrame) -> ind.Bars:
    cols = {c: df[c].to_numpy() for c in ("open", "high", "low", "close", "volume")}
    return ind.as_bars({"ts": df.index.asi8, **cols})


def test_wrappers_equal_talib_on_nvda_daily_bars() -> None:
    df = _daily()
    h, lo, c, v = (df[k].to_numpy(dtype=np.float64) for k in ("High", "Low", "Close", "Volume"))
    pairs = [
        (ind.sma(c, 20), talib.SMA(c, 20)),
        (ind.ema(c, 12), talib.EMA(c, 12)),
        (ind.rsi(c, 14), talib.RSI(c, 14)),
        (ind.atr(h, lo, c, 14), talib.ATR(h, lo, c, 14)),
        (ind.volume_sma(v, 20), talib.SMA(v, 20)),
        (ind.obv(c, v), talib.OBV(c, v)),
        (ind.adx(h, lo, c, 14), talib.ADX(h, lo, c, 14)),
        *zip(ind.bollinger(c, 20, 2.5), talib.BBANDS(c, 20, 2.5, 2.5), strict=True),
        *zip(
            ind.stochastic(h, lo, c, 14, 3, 3), talib.STOCH(h, lo, c, 14, 3, 0, 3, 0), strict=True
        ),
        *zip(ind.macd(c, 12, 26, 9), talib.MACD(c, 12, 26, 9), strict=True),
    ]
    for ours, theirs in pairs:
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize(
    ("call", "name", "params"),
    [
        (lambda x, p: ind.sma(x, p["timeperiod"]), "SMA", {"timeperiod": 7}),
        (lambda x, p: ind.ema(x, p["timeperiod"]), "EMA", {"timeperiod": 9}),
        (lambda x, p: ind.rsi(x, p["timeperiod"]), "RSI", {"timeperiod": 5}),
        (lambda x, p: ind.atr(x + 1, x, x, p["timeperiod"]), "ATR", {"timeperiod": 6}),
        (lambda x, p: ind.adx(x + 1, x, x, p["timeperiod"]), "ADX", {"timeperiod": 4}),
        (lambda x, p: ind.bollinger(x, p["timeperiod"])[0], "BBANDS", {"timeperiod": 8}),
        (
            lambda x, p: ind.stochastic(x + 1, x, x, p["fastk_period"])[1],
            "STOCH",
            {"fastk_period": 6},
        ),
        (
            lambda x, p: ind.macd(x, 5, 11, 4)[1],
            "MACD",
            {"fastperiod": 5, "slowperiod": 11, "signalperiod": 4},
        ),
    ],
)
def test_shortest_accepted_series_gives_exactly_one_value(call, name, params) -> None:  # type: ignore[no-untyped-def]
    lookback = abstract.Function(name, **params).lookback
    x = np.linspace(10.0, 20.0, lookback + 1) + np.sin(np.arange(lookback + 1))
    out = call(x, params)
    assert np.isnan(out[:lookback]).all() and np.isfinite(out[lookback])
    with pytest.raises(ValueError, match="needs at least"):
        call(x[:-1], params)


@pytest.mark.parametrize("timeframe", ["1m", "5m", "15m", "30m", "1h", "4h", "1d"])
def test_resample_equals_pandas_resample_agg_on_real_minute_bars(timeframe: str) -> None:
    df = _minute()
    ours = ind.resample(_bars(df), timeframe)
    rule = {"1m": "1min", "5m": "5min", "15m": "15min", "30m": "30min", "1d": "1D"}.get(
        timeframe, timeframe
    )
    agg = {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}
    theirs = df.resample(rule).agg(agg).dropna(subset=["open"])
    np.testing.assert_array_equal(ours.ts, theirs.index.asi8)
    for col in agg:
        np.testing.assert_array_equal(getattr(ours, col), theirs[col].to_numpy(), err_msg=col)


def test_zscore_and_percentile_equal_scipy_on_real_closes() -> None:
    c = _daily()["Close"].to_numpy()
    for end in range(300, len(c), 397):
        for lookback in (5, 20, 252):
            window = c[end - lookback : end]
            assert ind.zscore_last(c[:end], lookback) == pytest.approx(
                stats.zscore(window)[-1], rel=1e-9, abs=1e-12
            )
            assert ind.percentile_rank_last(c[:end], lookback) == pytest.approx(
                stats.percentileofscore(window, window[-1], kind="mean"), abs=1e-9
            )


def test_feature_snapshot_matches_pandas_talib_scipy_recomputation() -> None:
    df = _minute()
    snap = ind.feature_snapshot(_bars(df), ("5m", "1h", "1d"), zscore_lookback=20)
    hourly = df.resample("1h").agg(
        {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}
    )
    hourly = hourly.dropna(subset=["open"])
    h, lo, c = (hourly[k].to_numpy() for k in ("high", "low", "close"))
    rsi = talib.RSI(c, 14)[14:]
    assert snap["rsi_14_1h"] == rsi[-1]
    assert snap["zscore_rsi_14_1h"] == pytest.approx(stats.zscore(rsi[-20:])[-1], rel=1e-9)
    assert snap["percentile_rsi_14_1h"] == pytest.approx(
        stats.percentileofscore(rsi[-100:], rsi[-1], kind="mean")
    )
    assert snap["atr_14_1h"] == talib.ATR(h, lo, c, 14)[-1]
    assert snap["sma_50_1h"] == talib.SMA(c, 50)[-1]
    assert snap["volume_1h"] == hourly["volume"].iloc[-1]
    days = len(df.resample("1D").agg({"open": "first"}).dropna())
    assert days == 41  # 22 post-warm-up sma_20 values: a z-score, no 100-day percentile
    assert {"sma_20_1d", "zscore_sma_20_1d"} <= snap.keys()
    assert "percentile_sma_20_1d" not in snap and "sma_50_1d" not in snap
    assert all(np.isfinite(v) for v in snap.values())
    assert set(k.split("_")[-1] for k in snap) == {"5m", "1h", "1d"}
