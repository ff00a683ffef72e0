"""Drift and forecast scoring against scipy, scikit-learn and cvxpy; the crash sentinel on SPY."""

from __future__ import annotations

import cvxpy as cp
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import integrate, special, stats
from sklearn.metrics import brier_score_loss

from shared_data import MARKET_DATA
from tradeswarm.quant import drift

DATA = MARKET_DATA


def _spy() -> pd.DataFrame:
    path = DATA / "spy_prices.csv"
    assert path.exists(), f"shared market data missing: {path}"
    return pd.read_csv(path, parse_dates=["date"])


def _spy_returns() -> np.ndarray:
    return np.diff(np.log(_spy()["SPY"].to_numpy()))


def test_psi_is_the_symmetrised_kl_divergence_of_the_binned_shares() -> None:
    r = _spy_returns()
    before, after = r[:2000], r[3700:4200]  # 1993-2000 against the 2007-2009 crash
    edges = np.quantile(before, np.linspace(0, 1, 11))
    edges[0], edges[-1] = -np.inf, np.inf
    p = np.histogram(before, edges)[0] / len(before)
    q = np.histogram(after, edges)[0] / len(after)
    oracle = stats.entropy(p, q) + stats.entropy(q, p)  # = sum (q - p) ln(q / p)
    assert drift.psi(before, after) == pytest.approx(oracle, rel=1e-9)
    assert drift.psi(before, after) > 0.1  # the volatility regime moved
    assert drift.psi(before, before) == 0.0


def test_psi_floors_an_empty_bin_at_epsilon() -> None:
    expected = np.arange(100.0)
    actual = np.full(50, 5.0)  # everything falls into the first decile
    p = np.full(10, 0.1)
    q = np.r_[1.0, np.full(9, drift.PSI_EPSILON)]
    assert drift.psi(expected, actual) == pytest.approx(float(np.sum((q - p) * np.log(q / p))))
    assert np.isfinite(drift.psi(np.ones(20), np.zeros(20)))  # constant data: one edge


def test_ks_equals_scipy_on_real_returns() -> None:
    r = _spy_returns()
    for a, b in [(r[:500], r[500:1500]), (r[:3000], r[3000:]), (r[4000:4100], r[4100:4113])]:
        d, p = drift.ks(a, b)
        assert d == pytest.approx(stats.ks_2samp(a, b).statistic, abs=1e-15)
        assert p == pytest.approx(stats.ks_2samp(a, b, method="asymp").pvalue, rel=1e-9)
    assert drift.ks([0.0], [0.0]) == (0.0, 1.0)  # scipy's asymptotic p divides by zero here
    assert drift.ks([0.0], [1.0])[0] == 1.0


@settings(max_examples=30, deadline=None)
@given(
    a=arrays(np.float64, st.integers(2, 60), elements=st.integers(-5, 5).map(float)),
    b=arrays(np.float64, st.integers(2, 60), elements=st.integers(-5, 5).map(float)),
)
def test_ks_statistic_equals_scipy_with_ties(a: np.ndarray, b: np.ndarray) -> None:
    oracle = stats.ks_2samp(a, b, method="asymp")  # same statistic; the exact p can warn
    assert drift.ks(a, b) == pytest.approx((oracle.statistic, oracle.pvalue), abs=1e-12)


def _crps_by_integration(cdf, y: float, lo: float, hi: float) -> float:  # type: ignore[no-untyped-def]
    left = integrate.quad(lambda z: cdf(z) ** 2, lo, y, limit=200)[0]
    right = integrate.quad(lambda z: (1 - cdf(z)) ** 2, y, hi, limit=200)[0]
    return left + right


@pytest.mark.parametrize(
    ("mu", "sigma", "y"), [(0, 1, 0), (0.3, 2.0, -1.5), (-1, 0.1, 4), (5, 3, 5.5)]
)
def test_crps_gaussian_equals_the_integral_definition(mu: float, sigma: float, y: float) -> None:
    cdf = stats.norm(mu, sigma).cdf
    expected = _crps_by_integration(cdf, y, mu - 40 * sigma, mu + 40 * sigma)
    assert drift.crps_gaussian(mu, sigma, y)[0] == pytest.approx(expected, rel=1e-7)


def test_crps_ensemble_equals_the_integral_of_the_empirical_cdf() -> None:
    r = _spy_returns()
    members = np.stack([r[i : i + 25] for i in range(0, 2500, 250)])
    outcomes = r[5000:5010]
    ours = drift.crps_ensemble(members, outcomes)
    for row, y, got in zip(members, outcomes, ours, strict=True):
        xs = np.sort(row)
        grid = np.sort(np.r_[xs, y])
        cdf = lambda z, xs=xs: np.searchsorted(xs, z, side="right") / len(xs)
        mids = (grid[:-1] + grid[1:]) / 2
        exact = float(np.sum((cdf(mids) - (mids >= y)) ** 2 * np.diff(grid)))
        assert got == pytest.approx(exact, rel=1e-10, abs=1e-15)
    one_member = drift.crps_ensemble([[0.5]], [2.0])
    assert one_member[0] == pytest.approx(1.5)  # a point forecast scores its absolute error


def test_brier_equals_sklearn() -> None:
    rng = np.random.default_rng(3)
    p = rng.uniform(size=200)
    y = (rng.uniform(size=200) < p).astype(float)
    assert drift.brier(p, y) == pytest.approx(brier_score_loss(y, p), rel=1e-12)
    with pytest.raises(ValueError, match=r"^outcome: must be 0 or 1, got 0.5"):
        drift.brier([0.2], [0.5])
    with pytest.raises(ValueError, match=r"^prob: must lie in \[0, 1\], got 1.5"):
        drift.brier([1.5], [1.0])


