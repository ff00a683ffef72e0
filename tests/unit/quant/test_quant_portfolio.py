"""quant.portfolio against cvxpy (same objective, same constraints) and PyPortfolioOpt's
HRPOpt, on real covariances from ../shared/data/market/stock_prices_20.csv and on
hypothesis inputs including singular covariances."""

from __future__ import annotations

from typing import Any

import cvxpy as cp
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypfopt import HRPOpt

from shared_data import MARKET_DATA
from tradeswarm.quant import portfolio as pf

MARKET = MARKET_DATA


def _returns() -> pd.DataFrame:
    prices = pd.read_csv(MARKET / "stock_prices_20.csv", index_col=0, parse_dates=True)
    return prices.pct_change().dropna()


def _cvxpy_mean_variance(mu: np.ndarray, cov: np.ndarray, **kw: Any) -> tuple[np.ndarray, float]:
    w = cp.Variable(mu.size)
    objective = (
        0.5 * cp.quad_form(w, cp.psd_wrap(cov))
        - kw["lam"] * mu @ w
        + kw.get("tau", 0.0) * cp.norm1(w - kw["w_prev"])
        + kw.get("kappa", 0.0) * cp.norm1(w)
    )
    cons = []
    if kw.get("lower") is not None:
        cons.append(w >= kw["lower"])
    if kw.get("upper") is not None:
        cons.append(w <= kw["upper"])
    if kw.get("A") is not None:
        cons.append(kw["A"] @ w == kw["b"])
    prob = cp.Problem(cp.Minimize(objective), cons)
    prob.solve(solver=cp.CLARABEL, tol_gap_abs=1e-12, tol_gap_rel=1e-12, tol_feas=1e-12)
    assert prob.status == cp.OPTIMAL
    return np.asarray(w.value), float(prob.value)


def _assert_matches_cvxpy(mu: np.ndarray, cov: np.ndarray, method: str, **kw: Any) -> None:
    got = pf.mean_variance(mu, cov, method=method, **kw)
    _, f_ref = _cvxpy_mean_variance(mu, cov, **kw)
    scale = max(1.0, abs(f_ref))
    # our optimum is at least as good as the interior-point oracle's, up to 1e-9
    assert got.objective <= f_ref + 1e-9 * scale
    assert got.objective == pytest.approx(f_ref, abs=1e-8 * scale)
    if kw.get("A") is not None:
        np.testing.assert_allclose(kw["A"] @ got.weights, kw["b"], atol=1e-8)
    lo, hi = kw.get("lower"), kw.get("upper")
    assert lo is None or (got.weights >= np.asarray(lo) - 1e-12).all()
    assert hi is None or (got.weights <= np.asarray(hi) + 1e-12).all()


CASES = [
    {"lam": 0.05, "tau": 1e-5, "kappa": 1e-5, "lower": -0.1, "upper": 0.3, "budget": True},
    {"lam": 0.05, "tau": 1e-4, "kappa": 0.0, "lower": 0.0, "upper": 0.2, "budget": True},
    {"lam": 0.02, "tau": 0.0, "kappa": 0.0, "lower": None, "upper": None, "budget": True},
    {"lam": 0.01, "tau": 0.0, "kappa": 2e-5, "lower": -1.0, "upper": 1.0, "budget": False},
    {"lam": 0.01, "tau": 5e-5, "kappa": 5e-5, "lower": -0.5, "upper": 0.5, "budget": False},
]


@pytest.mark.parametrize("case", CASES)
def test_mean_variance_equals_cvxpy_on_twenty_real_stocks(case: dict[str, Any]) -> None:
    r = _returns()
    mu, cov = r.mean().to_numpy(), r.cov().to_numpy()
    n = mu.size
    kw = dict(case)
    budget = kw.pop("budget")
    kw["w_prev"] = np.full(n, 1.0 / n)
    if budget:
        kw["A"], kw["b"] = np.ones((1, n)), np.array([1.0])
    w_ref, _ = _cvxpy_mean_variance(mu, cov, **kw)
    got = pf.mean_variance(mu, cov, **kw)
    assert got.converged
    np.testing.assert_allclose(got.weights, w_ref, atol=1e-6)
    _assert_matches_cvxpy(mu, cov, "admm", **kw)
    if not budget:
        _assert_matches_cvxpy(mu, cov, "proximal_gradient", **kw)


