"""Risk numbers: VaR and ES (historical and normal), Ledoit-Wolf shrinkage, turbulence,
volatility targeting, and the VaR/ES impact of a trade.

Conventions (seed 001, section 16.2): the loss is ``L = -r`` and ``alpha`` is the
*confidence level*, e.g. 0.95 or 0.99, never the tail probability 0.05.

- ``VaR_alpha = inf{m : P(L <= m) >= alpha}``: the empirical alpha-quantile of the losses
  with the inverted-CDF rule (``np.quantile(-r, alpha, method="inverted_cdf")``), so the
  VaR is always one of the observed losses.
- ``ES_alpha = VaR_alpha + E[(L - VaR_alpha)^+] / (1 - alpha)`` (Rockafellar-Uryasev),
  i.e. the mean of the worst ``(1 - alpha)`` share of the losses, the boundary loss counted
  fractionally (Acerbi-Tasche). For a continuous distribution this is the seed's
  ``E[L | L >= VaR_alpha]``; on an empirical sample with ties at the VaR the seed's
  conditional mean would also average in losses below the tail (e.g. ten equal gains
  around one crash), so the coherent tail mean is used.

Both are reported as loss numbers: positive when the tail loses money. A history that
never loses gives a negative VaR (the alpha-quantile is a gain); that is the honest number,
not an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from tradeswarm.quant._checks import FloatArray, as_1d, as_2d, positive, probability


def var_historical(returns: Any, alpha: float = 0.95) -> float:
    """Historical VaR at confidence ``alpha`` of a return (or P&L) series, as a loss."""
    losses = -as_1d("returns", returns)
    a = probability("alpha", alpha)
    return float(np.quantile(losses, a, method="inverted_cdf"))


def es_historical(returns: Any, alpha: float = 0.95) -> float:
    """Historical expected shortfall: the mean of the worst ``1 - alpha`` share of losses."""
    losses = -as_1d("returns", returns)
    a = probability("alpha", alpha)
    var = float(np.quantile(losses, a, method="inverted_cdf"))
    return var + float(np.maximum(losses - var, 0.0).mean()) / (1.0 - a)


def _moments(returns: Any) -> tuple[float, float]:
    r = as_1d("returns", returns, min_len=2)
    return float(r.mean()), float(r.std(ddof=1))


def var_normal(returns: Any, alpha: float = 0.95) -> float:
    """Parametric (Gaussian) VaR: ``-mu + sigma * z_alpha`` with the sample mean and
    the sample standard deviation (ddof=1)."""
    from scipy.stats import norm  # scipy.stats costs ~1 s to import: only when asked

    a = probability("alpha", alpha)
    mu, sigma = _moments(returns)
    return float(-mu + sigma * norm.ppf(a))


def es_normal(returns: Any, alpha: float = 0.95) -> float:
    """Parametric (Gaussian) ES: ``-mu + sigma * pdf(z_alpha) / (1 - alpha)``."""
    from scipy.stats import norm

    a = probability("alpha", alpha)
    mu, sigma = _moments(returns)
    return float(-mu + sigma * norm.pdf(norm.ppf(a)) / (1.0 - a))


@dataclass(frozen=True)
class Shrunk:
    """A Ledoit-Wolf covariance: ``(1 - shrinkage) * S + shrinkage * target * I``."""

    covariance: FloatArray
    shrinkage: float
    target: float


def ledoit_wolf(returns: Any) -> Shrunk:
    """Ledoit-Wolf (2004) shrinkage of the sample covariance towards ``mu * I``.

    ``returns`` is T x n (rows are observations). S is the maximum-likelihood covariance
    (divides by T) of the demeaned returns, ``mu = trace(S) / n``, and the shrinkage
    intensity is ``min(b2, d2) / d2`` with ``d2 = ||S - mu I||_F^2`` and
    ``b2 = (1/T^2) * sum_t ||x_t x_t' - S||_F^2``. A diagonal S with equal variances needs
    no shrinkage (intensity 0).
    """
    x = as_2d("returns", returns, min_rows=2)
    t, n = x.shape
    x = x - x.mean(axis=0)
    s = (x.T @ x) / t
    mu = float(np.trace(s)) / n
    sq_norms = np.einsum("ij,ij->i", x, x)
    b2 = (float(np.sum(sq_norms**2)) - t * float(np.sum(s * s))) / t**2
    centred = s.copy()
    centred[np.diag_indices(n)] -= mu
    d2 = float(np.sum(centred * centred))
    shrinkage = 0.0 if d2 == 0.0 else min(max(b2, 0.0), d2) / d2
    cov = (1.0 - shrinkage) * s
    cov[np.diag_indices(n)] += shrinkage * mu
    return Shrunk(covariance=cov, shrinkage=shrinkage, target=mu)


def turbulence(today: Any, history: Any) -> float:
    """Turbulence index ``(x - mu)' Sigma^+ (x - mu)`` of today's returns against history.

    ``mu`` and ``Sigma`` are the sample mean and covariance (ddof=1) of ``history`` (T x n).
    ``Sigma^+`` is the Moore-Penrose pseudo-inverse, so a singular history (a constant or
    duplicated asset) gives the distance within the span the history moved in: well defined,
    never NaN.
    """
    hist = as_2d("history", history, min_rows=2)
    x = as_1d("today", today)
    if x.size != hist.shape[1]:
        raise ValueError(f"today: expected {hist.shape[1]} returns, got {x.size}")
    cov = np.atleast_2d(np.cov(hist, rowvar=False))
    d = x - hist.mean(axis=0)
    return float(d @ np.linalg.pinv(cov, hermitian=True) @ d)


def vol_target_scale(
    returns: Any,
    target_vol: float,
    *,
    periods_per_year: int = 252,
    floor: float = 1e-8,
    max_scale: float | None = None,
) -> float:
    """Exposure multiplier ``s = target_vol / max(realised_vol, floor)``, capped at max_scale.

    Realised volatility is the annualised sample standard deviation (ddof=1) of ``returns``.
    """
    r = as_1d("returns", returns, min_len=2)
    target = positive("target_vol", target_vol, allow_zero=True)
    ppy = positive("periods_per_year", periods_per_year)
    eps = positive("floor", floor)
    realised = float(r.std(ddof=1)) * float(np.sqrt(ppy))
    scale = target / max(realised, eps)
    if max_scale is not None:
        scale = min(scale, positive("max_scale", max_scale, allow_zero=True))
    return scale


def concentration(holdings: Any) -> float:
    """Largest absolute holding over gross exposure (0 for an empty book, 1 for one name)."""
    h = np.abs(as_1d("holdings", holdings))
    gross = float(h.sum())
    return 0.0 if gross == 0.0 else float(h.max()) / gross


@dataclass(frozen=True)
class TradeRiskImpact:
    """Historical VaR and ES (currency losses) of a book before and after a trade."""

    var_before: float
    var_after: float
    es_before: float
    es_after: float

    @property
    def var_delta(self) -> float:
        return self.var_after - self.var_before

    @property
    def es_delta(self) -> float:
        return self.es_after - self.es_before


def trade_var_impact(
    returns: Any, holdings: Any, trade: Any, alpha: float = 0.95
) -> TradeRiskImpact:
    """VaR/ES of the book ``holdings`` and of ``holdings + trade`` over a return history.

    ``returns`` is T x n simple returns (or a length-T series for one asset), ``holdings``
    and ``trade`` are n market values in currency (a trade's value is signed: buys
    positive). The book's P&L on day t is ``returns[t] @ holdings``; VaR and ES are the
    historical ones at confidence ``alpha``, in currency.
    """
    r = np.asarray(returns, dtype=np.float64)
    r = as_2d("returns", r[:, None] if r.ndim == 1 else r)
    before = as_1d("holdings", np.atleast_1d(np.asarray(holdings, dtype=np.float64)))
    delta = as_1d("trade", np.atleast_1d(np.asarray(trade, dtype=np.float64)))
    for name, vec in (("holdings", before), ("trade", delta)):
        if vec.size != r.shape[1]:
            raise ValueError(f"{name}: expected {r.shape[1]} values, got {vec.size}")
    pnl_before, pnl_after = r @ before, r @ (before + delta)
    return TradeRiskImpact(
        var_before=var_historical(pnl_before, alpha),
        var_after=var_historical(pnl_after, alpha),
        es_before=es_historical(pnl_before, alpha),
        es_after=es_historical(pnl_after, alpha),
    )
