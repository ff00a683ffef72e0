"""Execution schedules (seed 001, sections 7, 16.4, 22.2): Almgren-Chriss, TWAP, VWAP.

Almgren-Chriss (2000), discrete. Inventory ``x_0 = x0 ... x_N = xN`` is traded in child
orders ``v_k = x_{k-1} - x_k`` (positive = sell), one per slice of length ``dt``:

- expected cost ``E[C] = sum_k (eta v_k^2 + epsilon |v_k|) + gamma sum_k x_k v_k``
  (temporary impact ``eta`` per share squared per slice, half-spread ``epsilon`` per share,
  linear permanent impact ``gamma`` per share traded);
- variance ``Var[C] = sigma^2 dt sum_{k=1..N} x_k^2`` (``sigma`` per sqrt(time unit));
- the schedule minimises ``E[C] + phi Var[C]``.

Because ``sum_k x_k v_k = (x0^2 - xN^2) / 2 - sum_k v_k^2 / 2``, the permanent impact only
lowers the effective temporary coefficient to ``eta_t = eta - gamma / 2`` (which must stay
positive). The first-order conditions are ``x_{k-1} - 2 x_k + x_{k+1} = c x_k`` with
``c = phi sigma^2 dt / eta_t``, whose solution is a ratio of **sinh** terms, with kappa
from ``cosh(kappa dt) = 1 + c / 2``, i.e. ``kappa_tilde^2 = phi sigma^2 / (eta_t / dt)``:

    x_k = (x0 sinh(kappa (N - k) dt) + xN sinh(kappa k dt)) / sinh(kappa N dt)

The seed's closed form used ``a exp(-kappa k) + b`` with the continuous-time kappa (and ``k``
where ``k dt`` belongs): an approximation that neither meets the discrete optimum nor
scales with ``dt``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.linalg

from tradeswarm.quant._checks import FloatArray, as_1d, as_2d, positive

METHODS = ("closed_form", "qp")


@dataclass(frozen=True)
class ACParams:
    x0: float
    xN: float
    n_slices: int
    dt: float
    sigma: float
    eta: float
    epsilon: float
    gamma: float
    phi: float

    @property
    def eta_eff(self) -> float:
        return self.eta - 0.5 * self.gamma

    @property
    def c(self) -> float:
        return self.phi * self.sigma**2 * self.dt / self.eta_eff


def _params(**kw: Any) -> ACParams:
    n = kw["n_slices"]
    if isinstance(n, bool) or int(n) != n or n < 1:
        raise ValueError(f"n_slices: must be an integer >= 1, got {n!r}")
    for name in ("x0", "xN"):
        if not np.isfinite(float(kw[name])):
            raise ValueError(f"{name}: must be finite, got {kw[name]!r}")
    p = ACParams(
        x0=float(kw["x0"]),
        xN=float(kw["xN"]),
        n_slices=int(n),
        dt=positive("dt", kw["dt"]),
        sigma=positive("sigma", kw["sigma"], allow_zero=True),
        eta=positive("eta", kw["eta"]),
        epsilon=positive("epsilon", kw["epsilon"], allow_zero=True),
        gamma=positive("gamma", kw["gamma"], allow_zero=True),
        phi=positive("phi", kw["phi"], allow_zero=True),
    )
    if p.eta_eff <= 0:
        raise ValueError(f"gamma: must be < 2 * eta for a convex schedule, got {p.gamma!r}")
    return p


def _sinh_ratio(a: FloatArray, b: float) -> FloatArray:
    """sinh(a) / sinh(b) for 0 <= a <= b, without overflow for large arguments."""
    return np.asarray(
        np.exp(a - b) * (-np.expm1(-2.0 * a)) / (-np.expm1(-2.0 * b)), dtype=np.float64
    )


def _closed_form(p: ACParams) -> FloatArray:
    k = np.arange(p.n_slices + 1, dtype=np.float64)
    n = float(p.n_slices)
    # cosh(y) = 1 + c/2 is sinh(y/2) = sqrt(c)/2: this form keeps precision for tiny c
    kappa_dt = 2.0 * float(np.arcsinh(0.5 * np.sqrt(p.c)))
    if kappa_dt == 0.0:
        return p.x0 + (p.xN - p.x0) * k / n
    path = p.x0 * _sinh_ratio(kappa_dt * (n - k), kappa_dt * n) + p.xN * _sinh_ratio(
        kappa_dt * k, kappa_dt * n
    )
    path[0], path[-1] = p.x0, p.xN
    return path


def _tridiagonal(p: ACParams, diag_extra: float, off_scale: float) -> FloatArray:
    """Banded form of ``(2 + diag_extra) I - off_scale (shift + shift')`` of size N - 1."""
    m = p.n_slices - 1
    ab = np.zeros((3, m))
    ab[0, 1:] = -off_scale
    ab[1, :] = 2.0 * off_scale + diag_extra
    ab[2, :-1] = -off_scale
    return ab


def _qp_smooth(p: ACParams) -> FloatArray:
    """The discrete QP without the spread term: one tridiagonal linear solve."""
    path = np.array([p.x0] + [0.0] * (p.n_slices - 1) + [p.xN])
    if p.n_slices > 1:
        rhs = np.zeros(p.n_slices - 1)
        rhs[0] += p.x0
        rhs[-1] += p.xN
        path[1:-1] = scipy.linalg.solve_banded((1, 1), _tridiagonal(p, p.c, 1.0), rhs)
    return path


def _qp_with_spread(p: ACParams, tol: float = 1e-12, max_iter: int = 20_000) -> FloatArray:
    """ADMM on the interior inventory with ``z = v``: the spread term ``epsilon |v|`` is
    soft-thresholded, the quadratic part is a tridiagonal solve (fixed factorisation)."""
    m, n = p.n_slices - 1, p.n_slices
    d = np.zeros((n, m))  # v = d @ x_interior + e
    d[np.arange(m), np.arange(m)] = -1.0
    d[np.arange(1, n), np.arange(m)] = 1.0
    e = np.zeros(n)
    e[0], e[-1] = p.x0, -p.xN
    rho = 2.0 * p.eta_eff
    q = 2.0 * p.phi * p.sigma**2 * p.dt
    lhs = (2.0 * p.eta_eff + rho) * (d.T @ d) + q * np.eye(m)
    chol = scipy.linalg.cho_factor(lhs)
    x = _qp_smooth(p)[1:-1]
    z = d @ x + e
    u = np.zeros(n)
    for _ in range(max_iter):
        x = scipy.linalg.cho_solve(chol, d.T @ (rho * (z - u - e) - 2.0 * p.eta_eff * e))
        v = d @ x + e
        z_old = z
        z = np.sign(v + u) * np.maximum(np.abs(v + u) - p.epsilon / rho, 0.0)
        u = u + v - z
        scale = max(1.0, float(np.abs(v).max()))
        if max(np.abs(v - z).max(), rho * np.abs(z - z_old).max()) <= tol * scale:
            break
    return np.concatenate([[p.x0], x, [p.xN]])


def almgren_chriss(
    x0: float,
    xN: float,
    n_slices: int,
    dt: float,
    sigma: float,
    eta: float,
    epsilon: float = 0.0,
    gamma: float = 0.0,
    phi: float = 1e-6,
    method: str = "closed_form",
) -> FloatArray:
    """Optimal Almgren-Chriss inventory path, ``n_slices + 1`` points from x0 to xN.

    ``method="closed_form"`` is the discrete sinh solution; ``"qp"`` solves the same
    mean-variance objective numerically (a tridiagonal solve; ADMM when ``epsilon > 0``
    makes it non-smooth). The closed form ignores ``epsilon``, which is exact whenever the
    path is monotone (the spread then costs ``epsilon |x0 - xN|`` whatever the schedule);
    for a non-monotone sinh path with ``epsilon > 0`` it raises and asks for ``"qp"``.
    """
    p = _params(
        x0=x0, xN=xN, n_slices=n_slices, dt=dt, sigma=sigma, eta=eta,
        epsilon=epsilon, gamma=gamma, phi=phi,
    )  # fmt: skip
    if method not in METHODS:
        raise ValueError(f"method: expected one of {METHODS}, got {method!r}")
    if method == "qp":
        return _qp_with_spread(p) if p.epsilon > 0 and p.n_slices > 1 else _qp_smooth(p)
    path = _closed_form(p)
    steps = np.diff(path)
    if p.epsilon > 0 and (steps > 0).any() and (steps < 0).any():
        raise ValueError("epsilon: the optimal path is not monotone; use method='qp'")
    return path


def ac_cost(
    path: Any, dt: float, sigma: float, eta: float, epsilon: float = 0.0, gamma: float = 0.0
) -> tuple[float, float]:
    """Expected cost and variance of an inventory path under the Almgren-Chriss model."""
    x = as_1d("path", path, min_len=2)
    v = -np.diff(x)
    e_cost = float(
        positive("eta", eta) * np.sum(v * v)
        + positive("epsilon", epsilon, allow_zero=True) * np.abs(v).sum()
        + positive("gamma", gamma, allow_zero=True) * np.sum(x[1:] * v)
    )
    variance = float(
        positive("sigma", sigma, allow_zero=True) ** 2 * positive("dt", dt) * np.sum(x[1:] ** 2)
    )
    return e_cost, variance


def twap(quantity: float, n_slices: int) -> FloatArray:
    """Equal child orders over ``n_slices`` slices."""
    if isinstance(n_slices, bool) or int(n_slices) != n_slices or n_slices < 1:
        raise ValueError(f"n_slices: must be an integer >= 1, got {n_slices!r}")
    q = float(quantity)
    if not np.isfinite(q):
        raise ValueError(f"quantity: must be finite, got {quantity!r}")
    return np.full(int(n_slices), q / n_slices)


def volume_profile(volumes: Any) -> FloatArray:
    """Average intraday volume share per bucket from a days x buckets volume matrix.

    Each day is normalised to sum 1 first, so a heavy day does not dominate; days with no
    volume are skipped.
    """
    vol = as_2d("volumes", volumes)
    if (vol < 0).any():
        raise ValueError("volumes: must be >= 0")
    totals = vol.sum(axis=1)
    traded = totals > 0
    if not traded.any():
        raise ValueError("volumes: no day has any volume")
    return np.asarray((vol[traded] / totals[traded, None]).mean(axis=0), dtype=np.float64)


def vwap(quantity: float, profile: Any) -> FloatArray:
    """Child orders proportional to the expected volume share of each bucket."""
    prof = as_1d("profile", profile)
    if (prof < 0).any() or prof.sum() <= 0:
        raise ValueError("profile: must be >= 0 with a positive total")
    q = float(quantity)
    if not np.isfinite(q):
        raise ValueError(f"quantity: must be finite, got {quantity!r}")
    return np.asarray(q * prof / prof.sum(), dtype=np.float64)


def integer_schedule(quantity: int, weights: Any) -> list[int]:
    """Whole-share child orders summing exactly to ``quantity`` (largest remainder)."""
    w = as_1d("weights", weights)
    if (w < 0).any() or w.sum() <= 0:
        raise ValueError("weights: must be >= 0 with a positive total")
    if int(quantity) != quantity or quantity < 0:
        raise ValueError(f"quantity: must be a whole number >= 0, got {quantity!r}")
    raw = int(quantity) * w / w.sum()
    base = np.floor(raw).astype(int)
    short = int(quantity) - int(base.sum())
    base[np.argsort(-(raw - base), kind="stable")[:short]] += 1
    return [int(b) for b in base]