def test_turnover_penalty_keeps_weights_at_w_prev_and_l1_makes_them_sparse() -> None:
    r = _returns()
    mu, cov = r.mean().to_numpy(), r.cov().to_numpy()
    n = mu.size
    prev = np.full(n, 1.0 / n)
    sticky = pf.mean_variance(mu, cov, w_prev=prev, lam=0.05, tau=1.0, lower=-1, upper=1)
    np.testing.assert_allclose(sticky.weights, prev, atol=1e-12)
    sparse = pf.mean_variance(mu, cov, w_prev=prev, lam=0.05, kappa=1e-4, lower=-1, upper=1)
    dense = pf.mean_variance(mu, cov, w_prev=prev, lam=0.05, lower=-1, upper=1)
    assert (sparse.weights == 0).sum() > (dense.weights == 0).sum()


@st.composite
def _problems(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    n = draw(st.integers(2, 8))
    rank = draw(st.integers(1, n))  # rank < n: a singular covariance
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    f = rng.normal(0, 0.02, (n, rank))
    cov = f @ f.T
    mu = rng.normal(0, 0.01, n)
    kw: dict[str, Any] = {
        "w_prev": rng.dirichlet(np.ones(n)),
        "lam": draw(st.floats(0.0, 2.0)),
        "tau": draw(st.sampled_from([0.0, 1e-5, 1e-3])),
        "kappa": draw(st.sampled_from([0.0, 1e-5, 1e-3])),
        "lower": draw(st.sampled_from([0.0, -0.5])),
        "upper": draw(st.sampled_from([0.6, 1.0])),
    }
    if draw(st.booleans()):
        kw["A"], kw["b"] = np.ones((1, n)), np.array([1.0])
    return mu, cov, kw


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_problems())
def test_mean_variance_equals_cvxpy_on_any_problem_incl_singular_covariances(
    problem: tuple[np.ndarray, np.ndarray, dict[str, Any]],
) -> None:
    mu, cov, kw = problem
    _assert_matches_cvxpy(mu, cov, "admm", **kw)
    # proximal gradient is sublinear on a singular cov; it is checked where it converges
    if "A" not in kw and np.linalg.matrix_rank(cov) == mu.size:
        _assert_matches_cvxpy(mu, cov, "proximal_gradient", **kw)


