"""PortfolioAgent: turns return histories into target weights and notionals under a risk
budget (seed 001, sections 2.6, 6, 16.3). A pure sizing component: it holds no bus handle
and no broker handle; the TradingAgent (or a rebalancer) calls it.

Methods: robust mean-variance (``quant.portfolio.mean_variance``, long-only budget with
turnover and L1 penalties), hierarchical risk parity (``hrp``), and Kelly-tempered
(``kelly_tempered``). Every target is then scaled to the risk budget: gross exposure at
most ``risk_budget`` times equity, and ex-ante annualised volatility at most ``vol_budget``.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

from tradeswarm.core.config import ConfigBase
from tradeswarm.quant import portfolio, risk


class SizingMethod(StrEnum):
    MEAN_VARIANCE = "mean_variance"
    HRP = "hrp"
    KELLY = "kelly"


class PortfolioConfig(ConfigBase, frozen=True):
    method: SizingMethod = SizingMethod.KELLY
    risk_budget: float = 1.0  # max gross exposure as a multiple of equity
    vol_budget: float = 0.20  # max ex-ante annualised volatility of the book
    max_weight: float = 0.25
    kelly_fraction: float = 0.25
    lam: float = 1.0
    turnover_penalty: float = 0.0
    l1_penalty: float = 0.0
    periods_per_year: int = 252


class PortfolioAgent:
    """Sizes a book of symbols from their daily return history."""

    def __init__(self, config: PortfolioConfig) -> None:
        self.config = config

    def target_weights(
        self, returns: NDArray[np.float64], w_prev: NDArray[np.float64] | None = None
    ) -> NDArray[np.float64]:
        """Weights per column of the T x n ``returns`` (fractions of equity) within budget."""
        c = self.config
        r = np.asarray(returns, dtype=np.float64)
        n = r.shape[1] if r.ndim == 2 else 0
        prev = np.zeros(n) if w_prev is None else np.asarray(w_prev, dtype=np.float64)
        cov = risk.ledoit_wolf(r).covariance
        mu = r.mean(axis=0)
        if c.method is SizingMethod.HRP:
            w = np.minimum(portfolio.hrp(r), c.max_weight)
        elif c.method is SizingMethod.MEAN_VARIANCE:
            w = portfolio.mean_variance(
                mu,
                cov,
                w_prev=prev,
                lam=c.lam,
                tau=c.turnover_penalty,
                kappa=c.l1_penalty,
                lower=0.0,
                upper=c.max_weight,
                A=np.ones((1, n)),
                b=[1.0],
            ).weights
        else:
            w = portfolio.kelly_tempered(
                mu,
                cov,
                fraction=c.kelly_fraction,
                max_weight=c.max_weight,
                max_leverage=c.risk_budget,
            )
        return self._within_budget(w, cov)

    def _within_budget(
        self, w: NDArray[np.float64], cov: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        c = self.config
        gross = float(np.abs(w).sum())
        if gross > c.risk_budget:
            w = w * (c.risk_budget / gross)
        vol = float(np.sqrt(max(float(w @ cov @ w), 0.0) * c.periods_per_year))
        if vol > c.vol_budget:
            w = w * (c.vol_budget / vol)
        return w

    def target_notionals(
        self,
        symbols: list[str],
        returns: NDArray[np.float64],
        equity: Decimal,
        w_prev: NDArray[np.float64] | None = None,
    ) -> dict[str, Decimal]:
        """Target market value per symbol, in whole cents, rounded towards zero."""
        w = self.target_weights(returns, w_prev)
        if len(symbols) != w.size:
            raise ValueError(f"symbols: expected {w.size} names, got {len(symbols)}")
        cent = Decimal("0.01")
        return {
            s: (equity * Decimal(repr(float(x)))).quantize(cent, rounding=ROUND_DOWN)
            for s, x in zip(symbols, w, strict=True)
        }


def kelly_notional(
    *,
    price: Decimal,
    atr: float,
    confidence: float,
    stop_atr: float,
    target_atr: float,
    equity: Decimal,
    fraction: float,
) -> Decimal:
    """Kelly-tempered notional for one bracketed trade, never negative.

    The trade is a two-point bet: with probability ``confidence`` it gains
    ``target_atr * atr / price``, otherwise it loses ``stop_atr * atr / price``. Its mean and
    standard deviation feed ``quant.portfolio.kelly_fraction`` (``fraction * mu / sigma^2``,
    capped at 1x equity); a bet without an edge gets 0.
    """
    px = float(price)
    if px <= 0 or atr <= 0:
        return Decimal(0)
    gain, loss = target_atr * atr / px, stop_atr * atr / px
    p = min(max(confidence, 0.0), 1.0)
    mu = p * gain - (1.0 - p) * loss
    sigma = (gain + loss) * float(np.sqrt(p * (1.0 - p)))
    if mu <= 0 or sigma <= 0:
        return Decimal(0)
    f = portfolio.kelly_fraction(mu, sigma, fraction=fraction, cap=1.0)
    return (equity * Decimal(repr(f))).quantize(Decimal(1), rounding=ROUND_DOWN)
