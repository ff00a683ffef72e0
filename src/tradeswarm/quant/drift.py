"""Drift and forecast quality: PSI, KS, CRPS, Brier, ensemble weights, BMA, the crash sentinel."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.special import logsumexp
from scipy.stats import kstwo, norm

from tradeswarm.quant._checks import FloatArray, as_1d, as_2d, positive

__all__ = [
    "PSI_EPSILON",
    "SentinelAction",
    "SentinelReading",
    "bma_weights",
    "brier",
    "crash_sentinel",
    "crps_ensemble",
    "crps_gaussian",
    "ensemble_weights",
    "ks",
    "psi",
]

PSI_EPSILON = 1e-4


def psi(expected: Any, actual: Any, bins: int = 10, *, epsilon: float = PSI_EPSILON) -> float:
    """Population stability index sum_i (q_i - p_i) ln(q_i / p_i) of ``actual`` vs ``expected``.

    Bins are the ``bins``-quantiles of ``expected`` (tied edges merged; the outer bins are open
    to -inf and +inf, each bin is [left, right)). An empty bin's share is floored at
    ``epsilon`` (not renormalised), so the index stays finite; the seed's formula is infinite
    on an empty bin.
    """
    p_data = as_1d("expected", expected)
    q_data = as_1d("actual", actual)
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 2:
        raise ValueError(f"bins: must be an integer >= 2, got {bins!r}")
    eps = positive("epsilon", epsilon)
    edges = np.unique(np.quantile(p_data, np.linspace(0.0, 1.0, bins + 1))[1:-1])
    p = np.bincount(np.searchsorted(edges, p_data, side="right"), minlength=len(edges) + 1)
    q = np.bincount(np.searchsorted(edges, q_data, side="right"), minlength=len(edges) + 1)
    p_share = np.maximum(p / len(p_data), eps)
    q_share = np.maximum(q / len(q_data), eps)
    return float(np.sum((q_share - p_share) * np.log(q_share / p_share)))


def ks(expected: Any, actual: Any) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov statistic sup |F_p - F_q| and its asymptotic p-value.

    The p-value is Smirnov's (``kstwo.sf(D, round(m n / (m + n)))``), as scipy's
    ``ks_2samp(..., method="asymp")`` (the effective size is at least 1; D = 0 gives p = 1).
    """
    a = np.sort(as_1d("expected", expected))
    b = np.sort(as_1d("actual", actual))
    pooled = np.concatenate((a, b))
    cdf_a = np.searchsorted(a, pooled, side="right") / len(a)
    cdf_b = np.searchsorted(b, pooled, side="right") / len(b)
    d = float(np.max(np.abs(cdf_a - cdf_b)))
    m, n = max(len(a), len(b)), min(len(a), len(b))
    if d == 0.0:
        return 0.0, 1.0
    effective_n = max(1.0, float(np.round(m * n / (m + n))))
    return d, float(np.clip(kstwo.sf(d, effective_n), 0.0, 1.0))


def crps_gaussian(mu: Any, sigma: Any, y: Any) -> FloatArray:
    """CRPS of N(mu, sigma^2) forecasts at outcomes ``y`` (closed form; broadcasts)."""
    m = np.atleast_1d(as_1d("mu", np.atleast_1d(mu)))
    s = np.atleast_1d(as_1d("sigma", np.atleast_1d(sigma)))
    obs = np.atleast_1d(as_1d("y", np.atleast_1d(y)))
    if (s <= 0).any():
        raise ValueError(f"sigma: must be > 0, got {float(s[s <= 0][0])!r}")
    try:
        m, s, obs = np.broadcast_arrays(m, s, obs)
    except ValueError:
        raise ValueError(f"mu, sigma, y: shapes {m.shape}, {s.shape}, {obs.shape} differ") from None
    z = (obs - m) / s
    return np.asarray(s * (z * (2 * norm.cdf(z) - 1) + 2 * norm.pdf(z) - 1 / np.sqrt(np.pi)))


