"""Solvers behind ``portfolio.mean_variance``: ADMM and accelerated proximal gradient.

Both minimise ``0.5 w'Sw - lam mu'w + tau |w - w_prev|_1 + kappa |w|_1`` over the box
``lower <= w <= upper`` (and ``A w = b`` for ADMM). The non-smooth part plus the box is
separable, and its proximal operator is computed exactly per coordinate (``prox_penalty``):
the seed's pseudocode instead chained two soft-thresholds and two projections, which is
not the proximal operator of the sum and does not converge to the constrained optimum.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tradeswarm.quant._checks import FloatArray


@dataclass(frozen=True)
class Problem:
    mu: FloatArray
    cov: FloatArray
    w_prev: FloatArray
    lam: float
    tau: float
    kappa: float
    lower: FloatArray
    upper: FloatArray
    A: FloatArray | None
    b: FloatArray | None

    def objective(self, w: FloatArray) -> float:
        return float(
            0.5 * w @ self.cov @ w
            - self.lam * self.mu @ w
            + self.tau * np.abs(w - self.w_prev).sum()
            + self.kappa * np.abs(w).sum()
        )


@dataclass(frozen=True)
class Solution:
    weights: FloatArray
    iterations: int
    converged: bool
    residual: float


def prox_penalty(v: FloatArray, t: float, p: Problem) -> FloatArray:
    """argmin_z (z - v)^2 / (2t) + kappa |z| + tau |z - w_prev| over the box, per coordinate.

    The one-dimensional minimiser is a kink (0 or w_prev) or a stationary point
    ``v - t (s1 kappa + s2 tau)`` for some signs; the best of the six candidates is the
    unconstrained minimiser, and clipping it to the box gives the constrained one (a convex
    function of one variable).
    """
    shifts = [s1 * p.kappa + s2 * p.tau for s1 in (-1.0, 1.0) for s2 in (-1.0, 1.0)]
    cands = np.vstack([np.zeros_like(v), p.w_prev, *[v - t * s for s in shifts]])
    h = (cands - v) ** 2 / (2.0 * t) + p.kappa * np.abs(cands) + p.tau * np.abs(cands - p.w_prev)
    best = cands[np.argmin(h, axis=0), np.arange(v.size)]
    return np.asarray(np.clip(best, p.lower, p.upper), dtype=np.float64)


class _KKT:
    """Factorisation of the x-update system ``[[S + rho I, A'], [A, 0]]``."""

    def __init__(self, p: Problem, rho: float) -> None:
        n = p.mu.size
        m = 0 if p.A is None else p.A.shape[0]
        k = np.zeros((n + m, n + m))
        k[:n, :n] = p.cov + rho * np.eye(n)
        if p.A is not None:
            k[:n, n:] = p.A.T
            k[n:, :n] = p.A
        import scipy.linalg  # imported when an optimizer runs, not with the module

        self.n = n
        self.lu = scipy.linalg.lu_factor(k)
        self.b = np.zeros(0) if p.b is None else p.b

    def solve(self, rhs_x: FloatArray) -> FloatArray:
        import scipy.linalg

        sol = scipy.linalg.lu_solve(self.lu, np.concatenate([rhs_x, self.b]))
        return np.asarray(sol[: self.n])


def admm(p: Problem, *, tol: float, max_iter: int, relax: float = 1.6) -> Solution:
    """ADMM on ``f(x) + g(z)`` s.t. ``x = z``: f is the quadratic with ``A x = b``, g the
    penalties with the box. Residual balancing adapts rho every 25 iterations."""
    n = p.mu.size
    rho = max(float(np.trace(p.cov)) / n, 1e-8)
    kkt = _KKT(p, rho)
    z = np.clip(p.w_prev, p.lower, p.upper)
    u = np.zeros(n)
    r_norm = s_norm = np.inf
    for it in range(1, max_iter + 1):
        x = kkt.solve(p.lam * p.mu + rho * (z - u))
        x_hat = relax * x + (1.0 - relax) * z
        z_old = z
        z = prox_penalty(x_hat + u, 1.0 / rho, p)
        u = u + x_hat - z
        r_norm = float(np.linalg.norm(x - z, np.inf))
        s_norm = float(rho * np.linalg.norm(z - z_old, np.inf))
        if not np.isfinite(r_norm + s_norm):
            break
        if r_norm <= tol and s_norm <= tol:
            return Solution(z, it, True, max(r_norm, s_norm))
        scale = _rho_scale(x, z, u, rho, r_norm, s_norm) if it % 25 == 0 else 1.0
        if scale != 1.0:
            rho, u = rho * scale, u / scale
            kkt = _KKT(p, rho)
    return Solution(z, max_iter, False, max(r_norm, s_norm))


def _rho_scale(
    x: FloatArray, z: FloatArray, u: FloatArray, rho: float, r_norm: float, s_norm: float
) -> float:
    """OSQP's rho update: the square root of the ratio of the primal and dual residuals,
    each normalised by its own scale, applied only when it moves rho by 5x or more.

    Absolute residuals (a plain "2x when one is 10x the other" rule) stall on tiny-scale
    degenerate problems (risk aversion ~0, a singular covariance): thousands of iterations
    without converging, an objective 1e-8 off cvxpy's."""
    primal = r_norm / max(float(np.abs(x).max()), float(np.abs(z).max()), 1e-12)
    dual = s_norm / max(rho * float(np.abs(u).max()), 1e-12)
    scale = float(np.clip(np.sqrt(primal / max(dual, 1e-30)), 0.1, 10.0))
    return scale if scale > 5.0 or scale < 0.2 else 1.0


def polish(p: Problem, w: FloatArray) -> FloatArray:
    """Solve exactly on the face an approximate solution sits on (as OSQP polishes).

    Coordinates at a bound or a kink (0, w_prev) are held; for the others the signs of
    ``w`` and ``w - w_prev`` fix the linear term, leaving an equality-constrained QP solved
    through its KKT system. The result is kept only if it stays on that face and is no
    worse, so polishing can sharpen a solution but never spoil it.
    """
    scale = max(1.0, float(np.abs(w).max()))
    held = (
        np.isclose(w, p.lower, rtol=0, atol=1e-9 * scale)
        | np.isclose(w, p.upper, rtol=0, atol=1e-9 * scale)
        | ((p.kappa > 0) & (np.abs(w) <= 1e-9 * scale))
        | ((p.tau > 0) & (np.abs(w - p.w_prev) <= 1e-9 * scale))
    )
    free = ~held
    if not free.any():
        return w
    fixed = np.where(held, _snap(w, p, scale), 0.0)
    q = p.lam * p.mu - p.kappa * np.sign(w) - p.tau * np.sign(w - p.w_prev) - p.cov @ fixed
    k = free.sum()
    a = np.zeros((0, k)) if p.A is None else p.A[:, free]
    rhs_b = np.zeros(0) if p.A is None or p.b is None else p.b - p.A @ fixed
    kkt = np.block([[p.cov[np.ix_(free, free)], a.T], [a, np.zeros((a.shape[0], a.shape[0]))]])
    sol = np.linalg.lstsq(kkt, np.concatenate([q[free], rhs_b]), rcond=None)[0]
    cand = fixed.copy()
    cand[free] = sol[:k]
    same_face = (p.kappa == 0 or (np.sign(cand[free]) == np.sign(w[free])).all()) and (
        p.tau == 0 or (np.sign(cand - p.w_prev)[free] == np.sign(w - p.w_prev)[free]).all()
    )
    inside = (cand >= p.lower).all() and (cand <= p.upper).all()
    feasible = p.A is None or np.allclose(
        p.A @ cand, rhs_b + p.A @ fixed, rtol=0, atol=1e-12 * scale
    )
    if same_face and inside and feasible and p.objective(cand) <= p.objective(w):
        return cand
    return w


def _snap(w: FloatArray, p: Problem, scale: float) -> FloatArray:
    """Each held coordinate moved exactly onto the bound or kink it sits at."""
    out = w.copy()
    for target in (p.w_prev, np.zeros_like(w), p.lower, p.upper):
        near = np.isclose(w, target, rtol=0, atol=1e-9 * scale)
        out[near] = target[near]
    return out


def proximal_gradient(p: Problem, *, tol: float, max_iter: int) -> Solution:
    """FISTA with restart: gradient step on the quadratic, exact prox of the rest.

    This is the seed's section 17.1 method with its proximal step made exact; equality
    constraints are not supported here (use ADMM).
    """
    lip = float(np.linalg.eigvalsh(p.cov)[-1]) if p.cov.size else 0.0
    t = 1.0 / max(lip, 1e-12)
    w = np.clip(p.w_prev, p.lower, p.upper)
    y, theta, gap = w, 1.0, np.inf
    for it in range(1, max_iter + 1):
        w_new = prox_penalty(y - t * (p.cov @ y - p.lam * p.mu), t, p)
        gap = float(np.linalg.norm(w_new - w, np.inf))
        if not np.isfinite(gap):
            break
        if gap <= tol * t:
            return Solution(w_new, it, True, gap / t)
        theta_new = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * theta * theta))
        if (y - w_new) @ (w_new - w) > 0:  # restart when momentum points uphill
            theta_new, y = 1.0, w_new
        else:
            y = w_new + ((theta - 1.0) / theta_new) * (w_new - w)
        w, theta = w_new, theta_new
    return Solution(w, max_iter, False, gap / t)
