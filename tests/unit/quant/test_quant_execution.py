"""quant.execution: Almgren-Chriss closed form and QP against cvxpy on the same discrete
objective; TWAP/VWAP from the real minute volume file in ../shared/data/market."""

from __future__ import annotations

import cvxpy as cp
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared_data import MARKET_DATA
from tradeswarm.quant import execution as ex

MARKET = MARKET_DATA


def _cvxpy_path(
    x0: float, xn: float, n: int, dt: float, sigma: float, eta: float, eps: float, gamma: float,
    phi: float,
) -> np.ndarray:  # fmt: skip
    """E[C] + phi Var[C] with the permanent term written as the AC identity
    gamma * sum x_k v_k = gamma * ((x0^2 - xN^2) / 2 - sum v_k^2 / 2) (checked below)."""
    x = cp.Variable(n + 1)
    v = x[:-1] - x[1:]
    cost = (eta - gamma / 2) * cp.sum_squares(v) + eps * cp.norm1(v)
    objective = cost + phi * sigma**2 * dt * cp.sum_squares(x[1:])
    prob = cp.Problem(cp.Minimize(objective), [x[0] == x0, x[n] == xn])
    prob.solve(solver=cp.CLARABEL, tol_gap_abs=1e-14, tol_gap_rel=1e-14, tol_feas=1e-14)
    assert prob.status == cp.OPTIMAL
    return np.asarray(x.value)


# the seed's usage example, a high-urgency case, a partial unwind, and a buy (x0 < xN)
CASES = [
    (1e6, 0.0, 20, 60.0, 0.02, 1e-6, 0.0, 0.0, 1e-6),
    (1e6, 0.0, 20, 60.0, 0.02, 1e-6, 1e-4, 1e-7, 1e-6),
    (1e5, 2e4, 50, 1.0, 0.5, 1e-4, 0.0, 0.0, 1e-2),
    (0.0, 5e4, 30, 300.0, 0.01, 2e-5, 0.0, 1e-5, 5e-5),
]


@pytest.mark.parametrize("case", CASES)
def test_closed_form_and_qp_equal_cvxpy(case: tuple[float, ...]) -> None:
    x0, xn, n, dt, sigma, eta, eps, gamma, phi = case
    ref = _cvxpy_path(*case)  # type: ignore[arg-type]
    scale = max(abs(x0), abs(xn))
    for method in ("closed_form", "qp"):
        got = ex.almgren_chriss(x0, xn, int(n), dt, sigma, eta, eps, gamma, phi, method=method)
        assert got.shape == (int(n) + 1,)
        assert (got[0], got[-1]) == (x0, xn)
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-9 * scale)


def test_qp_with_spread_equals_cvxpy_when_the_path_overshoots() -> None:
    case = (1e5, 2e4, 50, 1.0, 0.5, 1e-4, 0.01, 0.0, 1e-2)
    with pytest.raises(ValueError, match="epsilon"):
        ex.almgren_chriss(*case[:3], *case[3:])  # type: ignore[arg-type]
    got = ex.almgren_chriss(*case[:3], *case[3:], method="qp")  # type: ignore[arg-type]
    np.testing.assert_allclose(got, _cvxpy_path(*case), rtol=0, atol=1e-6)  # type: ignore[arg-type]


@settings(max_examples=40, deadline=None)
@given(
    x0=st.floats(-1e6, 1e6),
    xn=st.floats(-1e5, 1e5),
    n=st.integers(1, 60),
    dt=st.floats(0.1, 600),
    sigma=st.floats(0.0, 1.0),
    phi=st.floats(0.0, 1e-2),
)
def test_closed_form_equals_qp_on_any_inputs(
    x0: float, xn: float, n: int, dt: float, sigma: float, phi: float
) -> None:
    closed = ex.almgren_chriss(x0, xn, n, dt, sigma, 1e-4, phi=phi)
    qp = ex.almgren_chriss(x0, xn, n, dt, sigma, 1e-4, phi=phi, method="qp")
    assert np.isfinite(closed).all()
    np.testing.assert_allclose(closed, qp, rtol=0, atol=1e-8 * max(1.0, abs(x0), abs(xn)))