def crps_ensemble(members: Any, y: Any) -> FloatArray:
    """CRPS of ensemble forecasts (rows of ``members``) at outcomes ``y``.

    The ensemble's empirical CDF is scored exactly: E|X - y| - E|X - X'| / 2.
    """
    ens = as_2d("members", np.atleast_2d(members))
    obs = as_1d("y", np.atleast_1d(y))
    if len(obs) != ens.shape[0]:
        raise ValueError(f"y: expected {ens.shape[0]} outcomes (one per row), got {len(obs)}")
    m = ens.shape[1]
    x = np.sort(ens, axis=1)
    spread = 2.0 * (x * (2 * np.arange(m) - m + 1)).sum(axis=1) / (m * m)
    return np.asarray(np.abs(x - obs[:, None]).mean(axis=1) - 0.5 * spread)


def brier(prob: Any, outcome: Any) -> float:
    """Brier score mean (p_i - y_i)^2 of probabilities against 0/1 outcomes."""
    p = as_1d("prob", prob)
    y = as_1d("outcome", outcome)
    if len(p) != len(y):
        raise ValueError(f"prob, outcome: lengths differ ({len(p)}, {len(y)})")
    if ((p < 0) | (p > 1)).any():
        raise ValueError(f"prob: must lie in [0, 1], got {float(p[(p < 0) | (p > 1)][0])!r}")
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError(f"outcome: must be 0 or 1, got {float(y[~np.isin(y, (0.0, 1.0))][0])!r}")
    return float(np.mean((p - y) ** 2))


def _project_simplex(v: FloatArray) -> FloatArray:
    u = np.sort(v)[::-1]
    css = np.cumsum(u) - 1.0
    k = np.nonzero(u - css / np.arange(1, len(v) + 1) > 0)[0][-1]
    return np.asarray(np.maximum(v - css[k] / (k + 1), 0.0))


def _polish(q: FloatArray, c: FloatArray, w: FloatArray) -> FloatArray:
    """Solve the KKT system on w's support; keep it if it is feasible and optimal."""
    support = w > 1e-9
    k = int(support.sum())
    kkt = np.zeros((k + 1, k + 1))
    kkt[:k, :k] = 2 * q[np.ix_(support, support)]
    kkt[:k, k] = kkt[k, :k] = 1.0
    sol = np.linalg.lstsq(kkt, np.r_[2 * c[support], 1.0], rcond=None)[0]
    exact = np.zeros_like(w)
    exact[support] = sol[:k]
    grad = 2 * (q @ exact - c) + sol[k]
    if (exact >= 0).all() and (grad[~support] >= -1e-9).all():
        return exact
    return w


def ensemble_weights(target: Any, forecasts: Any, lam: float = 0.0) -> FloatArray:
    """Weights w >= 0, sum 1, minimising ||target - forecasts @ w||^2 + lam ||w||^2 (seed 16.1).

    ``forecasts`` has one column per model. Solved by accelerated projected gradient on the
    simplex, then polished by the KKT system on the support found.
    """
    y = as_1d("target", target)
    f = as_2d("forecasts", forecasts)
    if f.shape[0] != len(y):
        raise ValueError(f"forecasts: expected {len(y)} rows (one per target), got {f.shape[0]}")
    penalty = positive("lam", lam, allow_zero=True)
    q = f.T @ f + penalty * np.eye(f.shape[1])
    c = f.T @ y
    step = 1.0 / max(2 * float(np.linalg.eigvalsh(q)[-1]), 1e-300)
    w = np.full(f.shape[1], 1.0 / f.shape[1])
    v, t = w.copy(), 1.0
    for _ in range(20_000):
        w_next = _project_simplex(v - step * 2 * (q @ v - c))
        t_next = (1 + np.sqrt(1 + 4 * t * t)) / 2
        v = w_next + (t - 1) / t_next * (w_next - w)
        done = np.abs(w_next - w).max() < 1e-13
        w, t = w_next, t_next
        if done:
            break
    return _polish(q, c, w)


def bma_weights(log_likelihoods: Any, prior: Any = None) -> FloatArray:
    """Bayesian model averaging weights w_k proportional to prior_k * exp(loglik_k)."""
    ll = as_1d("log_likelihoods", log_likelihoods)
    if prior is None:
        log_prior = np.zeros_like(ll)
    else:
        pi = as_1d("prior", prior)
        if len(pi) != len(ll) or (pi <= 0).any():
            raise ValueError(f"prior: expected {len(ll)} positive weights, got {pi!r}")
        log_prior = np.log(pi / pi.sum())
    joint = ll + log_prior
    return np.asarray(np.exp(joint - logsumexp(joint)))


