"""Contextual LinUCB meta-allocator with a CVaR penalty and per-arm caps (seed 001,
sections 9.1, 16.5, 17.2, 22.3).

Each arm (a strategy) keeps a ridge regression of its risk-adjusted reward on a context:
``V_j = alpha I + sum x x'``, ``theta_j = V_j^-1 sum x r``. Its score is the upper
confidence bound ``x' theta_j + beta sqrt(x' V_j^-1 x)`` minus ``cvar_lambda`` times the
arm's empirical CVaR (the historical expected shortfall at ``1 - cvar_q`` of the rewards it
has earned, once it has ``min_history`` of them). ``decay < 1`` forgets old evidence
geometrically ("capital shifts to winners with decaying memory"). The seed's reference
class used ``math.sqrt`` without importing math, and never finished its CVaR branch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tradeswarm.quant._checks import FloatArray, as_1d, as_2d, positive, probability
from tradeswarm.quant.risk import es_historical


@dataclass(frozen=True)
class LinUCBConfig:
    alpha_reg: float = 1.0
    beta_ucb: float = 1.5
    max_alloc: float = 0.25
    min_alloc: float = 0.0
    cvar_q: float = 0.05
    cvar_lambda: float = 0.1
    min_history: int = 20
    decay: float = 1.0


def risk_adjusted_reward(
    pnl: float, *, loss_lambda: float = 0.0, power: float = 2.0, psi: float = 0.0,
    drawdown_breach: bool = False,
) -> float:  # fmt: skip
    """``r - loss_lambda * max(0, -r)^power - psi * 1{drawdown breach}`` (section 16.5)."""
    r = float(as_1d("pnl", [pnl])[0])
    lam = positive("loss_lambda", loss_lambda, allow_zero=True)
    p = positive("power", power)
    penalty = positive("psi", psi, allow_zero=True) if drawdown_breach else 0.0
    return float(r - lam * max(0.0, -r) ** p - penalty)


def _validate(n_arms: int, n_features: int, cfg: LinUCBConfig) -> None:
    for name, value in (("n_arms", n_arms), ("n_features", n_features)):
        if int(value) != value or value < 1:
            raise ValueError(f"{name}: must be an integer >= 1, got {value!r}")
    positive("alpha_reg", cfg.alpha_reg)
    positive("beta_ucb", cfg.beta_ucb, allow_zero=True)
    positive("cvar_lambda", cfg.cvar_lambda, allow_zero=True)
    probability("cvar_q", cfg.cvar_q)
    probability("decay", cfg.decay, open_interval=False)
    if not 0.0 <= cfg.min_alloc <= cfg.max_alloc <= 1.0:
        raise ValueError(f"max_alloc: need 0 <= min_alloc <= max_alloc <= 1, got {cfg!r}")
    if cfg.max_alloc * n_arms < 1.0 or cfg.min_alloc * n_arms > 1.0:
        raise ValueError(f"max_alloc: caps cannot sum to 1 over {n_arms} arms")


@dataclass
class LinUCBAllocator:
    """Disjoint LinUCB over ``n_arms`` strategies with ``n_features`` context features."""

    n_arms: int
    n_features: int
    cfg: LinUCBConfig = field(default_factory=LinUCBConfig)
    seed: int = 0

    def __post_init__(self) -> None:
        _validate(self.n_arms, self.n_features, self.cfg)
        eye = np.eye(self.n_features)
        self._v = np.stack([self.cfg.alpha_reg * eye] * self.n_arms)
        self._b = np.zeros((self.n_arms, self.n_features))
        self._rewards: list[list[float]] = [[] for _ in range(self.n_arms)]
        self._rng = np.random.default_rng(self.seed)

    def _contexts(self, contexts: Any) -> FloatArray:
        x = as_2d("contexts", contexts)
        if x.shape != (self.n_arms, self.n_features):
            raise ValueError(
                f"contexts: expected shape ({self.n_arms}, {self.n_features}), got {x.shape}"
            )
        return x

    def cvar_penalty(self, arm: int) -> float:
        """``cvar_lambda`` times the arm's historical ES of its rewards (0 until warmed up)."""
        rewards = self._rewards[arm]
        if len(rewards) < self.cfg.min_history:
            return 0.0
        return self.cfg.cvar_lambda * es_historical(rewards, 1.0 - self.cfg.cvar_q)

    def scores(self, contexts: Any) -> FloatArray:
        """UCB score minus CVaR penalty for each arm; ``contexts`` is n_arms x n_features."""
        x = self._contexts(contexts)
        out = np.empty(self.n_arms)
        for j in range(self.n_arms):
            theta = np.linalg.solve(self._v[j], self._b[j])
            width = float(np.sqrt(x[j] @ np.linalg.solve(self._v[j], x[j])))
            out[j] = x[j] @ theta + self.cfg.beta_ucb * width - self.cvar_penalty(j)
        return out

    def select(self, contexts: Any) -> int:
        """The arm with the best score; ties go to a seeded random choice."""
        s = self.scores(contexts)
        best = np.flatnonzero(s >= s.max() - 1e-12 * max(1.0, abs(float(s.max()))))
        return int(best[0] if best.size == 1 else self._rng.choice(best))

    def update(self, arm: int, context: Any, reward: float) -> None:
        """Record the (risk-adjusted) reward the arm earned in ``context``."""
        if int(arm) != arm or not 0 <= arm < self.n_arms:
            raise ValueError(f"arm: must be in [0, {self.n_arms}), got {arm!r}")
        x = as_1d("context", context)
        if x.size != self.n_features:
            raise ValueError(f"context: expected {self.n_features} features, got {x.size}")
        r = float(as_1d("reward", [reward])[0])
        g = self.cfg.decay
        self._v[arm] = g * self._v[arm] + np.outer(x, x)
        self._v[arm] += (1.0 - g) * self.cfg.alpha_reg * np.eye(self.n_features)
        self._b[arm] = g * self._b[arm] + r * x
        self._rewards[arm].append(r)

    def allocate(self, contexts: Any) -> FloatArray:
        """Capital weights across arms: the positive parts of the scores as proportions
        (equal when none is positive), projected onto ``[min_alloc, max_alloc]`` caps
        summing to 1."""
        s = np.maximum(self.scores(contexts), 0.0)
        raw = s / s.sum() if s.sum() > 0 else np.full(self.n_arms, 1.0 / self.n_arms)
        return capped_weights(raw, self.cfg.min_alloc, self.cfg.max_alloc)


def capped_weights(raw: Any, lower: float, upper: float) -> FloatArray:
    """The Euclidean projection of ``raw`` onto ``{lower <= w <= upper, sum(w) = 1}``:
    ``w_i = clip(raw_i - nu, lower, upper)`` with the shift ``nu`` found by bisection
    (the sum is monotone in ``nu``)."""
    w = as_1d("raw", raw)
    n = w.size
    if n * upper < 1.0 - 1e-12 or n * lower > 1.0 + 1e-12:
        raise ValueError(f"upper: caps [{lower}, {upper}] cannot sum to 1 over {n} arms")
    lo_nu, hi_nu = float(w.min()) - upper, float(w.max()) - lower
    for _ in range(200):
        nu = 0.5 * (lo_nu + hi_nu)
        if np.clip(w - nu, lower, upper).sum() > 1.0:
            lo_nu = nu
        else:
            hi_nu = nu
    out = np.clip(w - 0.5 * (lo_nu + hi_nu), lower, upper)
    return np.asarray(out / out.sum(), dtype=np.float64)
