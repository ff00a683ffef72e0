"""The rule-based regime classifier: metrics against TA-Lib and scipy, the seed's rule order."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import talib
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from shared_data import MARKET_DATA
from tradeswarm.quant.regime import Regime, RuleConfig, classify_regime, regime_features

DATA = MARKET_DATA


def _nvda() -> pd.DataFrame:
    path = DATA / "nvda-1999-2014.txt"
    assert path.exists(), f"shared market data missing: {path}"
    return pd.read_csv(path)


def test_metrics_equal_talib_and_scipy_on_nvda_windows() -> None:
    df = _nvda()
    h, lo, c = (df[k].to_numpy(dtype=np.float64) for k in ("High", "Low", "Close"))
    seen = set()
    for end in range(200, len(c), 61):
        got = classify_regime(h[end - 200 : end], lo[end - 200 : end], c[end - 200 : end])
        window_c = c[end - 200 : end]
        atrs = talib.ATR(h[end - 200 : end], lo[end - 200 : end], window_c, 14)[-100:]
        assert got.fast_ma == talib.SMA(window_c, 20)[-1]
        assert got.slow_ma == talib.SMA(window_c, 50)[-1]
        assert got.current_atr == atrs[-1]
        assert got.atr_percentile == pytest.approx(
            stats.percentileofscore(atrs, atrs[-1], kind="mean")
        )
        assert 0.0 <= got.confidence <= 1.0
        seen.add(got.regime)
    assert seen == {
        Regime.BULL_TREND,
        Regime.BEAR_TREND,
        Regime.RANGE_BOUND,
        Regime.HIGH_VOL,
        Regime.LOW_VOL,
    }


def _path(drift: float, vol: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    close = 100 * np.exp(np.cumsum(drift + 0 * vol))
    return close + vol, close - vol, close


def test_volatility_overrides_trend_and_trend_sets_the_side() -> None:
    calm = np.full(150, 0.5)
    assert classify_regime(*_path(0.002, calm)).regime is Regime.BULL_TREND
    assert classify_regime(*_path(-0.002, calm)).regime is Regime.BEAR_TREND
    spike = calm.copy()
    spike[-15:] = 5.0
    hot = classify_regime(*_path(0.002, spike))
    assert hot.regime is Regime.HIGH_VOL and hot.confidence > 0.8
    quiet = calm.copy()
    quiet[-15:] = 0.05
    assert classify_regime(*_path(0.002, quiet)).regime is Regime.LOW_VOL
    assert classify_regime(*_path(0.0, quiet)).regime is Regime.RANGE_BOUND


def test_flat_prices_are_range_bound_with_full_confidence() -> None:
    flat = np.full(120, 50.0)
    got = classify_regime(flat, flat, flat)
    assert (got.regime, got.confidence, got.atr_percentile) == (Regime.RANGE_BOUND, 1.0, 50.0)


def test_low_vol_confidence_grows_as_the_percentile_falls() -> None:
    """The seed's reference swaps arguments here: (20 - p) / p instead of (20 - p) / 20."""
    confidences = []
    for quiet in (0.2, 0.1, 0.02):
        vol = np.full(150, 0.5)
        vol[-(15 + int(10 * quiet)) :] = quiet
        got = classify_regime(*_path(0.002, vol))
        assert got.regime is Regime.LOW_VOL
        assert got.confidence == pytest.approx((20 - got.atr_percentile) / 20)
        confidences.append(got.confidence)
    assert confidences == sorted(confidences)


def test_too_few_bars_is_unknown_but_malformed_input_is_an_error() -> None:
    x = np.linspace(1, 2, 49)
    got = classify_regime(x + 1, x, x)
    assert (got.regime, got.confidence) == (Regime.UNKNOWN, 0.0)
    with pytest.raises(ValueError, match=r"^close: non-finite value nan"):
        classify_regime(x + 1, x, np.r_[x[:-1], np.nan])
    with pytest.raises(ValueError, match=r"^high: needs at least 1 values, got 0"):
        classify_regime([], [], [])
    with pytest.raises(ValueError, match=r"^fast: must be in \[1, slow=10\)"):
        RuleConfig(fast=20, slow=10)
    with pytest.raises(ValueError, match=r"^low_vol_pct, high_vol_pct"):
        RuleConfig(low_vol_pct=90)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 200))
def test_any_valid_series_gets_a_label_and_a_confidence_in_range(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    spread = np.abs(rng.normal(0, 0.5, n))
    got = classify_regime(close + spread, close - spread, close)
    assert 0.0 <= got.confidence <= 1.0
    assert (got.regime is Regime.UNKNOWN) == (n < RuleConfig().required_bars)


def test_regime_features_are_log_returns_and_rolling_std() -> None:
    c = _nvda()["Close"].to_numpy()
    x = regime_features(c, 20)
    r = pd.Series(np.log(c)).diff()
    np.testing.assert_allclose(x[:, 0], r.to_numpy()[20:])
    np.testing.assert_allclose(x[:, 1], r.rolling(20).std().to_numpy()[20:], rtol=1e-9)
    with pytest.raises(ValueError, match=r"^close: must be > 0"):
        regime_features(np.r_[c[:30], 0.0], 5)