def _cvxpy_weights(y: np.ndarray, f: np.ndarray, lam: float) -> tuple[np.ndarray, float]:
    w = cp.Variable(f.shape[1])
    objective = cp.sum_squares(y - f @ w) + lam * cp.sum_squares(w)
    problem = cp.Problem(cp.Minimize(objective), [w >= 0, cp.sum(w) == 1])
    problem.solve(solver=cp.CLARABEL)
    return np.asarray(w.value), float(problem.value)


@pytest.mark.parametrize("lam", [0.0, 1e-4, 1e-2])
def test_ensemble_weights_equal_cvxpy_on_real_forecasts(lam: float) -> None:
    """Forecast SPY's next-day return from momentum, reversal and zero-mean components."""
    r = _spy_returns()[-1500:]
    target = r[20:]
    forecasts = np.column_stack(
        [pd.Series(r).rolling(k).mean().to_numpy()[19:-1] for k in (1, 5, 20)]
        + [np.zeros(len(target))]
    )
    ours = drift.ensemble_weights(target, forecasts, lam)
    theirs, best = _cvxpy_weights(target, forecasts, lam)
    value = float(np.sum((target - forecasts @ ours) ** 2) + lam * np.sum(ours**2))
    assert value <= best * (1 + 1e-7) + 1e-12
    assert (ours >= 0).all() and ours.sum() == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(1, 6), lam=st.sampled_from([0.0, 0.1]))
def test_ensemble_weights_reach_the_cvxpy_optimum_on_generated_problems(
    seed: int, k: int, lam: float
) -> None:
    rng = np.random.default_rng(seed)
    f = rng.normal(size=(40, k))
    if k > 2:
        f[:, 2] = f[:, 1]  # collinear forecasters: the weights are not unique, the value is
    y = f @ rng.dirichlet(np.ones(k)) + rng.normal(scale=0.3, size=40)
    ours = drift.ensemble_weights(y, f, lam)
    _, best = _cvxpy_weights(y, f, lam)
    value = float(np.sum((y - f @ ours) ** 2) + lam * np.sum(ours**2))
    assert value <= best * (1 + 1e-6) + 1e-9
    assert (ours >= 0).all() and ours.sum() == pytest.approx(1.0, abs=1e-12)


def test_bma_weights_equal_softmax_of_log_posterior() -> None:
    ll = np.array([-1200.5, -1190.0, -1189.2, -5000.0])
    prior = np.array([1.0, 2.0, 1.0, 4.0])
    expected = special.softmax(ll + np.log(prior / prior.sum()))
    np.testing.assert_allclose(drift.bma_weights(ll, prior), expected, rtol=1e-12)
    np.testing.assert_allclose(drift.bma_weights(ll), special.softmax(ll), rtol=1e-12)
    with pytest.raises(ValueError, match=r"^prior: expected 4 positive weights"):
        drift.bma_weights(ll, [1.0, 0.0, 1.0, 1.0])


def test_sentinel_components_equal_pandas_rolling_statistics() -> None:
    r = _spy_returns()[:1000]
    reading = drift.crash_sentinel(r, window=20, baseline=250)
    s = pd.Series(r)
    acf = s.rolling(20).apply(lambda w: w.autocorr(1), raw=False).to_numpy()
    var = s.rolling(20).var().to_numpy()
    for name, series in (("acf1", acf), ("variance", var)):
        base = series[-251:-1]
        expected = (series[-1] - base.mean()) / base.std(ddof=1)
        assert reading.components[name] == pytest.approx(expected, rel=1e-9), name
    assert reading.score == pytest.approx(sum(reading.components.values()))


def test_sentinel_cuts_exposure_in_october_2008_and_stays_calm_in_2005() -> None:
    spy = _spy()
    r = _spy_returns()
    dates = spy["date"].to_numpy()[1:]
    at = lambda day: int(np.searchsorted(dates, np.datetime64(day)))
    crash = drift.crash_sentinel(r[: at("2008-10-10") + 1])
    calm = drift.crash_sentinel(r[: at("2005-06-15") + 1])
    assert crash.action is not drift.SentinelAction.NONE and crash.exposure <= 0.5
    assert crash.components["variance"] > 3
    assert calm.action is drift.SentinelAction.NONE and calm.exposure == 1.0


def test_sentinel_sell_pressure_raises_the_score() -> None:
    """The seed adds z(imbalance): heavy selling (imbalance < 0) would lower the score."""
    rng = np.random.default_rng(0)
    r = rng.normal(0, 0.01, 400)
    imbalance = rng.normal(0, 0.1, 400)
    imbalance[-1] = -0.9  # the book is all asks
    reading = drift.crash_sentinel(r, imbalance=imbalance)
    assert reading.components["sell_pressure"] > 5


def test_sentinel_rejects_bad_input() -> None:
    r = np.zeros(300)
    with pytest.raises(ValueError, match=r"^returns: needs at least 270 values, got 260"):
        drift.crash_sentinel(r[:260])
    with pytest.raises(ValueError, match=r"^reduce_at, flatten_at"):
        drift.crash_sentinel(r, reduce_at=5, flatten_at=2)
    with pytest.raises(ValueError, match=r"^imbalance: expected one value per return"):
        drift.crash_sentinel(r, imbalance=np.zeros(299))
    flat = drift.crash_sentinel(r)  # all-equal prices: autocorrelation 0, nothing to see
    assert flat.score == 0.0 and flat.action is drift.SentinelAction.NONE
