"""Streaming indicators against TA-Lib (the outside oracle) over whole real series.

Long-run objects must give what TA-Lib gives over every point pushed so far; windowed ones
what TA-Lib gives over the last ``window`` points only, at every point of the series (and
over all points so far while fewer than ``window`` were pushed).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import talib

from shared_data import MARKET_DATA
from tradeswarm.quant.streaming import (
    RESYNC,
    Atr,
    Bollinger,
    Ema,
    RollingSum,
    RollingVariance,
    Rsi,
    Sma,
)

RTOL = 1e-10  # a few ulps of rounding in different orders, far below any price digit
WINDOW = 120


def _minute() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """High, low, close of the 30,889 real one-minute bars of January 2006."""
    path = MARKET_DATA / "2006-01-02-volume-min-001.txt"
    df = pd.read_csv(path, header=None, skiprows=1, usecols=[3, 4, 5])
    h, lo, c = (df[k].to_numpy(dtype=np.float64) for k in (3, 4, 5))
    assert len(c) == 30_889
    return h, lo, c


def _daily() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    df = pd.read_csv(MARKET_DATA / "nvda-1999-2014.txt")
    h, lo, c = (df[k].to_numpy(dtype=np.float64) for k in ("High", "Low", "Close"))
    return h, lo, c


SERIES = {"minute": _minute, "daily": _daily}


def _pushed(make, xs: np.ndarray, read) -> np.ndarray:  # type: ignore[no-untyped-def]
    obj = make()
    out = np.empty(len(xs))
    for i, x in enumerate(xs):
        obj.push(float(x))
        out[i] = read(obj)
    return out


@pytest.mark.parametrize("series", sorted(SERIES))
def test_long_run_indicators_equal_talib_over_the_whole_series(series: str) -> None:
    h, lo, c = SERIES[series]()
    assert len(c) > 2 * RESYNC  # the moving sums were re-summed along the way
    np.testing.assert_allclose(
        _pushed(lambda: Ema(12), c, lambda e: e.value()), talib.EMA(c, 12), rtol=RTOL
    )
    np.testing.assert_allclose(
        _pushed(lambda: Rsi(14), c, lambda r: r.value()), talib.RSI(c, 14), rtol=RTOL
    )
    np.testing.assert_allclose(
        _pushed(lambda: Sma(50), c, lambda s: s.value), talib.SMA(c, 50), rtol=RTOL
    )
    atr = Atr(14)
    ours = np.empty(len(c))
    for i in range(len(c)):
        atr.push(float(h[i]), float(lo[i]), float(c[i]))
        ours[i] = atr.value()
    np.testing.assert_allclose(ours, talib.ATR(h, lo, c, 14), rtol=RTOL)
    upper, middle, lower = talib.BBANDS(c, 20, 2.0, 2.0)
    bb = Bollinger(20, 2.0)
    got = np.array([(bb.push(float(x)), bb.bands())[1] for x in c])
    assert np.isnan(got[:19]).all()
    np.testing.assert_allclose(got[:, 0], upper, rtol=RTOL)
    np.testing.assert_allclose(got[:, 1], middle, rtol=RTOL)
    np.testing.assert_allclose(got[:, 2], lower, rtol=RTOL)


def _window_of(xs: np.ndarray, t: int) -> np.ndarray:
    return xs[max(0, t - WINDOW + 1) : t + 1]


@pytest.mark.parametrize("series", sorted(SERIES))
def test_windowed_indicators_equal_talib_run_over_each_window(series: str) -> None:
    h, lo, c = SERIES[series]()
    fast, slow, rsi, atr = Ema(12, WINDOW), Ema(26, WINDOW), Rsi(14, WINDOW), Atr(14, WINDOW)
    got = np.empty((len(c), 5))
    want = np.empty((len(c), 5))
    for t in range(len(c)):
        fast.push(float(c[t]))
        slow.push(float(c[t]))
        rsi.push(float(c[t]))
        atr.push(float(h[t]), float(lo[t]), float(c[t]))
        wc, wh, wl = _window_of(c, t), _window_of(h, t), _window_of(lo, t)
        got[t] = fast.value(), fast.value(1), slow.value(), rsi.value(), atr.value()
        ema12 = talib.EMA(wc, 12)
        want[t] = (
            ema12[-1],
            ema12[-2] if len(wc) > 1 else np.nan,
            talib.EMA(wc, 26)[-1],
            talib.RSI(wc, 14)[-1],
            talib.ATR(wh, wl, wc, 14)[-1],
        )
    assert np.isfinite(got[WINDOW:]).all()
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=1e-9)


def test_a_windowed_series_is_talibs_over_the_window_at_every_bar() -> None:
    h, lo, c = _minute()
    atr, ema = Atr(14, WINDOW), Ema(12, WINDOW)
    for t in range(2_000):
        atr.push(float(h[t]), float(lo[t]), float(c[t]))
        ema.push(float(c[t]))
        if t % 97 and t != 1_999:
            continue
        wh, wl, wc = _window_of(h, t), _window_of(lo, t), _window_of(c, t)
        want_atr = talib.ATR(wh, wl, wc, 14)
        np.testing.assert_allclose(atr.series(), want_atr[~np.isnan(want_atr)], rtol=RTOL)
        want_ema = talib.EMA(wc, 12)
        np.testing.assert_allclose(ema.series(), want_ema[~np.isnan(want_ema)], rtol=RTOL)
        previous = want_ema[-2] if len(wc) > 1 else np.nan
        np.testing.assert_allclose(ema.last_two(), (want_ema[-1], previous), rtol=RTOL)


def test_rolling_variance_equals_pandas_over_the_whole_series_with_an_infinity_passing() -> None:
    _, _, c = _minute()
    returns = np.log(c[1:] / c[:-1])
    returns[5_000] = np.inf  # one bad point: the window holding it is inf / NaN, then recovers
    rv = RollingVariance(30)
    got = np.array([(rv.push(float(x)), rv.variance())[1] for x in returns])
    want = pd.Series(returns).rolling(30, min_periods=2).var().to_numpy()
    bad = slice(5_000, 5_030)
    assert not np.isfinite(got[bad]).any()
    ok = np.ones(len(got), bool)
    ok[bad] = False
    ok[0] = False  # fewer than two values: NaN both ways
    assert np.isnan(got[0])
    np.testing.assert_allclose(got[ok], want[ok], rtol=1e-8, atol=1e-18)


def test_rolling_sum_equals_numpy_over_the_whole_series() -> None:
    _, _, c = _minute()
    rs = RollingSum(7)
    got = np.array([rs.push(float(x)) for x in c])
    want = pd.Series(c).rolling(7, min_periods=1).sum().to_numpy()
    np.testing.assert_allclose(got, want, rtol=RTOL)
    assert len(rs) == 7


@pytest.mark.parametrize(
    ("make", "field", "value"),
    [
        (lambda: Ema(0), "period", "0"),
        (lambda: Ema(True), "period", "True"),  # type: ignore[arg-type]
        (lambda: Ema(12, 11), "window", "11"),
        (lambda: Rsi(14, 14), "window", "14"),  # a window of 14 closes holds 13 changes
        (lambda: Atr(1), "period", "1"),
        (lambda: Sma(2.5), "period", "2.5"),  # type: ignore[arg-type]
        (lambda: Bollinger(20, float("nan")), "nbdev", "nan"),
        (lambda: Bollinger(20, -1.0), "nbdev", "-1.0"),
        (lambda: RollingVariance(1), "window", "1"),
    ],
)
def test_bad_parameters_are_refused_naming_the_field_and_value(make, field, value) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=rf"^{field}: .*got {value}$"):
        make()


def test_a_long_run_smoother_keeps_no_window_series() -> None:
    ema = Ema(3)
    for x in (1.0, 2.0, 3.0, 4.0):
        ema.push(x)
    with pytest.raises(ValueError, match="only a windowed smoother"):
        ema.series()