def test_the_schedule_minimises_cost_plus_phi_variance_and_beats_the_seed_exponential() -> None:
    x0, n, dt, sigma, eta, gamma, phi = 1e6, 20, 60.0, 0.02, 1e-6, 1e-7, 1e-5
    path = ex.almgren_chriss(x0, 0.0, n, dt, sigma, eta, gamma=gamma, phi=phi)

    def utility(p: np.ndarray) -> float:
        e, var = ex.ac_cost(p, dt, sigma, eta, gamma=gamma)
        return e + phi * var

    rng = np.random.default_rng(3)
    for _ in range(20):
        bumped = path.copy()
        bumped[1:-1] += rng.normal(0, 1e3, n - 1)
        assert utility(path) < utility(bumped)
    # the seed's closed form: a exp(-kappa k) + b with the continuous kappa
    kappa = np.sqrt(phi * sigma**2 / eta)
    a = x0 / (1 - np.exp(-kappa * n))
    seed = a * np.exp(-kappa * np.arange(n + 1)) + (x0 - a)
    assert utility(path) < utility(seed)
    assert np.abs(seed - path).max() > 1e4


def test_permanent_impact_identity_used_by_the_oracle() -> None:
    rng = np.random.default_rng(1)
    x = np.concatenate([[5e4], rng.normal(0, 3e4, 10), [1e4]])
    v = -np.diff(x)
    assert np.sum(x[1:] * v) == pytest.approx((x[0] ** 2 - x[-1] ** 2) / 2 - np.sum(v * v) / 2)


def test_zero_risk_aversion_is_twap() -> None:
    path = ex.almgren_chriss(1e4, 0.0, 10, 60.0, 0.02, 1e-6, phi=0.0)
    np.testing.assert_allclose(-np.diff(path), ex.twap(1e4, 10))


def test_vwap_follows_the_real_intraday_volume_profile() -> None:
    bars = pd.read_csv(
        MARKET / "2006-01-02-volume-min-001.txt",
        names=["date", "time", "o", "h", "l", "c", "volume", "oi"],
        header=0,
    )
    bars["hour"] = bars["time"].str.slice(0, 2).astype(int)
    table = bars.pivot_table(
        index="date", columns="hour", values="volume", aggfunc="sum", fill_value=0
    )
    profile = ex.volume_profile(table.to_numpy())
    expected = table.div(table.sum(axis=1), axis=0).mean(axis=0).to_numpy()
    np.testing.assert_allclose(profile, expected, rtol=1e-12)
    assert profile.sum() == pytest.approx(1.0)
    sizes = ex.vwap(10_000, profile)
    np.testing.assert_allclose(sizes, 10_000 * expected)
    shares = ex.integer_schedule(10_000, profile)
    assert sum(shares) == 10_000
    assert max(abs(s - f) for s, f in zip(shares, sizes, strict=True)) < 1.0
    assert np.argmax(sizes) == np.argmax(table.sum(axis=0).to_numpy())


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: ex.almgren_chriss(1e4, 0, 0, 1.0, 0.1, 1e-4), "n_slices"),
        (lambda: ex.almgren_chriss(1e4, 0, 5, 0.0, 0.1, 1e-4), "dt"),
        (lambda: ex.almgren_chriss(1e4, 0, 5, 1.0, -0.1, 1e-4), "sigma"),
        (lambda: ex.almgren_chriss(1e4, 0, 5, 1.0, 0.1, 0.0), "eta"),
        (lambda: ex.almgren_chriss(1e4, 0, 5, 1.0, 0.1, 1e-4, gamma=3e-4), "gamma"),
        (lambda: ex.almgren_chriss(np.nan, 0, 5, 1.0, 0.1, 1e-4), "x0"),
        (lambda: ex.almgren_chriss(1e4, 0, 5, 1.0, 0.1, 1e-4, method="x"), "method"),
        (lambda: ex.twap(100, 0), "n_slices"),
        (lambda: ex.volume_profile(np.zeros((3, 4))), "volumes"),
        (lambda: ex.vwap(100, [0.0, 0.0]), "profile"),
        (lambda: ex.integer_schedule(10, [-1.0, 2.0]), "weights"),
        (lambda: ex.ac_cost([1.0], 1.0, 0.1, 1e-4), "path"),
    ],
)
def test_bad_input_raises_a_value_error_naming_the_argument(call: object, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        call()  # type: ignore[operator]
