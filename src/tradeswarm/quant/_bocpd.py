"""Bayesian online change-point detection (Adams & MacKay 2007), Normal-Gamma model.

Observations in a run are Normal with unknown mean and precision under the conjugate
Normal-Gamma prior (mu0, kappa0, alpha0, beta0); the predictive is Student-t with 2 alpha
degrees of freedom, location mu and squared scale beta (kappa + 1) / (alpha kappa). The hazard
is constant. Run length r_t counts the observations of the current run up to and including
x_t; as in the paper, r_t = 0 means "a new run starts after x_t", so P(r_t = 0 | x) equals the
hazard and a change shows as the run-length posterior collapsing onto short runs one step on.
Scale the data (or beta0) so the prior variance beta0 / alpha0 is of the data's order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import gammaln

from tradeswarm.quant._checks import FloatArray, as_1d, positive, probability


@dataclass(frozen=True, eq=False)
class BocpdResult:
    """MAP and expected run length after each observation; the full posterior if kept."""

    map_run_length: np.ndarray
    expected_run_length: FloatArray
    log_evidence: float
    posterior: FloatArray | None

    def run_starts(self, confirm: int = 1) -> list[int]:
        """Indices where a MAP run began that then stayed the MAP run ``confirm`` times."""
        if isinstance(confirm, bool) or not isinstance(confirm, int) or confirm < 1:
            raise ValueError(f"confirm: must be an integer >= 1, got {confirm!r}")
        starts = np.arange(1, len(self.map_run_length) + 1) - self.map_run_length
        values, counts = np.unique(starts[starts > 0], return_counts=True)
        return [int(v) for v, c in zip(values, counts, strict=True) if c >= confirm]


def _predictive_constants(n: int, k0: float, a0: float) -> tuple[FloatArray, ...]:
    """Per run length r: kappa_r = kappa0 + r and alpha_r = alpha0 + r / 2 are known up front."""
    r = np.arange(n + 1, dtype=np.float64)
    kappa, alpha = k0 + r, a0 + 0.5 * r
    nu = 2.0 * alpha
    lead = gammaln((nu + 1) / 2) - gammaln(nu / 2) - 0.5 * np.log(nu * np.pi)
    return kappa, alpha, nu, lead


def bocpd(
    x: Any,
    *,
    hazard: float = 1 / 250,
    mu0: float = 0.0,
    kappa0: float = 1.0,
    alpha0: float = 1.0,
    beta0: float = 1.0,
    keep_posterior: bool = False,
) -> BocpdResult:
    """Run-length posterior P(r_t | x_1..t) for each t; O(T^2) time, O(T) memory.

    ``keep_posterior`` keeps the (T, T + 1) matrix whose row t is P(r_t = r | x_1..t) for
    r = 0..t + 1 (mind the memory for long series).
    """
    obs = as_1d("x", x)
    h = probability("hazard", hazard)
    k0, a0, b0 = positive("kappa0", kappa0), positive("alpha0", alpha0), positive("beta0", beta0)
    m0 = float(mu0)
    if not np.isfinite(m0):
        raise ValueError(f"mu0: must be finite, got {mu0!r}")
    n = len(obs)
    kappa, alpha, nu, lead = _predictive_constants(n, k0, a0)
    mu, beta = np.full(n + 1, m0), np.full(n + 1, b0)
    log_r = np.zeros(1)
    map_rl = np.empty(n, dtype=np.int64)
    mean_rl = np.empty(n)
    post = np.zeros((n, n + 1)) if keep_posterior else None
    log_h, log_1h, evidence = np.log(h), np.log1p(-h), 0.0
    for t, xt in enumerate(obs):
        m = t + 1  # run lengths 0..t are live before x_t
        scale2 = beta[:m] * (kappa[:m] + 1.0) / (alpha[:m] * kappa[:m])
        dev = (xt - mu[:m]) ** 2 / (nu[:m] * scale2)
        pred = lead[:m] - 0.5 * np.log(scale2) - (nu[:m] + 1) / 2 * np.log1p(dev) + log_r
        joint = np.empty(m + 1)
        top = float(pred.max())
        weights = np.exp(pred - top)
        total = float(weights.sum())
        joint[0] = top + np.log(total) + log_h
        joint[1:] = pred + log_1h
        step = top + float(np.log(total))  # growth + change = the predictive mass
        evidence += step
        log_r = joint - step
        probs = np.exp(log_r)
        map_rl[t] = int(np.argmax(probs))
        mean_rl[t] = float(probs @ np.arange(m + 1))
        if post is not None:
            post[t, : m + 1] = probs
        beta[1 : m + 1] = beta[:m] + kappa[:m] * (xt - mu[:m]) ** 2 / (2 * (kappa[:m] + 1))
        mu[1 : m + 1] = (kappa[:m] * mu[:m] + xt) / (kappa[:m] + 1)
        beta[0], mu[0] = b0, m0
    return BocpdResult(map_rl, mean_rl, evidence, post)
