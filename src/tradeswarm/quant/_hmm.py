"""Gaussian hidden Markov model with known parameters: forward filter, forward-backward smoother.

The seed (001, section 16.6) asks for P(S_t | r_1..t) "via forward-backward"; that is the
*filtered* probability and needs the forward pass alone. Forward-backward gives the *smoothed*
P(S_t | r_1..T), which looks into the future and must not gate live exposure. Both are here,
named for what they are.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tradeswarm.quant._checks import FloatArray, as_1d, as_2d


def _params(
    means: Any, stds: Any, transmat: Any, start: Any
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    mu = as_1d("means", means, min_len=2)
    k = len(mu)
    sd = as_1d("stds", stds, min_len=k)
    if len(sd) != k or (sd <= 0).any():
        raise ValueError(f"stds: expected {k} values > 0, got {sd!r}")
    a = as_2d("transmat", transmat)
    if a.shape != (k, k) or (a < 0).any() or not np.allclose(a.sum(axis=1), 1.0, atol=1e-10):
        raise ValueError(f"transmat: expected a {k}x{k} row-stochastic matrix, got {a!r}")
    pi = as_1d("start", start, min_len=k)
    if len(pi) != k or (pi < 0).any() or not np.isclose(pi.sum(), 1.0, atol=1e-10):
        raise ValueError(f"start: expected {k} probabilities summing to 1, got {pi!r}")
    return mu, sd, a, pi


def _emission_log(x: FloatArray, mu: FloatArray, sd: FloatArray) -> FloatArray:
    z = (x[:, None] - mu) / sd
    return np.asarray(-0.5 * (np.log(2 * np.pi) + z * z) - np.log(sd))


def _forward(
    x: Any, means: Any, stds: Any, transmat: Any, start: Any
) -> tuple[FloatArray, FloatArray, FloatArray, float]:
    """Scaled forward pass: filtered probabilities, scaled emissions, scales, log-likelihood."""
    obs = as_1d("x", x)
    mu, sd, a, pi = _params(means, stds, transmat, start)
    log_b = _emission_log(obs, mu, sd)
    shift = log_b.max(axis=1)
    b = np.exp(log_b - shift[:, None])
    alpha = np.empty_like(b)
    scale = np.empty(len(obs))
    prior = pi
    for t in range(len(obs)):
        joint = prior * b[t]
        scale[t] = joint.sum()
        alpha[t] = joint / scale[t]
        prior = alpha[t] @ a
    return alpha, b, scale, float(np.log(scale).sum() + shift.sum())


def hmm_filter(x: Any, means: Any, stds: Any, transmat: Any, start: Any) -> FloatArray:
    """Filtered state probabilities P(S_t | x_1..t), shape (T, k): causal, fit to gate live.

    ``means``/``stds`` are the per-state Gaussian emission parameters, ``transmat[i, j]`` is
    P(S_t = j | S_t-1 = i) and ``start`` is P(S_1).
    """
    return _forward(x, means, stds, transmat, start)[0]


def hmm_smooth(x: Any, means: Any, stds: Any, transmat: Any, start: Any) -> FloatArray:
    """Smoothed state probabilities P(S_t | x_1..T) by forward-backward (uses future data)."""
    alpha, b, scale, _ = _forward(x, means, stds, transmat, start)
    a = np.asarray(transmat, dtype=np.float64)
    beta = np.ones_like(alpha)
    for t in range(len(alpha) - 2, -1, -1):
        beta[t] = a @ (b[t + 1] * beta[t + 1]) / scale[t + 1]
    post = alpha * beta
    return np.asarray(post / post.sum(axis=1, keepdims=True))


def hmm_log_likelihood(x: Any, means: Any, stds: Any, transmat: Any, start: Any) -> float:
    """log P(x_1..T) under the model."""
    return _forward(x, means, stds, transmat, start)[3]
