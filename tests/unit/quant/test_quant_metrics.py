"""quant.metrics against pandas formulas and PyPortfolioOpt's helpers on real SPY prices."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from pypfopt import expected_returns
from pypfopt.base_optimizer import portfolio_performance
from scipy.stats import linregress

from shared_data import MARKET_DATA
from tradeswarm.quant import metrics

MARKET = MARKET_DATA


def _spy_prices() -> pd.DataFrame:
    return pd.read_csv(MARKET / "spy_prices.csv", index_col=0, parse_dates=True)


def _spy_returns() -> pd.Series:
    return _spy_prices()["SPY"].pct_change().dropna()


def test_sharpe_equals_pypfopt_portfolio_performance_on_spy() -> None:
    r = _spy_returns()
    mu = pd.Series([r.mean() * 252], index=["SPY"])
    cov = pd.DataFrame([[r.var(ddof=1) * 252]], index=["SPY"], columns=["SPY"])
    _, _, expected = portfolio_performance(np.array([1.0]), mu, cov, risk_free_rate=0.0)
    assert metrics.sharpe(r.to_numpy()) == pytest.approx(expected, rel=1e-10)


def test_sharpe_with_risk_free_equals_the_pandas_formula() -> None:
    r = _spy_returns()
    excess = r - 0.03 / 252
    expected = excess.mean() / excess.std() * np.sqrt(252)
    assert metrics.sharpe(r.to_numpy(), 0.03) == pytest.approx(expected, rel=1e-12)
    assert metrics.sharpe(r.to_numpy()[::21], 0.0, 12) == pytest.approx(
        r.iloc[::21].mean() / r.iloc[::21].std() * np.sqrt(12)
    )


def test_sortino_equals_the_pandas_formula() -> None:
    r = _spy_returns()
    downside = np.sqrt((r.clip(upper=0) ** 2).mean())
    assert metrics.sortino(r.to_numpy()) == pytest.approx(r.mean() / downside * np.sqrt(252))
    t = 0.0005
    downside_t = np.sqrt(((r - t).clip(upper=0) ** 2).mean())
    assert metrics.sortino(r.to_numpy(), t) == pytest.approx(
        (r - t).mean() / downside_t * np.sqrt(252)
    )


def test_max_drawdown_equals_pandas_cummax_and_covers_2008() -> None:
    prices = _spy_prices()["SPY"]
    expected = (1 - prices / prices.cummax()).max()
    assert metrics.max_drawdown(prices.to_numpy()) == pytest.approx(expected, rel=1e-12)
    assert 0.5 < expected < 0.6  # the 2007-2009 fall in SPY, total return


def test_calmar_is_pypfopt_compounded_return_over_the_drawdown() -> None:
    prices = _spy_prices()
    cagr = float(expected_returns.mean_historical_return(prices, compounding=True).iloc[0])
    r = prices["SPY"].pct_change().dropna().to_numpy()
    assert metrics.cagr(r) == pytest.approx(cagr, rel=1e-10)
    dd = (1 - prices["SPY"] / prices["SPY"].cummax()).max()
    assert metrics.calmar(r) == pytest.approx(cagr / dd, rel=1e-10)


def test_hit_rate_and_turnover() -> None:
    r = _spy_returns()
    assert metrics.hit_rate(r.to_numpy()) == pytest.approx((r > 0).sum() / (r != 0).sum())
    assert metrics.hit_rate([0.0, 0.0]) is None
    w = np.array([[0.5, 0.5], [0.7, 0.3], [0.7, 0.3]])
    assert metrics.turnover(w) == pytest.approx((0.2 + 0.0) / 2)
    assert metrics.turnover(w, one_way=False) == pytest.approx(0.2)


def test_alpha_decay_matches_linregress_of_window_sharpes() -> None:
    r = _spy_returns().to_numpy()[-2520:]
    got = metrics.alpha_decay(r, window=126)
    chunks = r.reshape(20, 126)
    sharpes = chunks.mean(axis=1) / chunks.std(axis=1, ddof=1) * np.sqrt(252)
    np.testing.assert_allclose(got.window_sharpes, sharpes, rtol=1e-12)
    fit = linregress((np.arange(20) + 0.5) * 0.5, sharpes)
    assert got.slope_per_year == pytest.approx(fit.slope)
    assert got.p_value == pytest.approx(fit.pvalue)


def test_alpha_decay_detects_an_edge_that_fades() -> None:
    rng = np.random.default_rng(7)
    edge = np.linspace(0.002, -0.0005, 2520)
    got = metrics.alpha_decay(edge + rng.normal(0, 0.005, 2520), window=126)
    assert got.decaying()
    steady = metrics.alpha_decay(0.0005 + rng.normal(0, 0.005, 2520), window=126)
    assert not steady.decaying()


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, st.integers(2, 200), elements=st.floats(-0.5, 0.5)))
def test_metrics_are_finite_or_none_never_nan(r: np.ndarray) -> None:
    for value in (metrics.sharpe(r), metrics.sortino(r), metrics.calmar(r)):
        assert value is None or np.isfinite(value)
    assert 0.0 <= metrics.max_drawdown(metrics.equity_curve(r)) <= 1.0


def test_flat_series_has_no_sharpe_sortino_or_calmar() -> None:
    flat = np.zeros(30)
    assert metrics.sharpe(flat) is None
    assert metrics.sortino(flat) is None
    assert metrics.calmar(flat) is None
    assert metrics.max_drawdown(np.full(10, 100.0)) == 0.0


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: metrics.sharpe([0.01]), "returns"),
        (lambda: metrics.sharpe([0.01, np.nan]), "returns"),
        (lambda: metrics.sortino([0.01, 0.02], periods_per_year=0), "periods_per_year"),
        (lambda: metrics.max_drawdown([100.0, 0.0]), "values"),
        (lambda: metrics.calmar([0.1, -1.2]), "returns"),
        (lambda: metrics.hit_rate([]), "pnl"),
        (lambda: metrics.turnover([[0.5, 0.5]]), "weights"),
        (lambda: metrics.alpha_decay(np.zeros(100), window=63), "returns"),
        (lambda: metrics.alpha_decay(np.zeros(100), window=1), "window"),
    ],
)
def test_bad_input_raises_a_value_error_naming_the_argument(call: object, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        call()  # type: ignore[operator]
