"""GMM vs scikit-learn, HMM vs hmmlearn, BOCPD vs a direct O(T^2) implementation and SPY."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hmmlearn.hmm import GaussianHMM
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from sklearn.mixture import GaussianMixture as SkGaussianMixture

from shared_data import MARKET_DATA
from tradeswarm.quant import regime

DATA = MARKET_DATA


def _spy() -> pd.DataFrame:
    path = DATA / "spy_prices.csv"
    assert path.exists(), f"shared market data missing: {path}"
    return pd.read_csv(path, parse_dates=["date"])


def _spy_features() -> np.ndarray:
    x = regime.regime_features(_spy()["SPY"].to_numpy(), 20)
    return x / x.std(axis=0)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_gmm_from_the_same_start_equals_sklearn_em_on_spy_features() -> None:
    """Forty EM iterations each from the same parameters give the same parameters."""
    x = _spy_features()
    start = regime.fit_gmm(x, 3, max_iter=1)  # one EM step from our deterministic start
    init = (start.weights, start.means, start.covariances)
    ours = regime.fit_gmm(x, 3, init=init, tol=0.0, max_iter=40)
    sk = SkGaussianMixture(
        3,
        covariance_type="full",
        weights_init=start.weights,
        means_init=start.means,
        precisions_init=np.linalg.inv(start.covariances),
        tol=0.0,
        max_iter=40,
        reg_covar=1e-6,
    ).fit(x)
    assert ours.n_iter == sk.n_iter_ == 40 and not ours.converged
    assert ours.log_likelihood == pytest.approx(sk.score(x), abs=1e-10)
    np.testing.assert_allclose(ours.weights, sk.weights_, rtol=1e-9)
    np.testing.assert_allclose(ours.means, sk.means_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours.covariances, sk.covariances_, rtol=1e-9, atol=1e-12)


def test_gmm_default_start_reaches_sklearn_best_of_three_on_spy_features() -> None:
    x = _spy_features()[-2500:]
    ours = regime.fit_gmm(x, 2)
    sk = SkGaussianMixture(
        2, n_init=3, random_state=0, tol=1e-9, max_iter=1000, init_params="random_from_data"
    ).fit(x)
    assert ours.log_likelihood >= sk.score(x) - 1e-6
    order, sk_order = np.argsort(ours.means[:, 1]), np.argsort(sk.means_[:, 1])  # up to labels
    np.testing.assert_allclose(ours.means[order], sk.means_[sk_order], atol=2e-3)
    labels, confidence = regime.gmm_classify(ours, x)
    assert set(labels) == {regime.Regime.LOW_VOL, regime.Regime.HIGH_VOL}
    assert ((confidence >= 0.5) & (confidence <= 1.0)).all()
    posteriors = regime.gmm_posteriors(ours, x)[:, order]
    np.testing.assert_allclose(posteriors, sk.predict_proba(x)[:, sk_order], atol=1e-3)


def test_gmm_rejects_bad_input_and_survives_constant_features() -> None:
    with pytest.raises(ValueError, match=r"^x: needs at least 4 rows"):
        regime.fit_gmm(np.ones((3, 2)), 2)
    with pytest.raises(ValueError, match=r"^x: non-finite value nan"):
        regime.fit_gmm(np.array([[1.0, np.nan]] * 10), 2)
    flat = regime.fit_gmm(np.column_stack((np.ones(50), np.arange(50.0))), 2)
    assert np.isfinite(flat.log_likelihood) and np.isfinite(flat.covariances).all()
    with pytest.raises(ValueError, match=r"^x: expected 2 columns"):
        regime.gmm_posteriors(flat, np.ones((4, 3)))


def _hmmlearn(means: list[float], stds: list[float], a: np.ndarray, pi: np.ndarray) -> GaussianHMM:
    model = GaussianHMM(len(means), covariance_type="diag", init_params="", params="")
    model.startprob_ = pi
    model.transmat_ = a
    model.means_ = np.asarray(means)[:, None]
    model.covars_ = (np.asarray(stds) ** 2)[:, None]
    return model


BULL_BEAR = (
    [0.08, -0.12],
    [0.7, 2.0],
    np.array([[0.98, 0.02], [0.05, 0.95]]),
    np.array([0.5, 0.5]),
)


def test_hmm_smoother_and_likelihood_equal_hmmlearn_on_spy_returns() -> None:
    r = 100 * np.diff(np.log(_spy()["SPY"].to_numpy()))[-2000:]
    model = _hmmlearn(*BULL_BEAR)
    np.testing.assert_allclose(
        regime.hmm_smooth(r, *BULL_BEAR), model.predict_proba(r[:, None]), atol=1e-10
    )
    assert regime.hmm_log_likelihood(r, *BULL_BEAR) == pytest.approx(
        model.score(r[:, None]), rel=1e-12
    )


def test_hmm_filter_equals_hmmlearn_smoothing_of_each_prefix() -> None:
    """P(S_t | x_1..t) is the last row of the smoothed posterior of the prefix x_1..t."""
    r = 100 * np.diff(np.log(_spy()["SPY"].to_numpy()))[-400:]
    model = _hmmlearn(*BULL_BEAR)
    filtered = regime.hmm_filter(r, *BULL_BEAR)
    for t in range(0, len(r), 7):
        np.testing.assert_allclose(
            filtered[t], model.predict_proba(r[: t + 1, None])[-1], atol=1e-10
        )
    smoothed = regime.hmm_smooth(r, *BULL_BEAR)
    np.testing.assert_allclose(filtered[-1], smoothed[-1], atol=1e-12)
    assert np.abs(filtered[:-1] - smoothed[:-1]).max() > 0.05  # they differ before the end


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    stay=st.tuples(st.floats(0.5, 0.999), st.floats(0.5, 0.999)),
    gap=st.floats(0.0, 3.0),
)
def test_hmm_matches_hmmlearn_on_generated_models(
    seed: int, stay: tuple[float, float], gap: float
) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=60) * 2
    a = np.array([[stay[0], 1 - stay[0]], [1 - stay[1], stay[1]]])
    params = ([gap, -gap], [1.0, 1.5], a, np.array([0.3, 0.7]))
    np.testing.assert_allclose(
        regime.hmm_smooth(x, *params), _hmmlearn(*params).predict_proba(x[:, None]), atol=1e-9
    )


def test_hmm_rejects_bad_parameters() -> None:
    x = np.zeros(5)
    with pytest.raises(ValueError, match=r"^transmat: expected a 2x2 row-stochastic"):
        regime.hmm_filter(x, [0, 0], [1, 1], [[0.5, 0.4], [0.5, 0.5]], [0.5, 0.5])
    with pytest.raises(ValueError, match=r"^stds: expected 2 values > 0"):
        regime.hmm_filter(x, [0, 0], [1, 0], [[1, 0], [0, 1]], [0.5, 0.5])
    with pytest.raises(ValueError, match=r"^start: expected 2 probabilities"):
        regime.hmm_filter(x, [0, 0], [1, 1], [[1, 0], [0, 1]], [0.5, 0.6])
    with pytest.raises(ValueError, match=r"^x: non-finite value nan"):
        regime.hmm_filter([0.0, np.nan], [0, 0], [1, 1], [[1, 0], [0, 1]], [0.5, 0.5])


def _direct_bocpd(
    x: np.ndarray, h: float, mu0: float, k0: float, a0: float, b0: float
) -> np.ndarray:
    """Adams & MacKay written out: run statistics from the raw data, probabilities, no logs."""
    n = len(x)
    post = np.zeros((n, n + 1))
    prev = np.array([1.0])
    for t in range(n):
        df, loc, scale = (np.empty(t + 1) for _ in range(3))
        for r in range(t + 1):
            run = x[t - r : t]
            m = len(run)
            kn, an = k0 + m, a0 + m / 2
            mean = run.mean() if m else 0.0
            mun = (k0 * mu0 + m * mean) / kn
            bn = b0 + 0.5 * ((run - mean) ** 2).sum() + k0 * m * (mean - mu0) ** 2 / (2 * kn)
            df[r], loc[r], scale[r] = 2 * an, mun, np.sqrt(bn * (kn + 1) / (an * kn))
        pred = stats.t.pdf(x[t], df, loc=loc, scale=scale)
        joint = np.r_[(prev * pred * h).sum(), prev * pred * (1 - h)]
        prev = joint / joint.sum()
        post[t, : t + 2] = prev
    return post


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 1000), shift=st.floats(0.0, 4.0), hazard=st.floats(0.005, 0.3))
def test_bocpd_posterior_equals_a_direct_implementation(
    seed: int, shift: float, hazard: float
) -> None:
    rng = np.random.default_rng(seed)
    x = np.r_[rng.normal(0, 1, 30), rng.normal(shift, 0.5, 30)]
    prior = {"mu0": 0.2, "kappa0": 0.5, "alpha0": 2.0, "beta0": 1.5}
    ours = regime.bocpd(x, hazard=hazard, keep_posterior=True, **prior)
    direct = _direct_bocpd(x, hazard, *prior.values())
    assert ours.posterior is not None
    np.testing.assert_allclose(ours.posterior, direct, atol=1e-10)
    np.testing.assert_array_equal(ours.map_run_length, direct.argmax(axis=1))
    np.testing.assert_allclose(ours.expected_run_length, direct @ np.arange(len(x) + 1), atol=1e-8)


def test_bocpd_finds_a_known_change_in_synthetic_data() -> None:
    rng = np.random.default_rng(7)
    x = np.r_[rng.normal(0, 1, 200), rng.normal(3, 1, 200)]
    result = regime.bocpd(x, hazard=1 / 200)
    assert any(199 <= s <= 203 for s in result.run_starts(confirm=50))
    assert result.map_run_length[199] >= 150 and result.map_run_length[210] <= 12


def test_bocpd_dates_the_2008_crash_in_spy() -> None:
    spy = _spy()
    spy = spy[(spy.date >= "2006-01-01") & (spy.date <= "2009-12-31")].reset_index(drop=True)
    r = np.diff(np.log(spy["SPY"].to_numpy()))
    result = regime.bocpd(r / r.std(), hazard=1 / 250)
    starts = [spy.date[s + 1] for s in result.run_starts(confirm=20)]
    assert any(pd.Timestamp("2008-09-01") <= d <= pd.Timestamp("2008-10-15") for d in starts), (
        starts
    )
    assert result.map_run_length[-1] < len(r) - 100  # the calm 2006 run did not survive


def test_bocpd_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match=r"^hazard: must be in"):
        regime.bocpd([0.0, 1.0], hazard=1.0)
    with pytest.raises(ValueError, match=r"^beta0: must be finite and > 0"):
        regime.bocpd([0.0, 1.0], beta0=0.0)
    with pytest.raises(ValueError, match=r"^x: needs at least 1 values, got 0"):
        regime.bocpd([])
    flat = regime.bocpd(np.zeros(100), hazard=0.01)
    assert flat.map_run_length[-1] == 100 and np.isfinite(flat.log_evidence)
