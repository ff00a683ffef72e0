"""Portfolio construction (seed 001, sections 6, 16.3, 17.1, 22.1): robust mean-variance
with L1 and turnover penalties, hierarchical risk parity, equal risk contribution, and
Kelly-tempered sizing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from tradeswarm.quant import _prox
from tradeswarm.quant._checks import FloatArray, as_1d, as_2d, positive, probability, square

METHODS = ("admm", "proximal_gradient")


@dataclass(frozen=True)
class MeanVarianceResult:
    """Optimal weights, the objective there, and how the solver got there."""

    weights: FloatArray
    objective: float
    iterations: int
    converged: bool
    residual: float


def _bound(name: str, value: Any, n: int, default: float) -> FloatArray:
    if value is None:
        return np.full(n, default)
    arr = np.asarray(value, dtype=np.float64)
    arr = np.full(n, float(arr)) if arr.ndim == 0 else as_1d(name, arr)
    if arr.size != n or np.isnan(arr).any():
        raise ValueError(f"{name}: expected a number or {n} numbers, got {value!r}")
    return arr


def _linear(A: Any, b: Any, n: int) -> tuple[FloatArray | None, FloatArray | None]:
    if A is None and b is None:
        return None, None
    if A is None or b is None:
        raise ValueError("A, b: give both or neither")
    a = as_2d("A", np.atleast_2d(np.asarray(A, dtype=np.float64)))
    bb = as_1d("b", np.atleast_1d(np.asarray(b, dtype=np.float64)))
    if a.shape[1] != n or a.shape[0] != bb.size:
        raise ValueError(f"A, b: expected A of shape (m, {n}) and b of m, got {a.shape}, {bb.size}")
    if np.linalg.matrix_rank(a) < a.shape[0]:
        raise ValueError("A: rows must be linearly independent")
    return a, bb


def _problem(mu: Any, cov: Any, w_prev: Any, **kw: Any) -> _prox.Problem:
    m = as_1d("mu", mu)
    n = m.size
    c = square("cov", cov)
    if c.shape[0] != n:
        raise ValueError(f"cov: expected shape ({n}, {n}) to match mu, got {c.shape}")
    if np.linalg.eigvalsh(c)[0] < -1e-10 * max(1.0, float(np.abs(c).max())):
        raise ValueError("cov: must be positive semi-definite")
    prev = as_1d("w_prev", w_prev)
    if prev.size != n:
        raise ValueError(f"w_prev: expected {n} weights, got {prev.size}")
    lower = _bound("lower", kw["lower"], n, -np.inf)
    upper = _bound("upper", kw["upper"], n, np.inf)
    if (lower > upper).any():
        raise ValueError("lower, upper: lower must not exceed upper")
    a, b = _linear(kw["A"], kw["b"], n)
    return _prox.Problem(
        mu=m,
        cov=c,
        w_prev=prev,
        lam=positive("lam", kw["lam"], allow_zero=True),
        tau=positive("tau", kw["tau"], allow_zero=True),
        kappa=positive("kappa", kw["kappa"], allow_zero=True),
        lower=lower,
        upper=upper,
        A=a,
        b=b,
    )


def _check_feasible(p: _prox.Problem) -> None:
    from scipy.optimize import linprog  # scipy imports lazily: not on every import path

    if p.A is None:
        return
    bounds = [
        (None if np.isinf(lo) else lo, None if np.isinf(hi) else hi)
        for lo, hi in zip(p.lower, p.upper, strict=True)
    ]
    lp = linprog(np.zeros(p.mu.size), A_eq=p.A, b_eq=p.b, bounds=bounds, method="highs")
    if lp.status == 2:
        raise ValueError("A, b: no weights within lower/upper satisfy A w = b")


def _check_bounded(p: _prox.Problem) -> None:
    """Raise when a direction d with cov d = 0, A d = 0, inside the box's recession cone
    lowers the objective for ever: ``min -lam mu'd + (tau + kappa)|d|_1`` over
    ``|d| <= 1`` (an LP in (d, t) with ``|d| <= t``) is then negative."""
    from scipy.optimize import linprog

    n = p.mu.size
    vals, vecs = np.linalg.eigh(p.cov)
    rank_rows = vecs[:, vals > 1e-12 * max(1.0, float(vals[-1]))].T
    eq = rank_rows if p.A is None else np.vstack([rank_rows, p.A])
    lo = np.where(np.isinf(p.lower), -1.0, 0.0)
    hi = np.where(np.isinf(p.upper), 1.0, 0.0)
    cost = np.concatenate([-p.lam * p.mu, np.full(n, p.tau + p.kappa)])
    eye = np.eye(n)
    lp = linprog(
        cost,
        A_ub=np.block([[eye, -eye], [-eye, -eye]]),
        b_ub=np.zeros(2 * n),
        A_eq=np.hstack([eq, np.zeros((eq.shape[0], n))]) if eq.size else None,
        b_eq=np.zeros(eq.shape[0]) if eq.size else None,
        bounds=list(zip(lo, hi, strict=True)) + [(0.0, 1.0)] * n,
        method="highs",
    )
    if lp.status == 0 and lp.fun < -1e-12 * max(1.0, p.lam * float(np.abs(p.mu).max())):
        raise ValueError("mu, cov: the problem is unbounded (add bounds or a budget)")


def mean_variance(
    mu: Any,
    cov: Any,
    *,
    w_prev: Any,
    lam: float,
    tau: float = 0.0,
    kappa: float = 0.0,
    lower: Any = None,
    upper: Any = None,
    A: Any = None,
    b: Any = None,
    method: str = "admm",
    tol: float = 1e-8,
    max_iter: int = 10_000,
) -> MeanVarianceResult:
    """Minimise ``0.5 w'(cov)w - lam mu'w + tau |w - w_prev|_1 + kappa |w|_1``
    subject to ``lower <= w <= upper`` and ``A w = b`` (seed 001, section 16.3).

    ``tau`` charges turnover away from ``w_prev`` and ``kappa`` charges gross exposure, as in
    the seed (``τ‖w − w_prev‖₁ + κ‖w‖₁``). ``lower``/``upper`` are numbers or per-asset
    vectors (None: unbounded); ``A, b`` are equality constraints such as the budget
    ``A = ones((1, n)), b = [1]``. ``method="admm"`` handles every constraint;
    ``"proximal_gradient"`` (accelerated, the seed's section 17.1 method with an exact
    proximal step) takes box constraints only. A singular ``cov`` is fine when the
    problem stays bounded; an unbounded or infeasible problem raises ValueError.

    The solver stops when its primal and dual residuals fall below ``tol`` (``converged``)
    or after ``max_iter`` iterations, then polishes on the active face (see
    ``_prox.polish``). On degenerate problems (a singular cov with a flat set of optima)
    ``converged`` may be False while the objective is already optimal to ~1e-12.
    """
    p = _problem(mu, cov, w_prev, lam=lam, tau=tau, kappa=kappa, lower=lower, upper=upper, A=A, b=b)
    if method not in METHODS:
        raise ValueError(f"method: expected one of {METHODS}, got {method!r}")
    if method == "proximal_gradient" and p.A is not None:
        raise ValueError("method: proximal_gradient takes box constraints only; use admm")
    _check_feasible(p)
    _check_bounded(p)
    positive("tol", tol)
    solve = _prox.admm if method == "admm" else _prox.proximal_gradient
    sol = solve(p, tol=tol, max_iter=int(positive("max_iter", max_iter)))
    if not np.isfinite(sol.weights).all() or not np.isfinite(sol.residual):
        raise ValueError("mu, cov: the problem is unbounded (add bounds or a budget)")
    weights = _prox.polish(p, sol.weights)
    return MeanVarianceResult(
        weights=weights,
        objective=p.objective(weights),
        iterations=sol.iterations,
        converged=sol.converged,
        residual=sol.residual,
    )


def _bisect_weights(cov: FloatArray, order: list[int]) -> FloatArray:
    """Lopez de Prado's recursive bisection over the quasi-diagonal order."""
    w = np.ones(cov.shape[0])
    clusters = [np.asarray(order)]
    while clusters:
        clusters = [
            half for c in clusters if c.size > 1 for half in np.array_split(c, [c.size // 2])
        ]
        for left, right in zip(clusters[::2], clusters[1::2], strict=True):
            v_left, v_right = _cluster_var(cov, left), _cluster_var(cov, right)
            alpha = 1.0 - v_left / (v_left + v_right)
            w[left] *= alpha
            w[right] *= 1.0 - alpha
    return w


def _cluster_var(cov: FloatArray, idx: FloatArray) -> float:
    sub = cov[np.ix_(idx, idx)]
    ivp = 1.0 / np.diag(sub)
    ivp /= ivp.sum()
    return float(ivp @ sub @ ivp)


def hrp(returns: Any, linkage: str = "single") -> FloatArray:
    """Hierarchical risk parity weights (Lopez de Prado 2016), one per column of T x n returns.

    Correlation distance ``sqrt((1 - corr) / 2)``, scipy hierarchical clustering with
    ``linkage``, quasi-diagonal order from the tree, then recursive bisection with
    inverse-variance cluster weights. Long-only, sums to 1.
    """
    import scipy.cluster.hierarchy as sch
    from scipy.spatial.distance import squareform

    r = as_2d("returns", returns, min_rows=2)
    if r.shape[1] == 1:
        return np.ones(1)
    if linkage not in sch._LINKAGE_METHODS:
        raise ValueError(
            f"linkage: expected one of {sorted(sch._LINKAGE_METHODS)}, got {linkage!r}"
        )
    cov = np.cov(r, rowvar=False)
    sd = np.sqrt(np.diag(cov))
    if (sd == 0).any():
        raise ValueError(f"returns: column {int(np.argmin(sd))} has zero variance")
    corr = cov / np.outer(sd, sd)
    dist = np.sqrt(np.clip((1.0 - corr) / 2.0, 0.0, 1.0))
    link = sch.linkage(squareform(dist, checks=False), linkage)
    order = sch.to_tree(link, rd=False).pre_order()
    return _bisect_weights(cov, order)


def erc(cov: Any, *, tol: float = 1e-24, max_iter: int = 100) -> FloatArray:
    """Equal-risk-contribution weights: ``w_i (cov w)_i = w'(cov)w / n`` for all i, w > 0.

    Newton's method on the strictly convex ``0.5 y'(cov)y - (1/n) sum(log y)`` (Maillard,
    Roncalli, Teiletche 2010), whose minimiser normalised to sum 1 is the ERC portfolio.
    It stops when the Newton decrement falls below ``tol`` or at the floating-point floor.
    """
    c = square("cov", cov)
    n = c.shape[0]
    if (np.diag(c) <= 0).any():
        raise ValueError(f"cov: asset {int(np.argmin(np.diag(c)))} has no variance")
    y = 1.0 / np.sqrt(np.diag(c))
    for _ in range(max_iter):
        grad = c @ y - 1.0 / (n * y)
        step = np.linalg.solve(c + np.diag(1.0 / (n * y * y)), grad)
        decrement = float(grad @ step)
        if decrement < tol:
            return np.asarray(y / y.sum(), dtype=np.float64)
        y_next = _erc_line_search(c, y, step, decrement)
        if y_next is None:
            return np.asarray(y / y.sum(), dtype=np.float64)
        y = y_next
    raise ValueError("cov: equal-risk-contribution did not converge (is cov PSD?)")


def _erc_line_search(
    c: FloatArray, y: FloatArray, step: FloatArray, decrement: float
) -> FloatArray | None:
    """Backtracking (Armijo) along the Newton step; None when no step decreases f (or
    the step is too small to move y at all)."""
    f, t = _erc_objective(c, y), 1.0
    for _ in range(60):
        cand = y - t * step
        if np.array_equal(cand, y):  # the step no longer moves y: the floating-point floor
            return None
        if (cand > 0).all() and _erc_objective(c, cand) <= f - 0.25 * t * decrement:
            return cand
        t *= 0.5
    return None


def _erc_objective(c: FloatArray, y: FloatArray) -> float:
    return float(0.5 * y @ c @ y - np.log(y).sum() / y.size)


def kelly_tempered(
    mu: Any,
    cov: Any,
    *,
    fraction: float = 0.25,
    max_weight: float | None = None,
    max_leverage: float | None = None,
) -> FloatArray:
    """Fractional Kelly weights ``fraction * argmax(w'mu - 0.5 w'(cov)w)`` with caps.

    The growth-optimal weights solve ``cov w = mu`` (the minimum-norm solution when cov is
    singular). Each weight is then clipped to ``±max_weight`` and the book scaled down to
    gross leverage ``max_leverage`` (seed 001, sections 6 and 16.3).
    """
    m = as_1d("mu", mu)
    c = square("cov", cov)
    if c.shape[0] != m.size:
        raise ValueError(f"cov: expected shape ({m.size}, {m.size}) to match mu, got {c.shape}")
    lam = probability("fraction", fraction, open_interval=False)
    w = lam * np.linalg.lstsq(c, m, rcond=None)[0]
    if max_weight is not None:
        cap = positive("max_weight", max_weight, allow_zero=True)
        w = np.clip(w, -cap, cap)
    if max_leverage is not None:
        lev = positive("max_leverage", max_leverage, allow_zero=True)
        gross = float(np.abs(w).sum())
        if gross > lev:
            w = w * (lev / gross)
    return np.asarray(w, dtype=np.float64)


def kelly_fraction(
    mu: float, sigma: float, *, fraction: float = 0.25, cap: float | None = None
) -> float:
    """One asset's fractional Kelly weight ``fraction * mu / sigma**2``, clipped to ±cap.

    Kelly divides by the variance; the seed's PortfolioAgent sketch divided by the volatility.
    """
    s = positive("sigma", sigma)
    w = float(kelly_tempered([mu], [[s * s]], fraction=fraction)[0])
    return w if cap is None else float(np.clip(w, -positive("cap", cap, allow_zero=True), cap))