@pytest.mark.parametrize("linkage", ["single", "complete", "average", "ward"])
def test_hrp_equals_pypfopt_on_twenty_real_stocks(linkage: str) -> None:
    r = _returns()
    expected = pd.Series(HRPOpt(r).optimize(linkage)).reindex(r.columns).to_numpy()
    got = pf.hrp(r.to_numpy(), linkage)
    np.testing.assert_allclose(got, expected, atol=1e-8, rtol=0)
    assert got.sum() == pytest.approx(1.0) and (got > 0).all()


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 12), st.integers(0, 2**32 - 1))
def test_hrp_equals_pypfopt_on_resampled_real_columns(n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    r = _returns().iloc[-500:]
    sample = r.iloc[:, rng.choice(r.shape[1], n, replace=False)]
    expected = pd.Series(HRPOpt(sample).optimize()).reindex(sample.columns).to_numpy()
    np.testing.assert_allclose(pf.hrp(sample.to_numpy()), expected, atol=1e-8, rtol=0)


def test_erc_equals_cvxpy_log_barrier_and_equalises_risk_contributions() -> None:
    cov = _returns().cov().to_numpy()
    n = cov.shape[0]
    y = cp.Variable(n)
    cp.Problem(cp.Minimize(0.5 * cp.quad_form(y, cov) - cp.sum(cp.log(y)) / n)).solve(
        solver=cp.CLARABEL, tol_gap_abs=1e-12, tol_gap_rel=1e-12
    )
    expected = y.value / y.value.sum()
    got = pf.erc(cov)
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    contrib = got * (cov @ got)
    np.testing.assert_allclose(contrib, contrib.mean(), rtol=1e-8)


def test_erc_on_a_singular_covariance_still_equalises_contributions() -> None:
    r = _returns().to_numpy()[-300:, :4]
    cov = np.cov(np.column_stack([r, r[:, 0]]), rowvar=False)
    got = pf.erc(cov)
    contrib = got * (cov @ got)
    np.testing.assert_allclose(contrib, contrib.mean(), rtol=1e-8)


def test_kelly_tempered_is_a_fraction_of_the_cvxpy_growth_optimum_then_capped() -> None:
    r = _returns()
    mu, cov = r.mean().to_numpy(), r.cov().to_numpy()
    w = cp.Variable(mu.size)
    cp.Problem(cp.Maximize(mu @ w - 0.5 * cp.quad_form(w, cov))).solve(solver=cp.CLARABEL)
    np.testing.assert_allclose(pf.kelly_tempered(mu, cov, fraction=0.25), 0.25 * w.value, rtol=1e-5)
    capped = pf.kelly_tempered(mu, cov, fraction=0.5, max_weight=0.3, max_leverage=2.0)
    assert np.abs(capped).max() <= 0.3 + 1e-12
    assert np.abs(capped).sum() <= 2.0 + 1e-12
    assert pf.kelly_fraction(0.0005, 0.02, fraction=0.5) == pytest.approx(0.5 * 0.0005 / 0.0004)
    assert pf.kelly_fraction(0.01, 0.02, fraction=1.0, cap=2.0) == 2.0


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: pf.mean_variance([0.1, np.nan], np.eye(2), w_prev=[0, 0], lam=1), "mu"),
        (lambda: pf.mean_variance([0.1, 0.1], np.eye(3), w_prev=[0, 0], lam=1), "cov"),
        (lambda: pf.mean_variance([0.1, 0.1], -np.eye(2), w_prev=[0, 0], lam=1), "cov"),
        (lambda: pf.mean_variance([0.1, 0.1], np.eye(2), w_prev=[0], lam=1), "w_prev"),
        (lambda: pf.mean_variance([0.1, 0.1], np.eye(2), w_prev=[0, 0], lam=-1), "lam"),
        (lambda: pf.mean_variance([0.1], np.eye(1), w_prev=[0], lam=1, lower=1, upper=0), "lower"),
        (
            lambda: pf.mean_variance(
                [0.1, 0.1], np.eye(2), w_prev=[0, 0], lam=1, upper=0.3, A=[[1, 1]], b=[1]
            ),
            "A, b",
        ),
        (lambda: pf.mean_variance([0.1, 0.1], np.zeros((2, 2)), w_prev=[0, 0], lam=1), "unbounded"),
        (
            lambda: pf.mean_variance(
                [0.1], np.eye(1), w_prev=[0], lam=1, A=[[1]], b=[1], method="proximal_gradient"
            ),
            "method",
        ),
        (lambda: pf.hrp(np.ones((10, 3))), "returns"),
        (lambda: pf.hrp(np.random.default_rng(0).normal(size=(9, 3)), "nope"), "linkage"),
        (lambda: pf.erc(np.diag([1.0, 0.0])), "cov"),
        (lambda: pf.kelly_tempered([0.1], [[1.0]], fraction=1.5), "fraction"),
        (lambda: pf.kelly_fraction(0.1, 0.0), "sigma"),
    ],
)
def test_bad_input_raises_a_value_error_naming_the_argument(call: object, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        call()  # type: ignore[operator]