class SentinelAction(enum.StrEnum):
    NONE = "NONE"
    REDUCE = "REDUCE"
    FLATTEN = "FLATTEN"


@dataclass(frozen=True)
class SentinelReading:
    """The composite score, each component's z-score, the action and the exposure multiplier."""

    score: float
    action: SentinelAction
    exposure: float
    components: dict[str, float] = field(default_factory=dict)


_Z_CLIP = 10.0


def _z_against_baseline(series: FloatArray, baseline: int) -> float:
    base, now = series[-baseline - 1 : -1], series[-1]
    std = float(base.std(ddof=1))
    if std <= 1e-12 * max(1.0, float(np.abs(base).max())):
        return 0.0 if now == base.mean() else float(np.copysign(_Z_CLIP, now - base.mean()))
    return float(np.clip((now - base.mean()) / std, -_Z_CLIP, _Z_CLIP))


def _rolling_acf1_and_var(r: FloatArray, window: int) -> tuple[FloatArray, FloatArray]:
    win = np.lib.stride_tricks.sliding_window_view(r, window)
    lead, lag = win[:, 1:], win[:, :-1]
    lead_c = lead - lead.mean(axis=1, keepdims=True)
    lag_c = lag - lag.mean(axis=1, keepdims=True)
    denom = np.sqrt((lead_c**2).sum(axis=1) * (lag_c**2).sum(axis=1))
    num = (lead_c * lag_c).sum(axis=1)
    acf = np.divide(num, denom, out=np.zeros_like(num), where=denom > 0)
    return acf, win.var(axis=1, ddof=1)


def _optional_tail(name: str, values: Any, n: int, need: int) -> FloatArray | None:
    if values is None:
        return None
    arr = as_1d(name, values, min_len=need)
    if len(arr) != n:
        raise ValueError(f"{name}: expected one value per return ({n}), got {len(arr)}")
    return arr


def crash_sentinel(
    returns: Any,
    *,
    window: int = 20,
    baseline: int = 250,
    imbalance: Any = None,
    turbulence: Any = None,
    reduce_at: float = 3.0,
    flatten_at: float = 6.0,
) -> SentinelReading:
    """The seed's crash-sentinel composite (001, section 17.3) on the latest observation.

    score = z(lag-1 autocorrelation of returns) + z(return variance) [+ z(sell pressure)]
    [+ z(turbulence)], each rolling statistic over ``window`` returns and each z-score taken
    against the component's previous ``baseline`` values (the latest excluded, ddof 1, clipped
    to +-10). ``imbalance`` is the order-book imbalance (bid - ask) / (bid + ask) per return;
    sell pressure is its negative. ``turbulence`` is a precomputed turbulence index per return.
    Above ``reduce_at`` exposure halves; above ``flatten_at`` the book flattens. A flat window
    has autocorrelation 0.
    """
    for name, v in (("window", window), ("baseline", baseline)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 3:
            raise ValueError(f"{name}: must be an integer >= 3, got {v!r}")
    r = as_1d("returns", returns, min_len=window + baseline)
    lo, hi = float(reduce_at), float(flatten_at)
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise ValueError(
            f"reduce_at, flatten_at: need finite reduce_at < flatten_at, got {lo}, {hi}"
        )
    acf, var = _rolling_acf1_and_var(r, window)
    comps = {
        "acf1": _z_against_baseline(acf, baseline),
        "variance": _z_against_baseline(var, baseline),
    }
    book = _optional_tail("imbalance", imbalance, len(r), baseline + 1)
    if book is not None:
        comps["sell_pressure"] = _z_against_baseline(-book, baseline)
    turb = _optional_tail("turbulence", turbulence, len(r), baseline + 1)
    if turb is not None:
        comps["turbulence"] = _z_against_baseline(turb, baseline)
    score = float(sum(comps.values()))
    if score > hi:
        return SentinelReading(score, SentinelAction.FLATTEN, 0.0, comps)
    if score > lo:
        return SentinelReading(score, SentinelAction.REDUCE, 0.5, comps)
    return SentinelReading(score, SentinelAction.NONE, 1.0, comps)
