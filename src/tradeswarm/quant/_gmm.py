"""Gaussian mixture with full covariances, fitted by expectation-maximisation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import logsumexp

from tradeswarm.quant._checks import FloatArray, as_2d, positive

_LOG_2PI = float(np.log(2 * np.pi))


@dataclass(frozen=True, eq=False)
class GaussianMixture:
    """A fitted mixture: ``weights`` (k,), ``means`` (k, d), ``covariances`` (k, d, d)."""

    weights: FloatArray
    means: FloatArray
    covariances: FloatArray
    log_likelihood: float
    n_iter: int
    converged: bool


def _component_log_pdf(x: FloatArray, means: FloatArray, covs: FloatArray) -> FloatArray:
    n, d = x.shape
    out = np.empty((n, means.shape[0]))
    for k in range(means.shape[0]):
        chol = np.linalg.cholesky(covs[k])
        sol = np.linalg.solve(chol, (x - means[k]).T)
        log_det = 2.0 * np.log(np.diag(chol)).sum()
        out[:, k] = -0.5 * (d * _LOG_2PI + log_det + (sol * sol).sum(axis=0))
    return out


def _e_step(
    x: FloatArray, weights: FloatArray, means: FloatArray, covs: FloatArray
) -> tuple[float, FloatArray]:
    joint = _component_log_pdf(x, means, covs) + np.log(weights)
    norm = logsumexp(joint, axis=1)
    return float(norm.mean()), np.exp(joint - norm[:, None])


def _m_step(
    x: FloatArray, resp: FloatArray, reg: float
) -> tuple[FloatArray, FloatArray, FloatArray]:
    nk = resp.sum(axis=0) + 10 * np.finfo(np.float64).eps
    means = (resp.T @ x) / nk[:, None]
    covs = np.empty((len(nk), x.shape[1], x.shape[1]))
    for k in range(len(nk)):
        diff = x - means[k]
        covs[k] = (resp[:, k] * diff.T) @ diff / nk[k] + reg * np.eye(x.shape[1])
    return nk / x.shape[0], means, covs


def _initial_resp(x: FloatArray, k: int) -> FloatArray:
    """Split the rows into k equal groups along the first principal direction."""
    centred = x - x.mean(axis=0)
    direction = np.linalg.svd(centred, full_matrices=False)[2][0]
    order = np.argsort(centred @ direction, kind="stable")
    resp = np.zeros((x.shape[0], k))
    for group, rows in enumerate(np.array_split(order, k)):
        resp[rows, group] = 1.0
    return resp


def fit_gmm(
    x: Any,
    n_components: int = 2,
    *,
    max_iter: int = 500,
    tol: float = 1e-8,
    reg_covar: float = 1e-6,
    init: tuple[Any, Any, Any] | None = None,
) -> GaussianMixture:
    """Fit a full-covariance Gaussian mixture to the rows of ``x`` by EM.

    Deterministic: unless ``init`` gives (weights, means, covariances), the rows are split into
    equal groups along the first principal direction. ``reg_covar`` is added to every
    covariance diagonal (as scikit-learn does), so constant features stay well-posed. Stops
    when the mean log-likelihood per row improves by less than ``tol``.
    """
    data = as_2d("x", x)
    if isinstance(n_components, bool) or not isinstance(n_components, int) or n_components < 1:
        raise ValueError(f"n_components: must be an integer >= 1, got {n_components!r}")
    if data.shape[0] < 2 * n_components:
        raise ValueError(f"x: needs at least {2 * n_components} rows, got {data.shape[0]}")
    reg = positive("reg_covar", reg_covar)
    if init is None:
        weights, means, covs = _m_step(data, _initial_resp(data, n_components), reg)
    else:
        weights, means, covs = _checked_init(init, n_components, data.shape[1])
    previous, converged, it = -np.inf, False, 0
    for it in range(1, max_iter + 1):  # noqa: B007
        ll, resp = _e_step(data, weights, means, covs)
        weights, means, covs = _m_step(data, resp, reg)
        if abs(ll - previous) < tol:
            converged = True
            break
        previous = ll
    final, _ = _e_step(data, weights, means, covs)
    return GaussianMixture(weights, means, covs, final, it, converged)


def _checked_init(init: tuple[Any, Any, Any], k: int, d: int) -> tuple[FloatArray, ...]:
    weights = np.asarray(init[0], dtype=np.float64)
    means = np.asarray(init[1], dtype=np.float64)
    covs = np.asarray(init[2], dtype=np.float64)
    if weights.shape != (k,) or means.shape != (k, d) or covs.shape != (k, d, d):
        raise ValueError(
            f"init: expected shapes ({k},), ({k}, {d}), ({k}, {d}, {d}); "
            f"got {weights.shape}, {means.shape}, {covs.shape}"
        )
    if (weights <= 0).any() or not np.isclose(weights.sum(), 1.0):
        raise ValueError(f"init: weights must be positive and sum to 1, got {weights!r}")
    return weights, means, covs


def _checked_x(model: GaussianMixture, x: Any) -> FloatArray:
    data = as_2d("x", x)
    if data.shape[1] != model.means.shape[1]:
        raise ValueError(f"x: expected {model.means.shape[1]} columns, got {data.shape[1]}")
    return data


def gmm_posteriors(model: GaussianMixture, x: Any) -> FloatArray:
    """P(component | row) for each row of ``x``, shape (n, k)."""
    return _e_step(_checked_x(model, x), model.weights, model.means, model.covariances)[1]


def gmm_log_likelihood(model: GaussianMixture, x: Any) -> float:
    """Mean log-likelihood per row of ``x`` under the mixture."""
    data = _checked_x(model, x)
    return _e_step(data, model.weights, model.means, model.covariances)[0]
