"""Performance metrics (seed 004 "Cream", section 9; seed 001, section 10).

All take simple per-period returns (or an equity curve for ``max_drawdown``) and annualise
with ``periods_per_year`` (252 for daily bars). A ratio whose denominator is zero (a flat
series, a history without a drawdown or without a loss) is undefined and returns None, as
the seed's ``number | null`` does; malformed input raises a ValueError naming the argument.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import linregress

from tradeswarm.quant._checks import FloatArray, as_1d, as_2d, positive


def _periods(periods_per_year: float) -> float:
    return positive("periods_per_year", periods_per_year)


def sharpe(returns: Any, risk_free: float = 0.0, periods_per_year: float = 252) -> float | None:
    """Annualised Sharpe ratio ``mean(r - rf) / std(r - rf) * sqrt(ppy)`` (std with ddof=1).

    ``risk_free`` is an annual rate, charged per period as ``risk_free / periods_per_year``.
    """
    r = as_1d("returns", returns, min_len=2)
    ppy = _periods(periods_per_year)
    excess = r - float(risk_free) / ppy
    sd = float(excess.std(ddof=1))
    if sd == 0.0:
        return None
    return float(excess.mean()) / sd * float(np.sqrt(ppy))


def sortino(returns: Any, target: float = 0.0, periods_per_year: float = 252) -> float | None:
    """Annualised Sortino ratio ``mean(r - t) / DD * sqrt(ppy)``.

    ``target`` is a per-period return; the downside deviation is
    ``DD = sqrt(mean(min(r - t, 0)^2))`` over every period (not only the losing ones).
    """
    r = as_1d("returns", returns, min_len=2)
    ppy = _periods(periods_per_year)
    excess = r - float(target)
    downside = float(np.sqrt(np.mean(np.minimum(excess, 0.0) ** 2)))
    if downside == 0.0:
        return None
    return float(excess.mean()) / downside * float(np.sqrt(ppy))


def equity_curve(returns: Any) -> FloatArray:
    """Growth of 1 under compounding: ``[1, (1+r1), (1+r1)(1+r2), ...]``."""
    r = as_1d("returns", returns)
    if (r <= -1.0).any():
        raise ValueError(f"returns: a return <= -100% ({r.min()!r}) wipes the book out")
    return np.concatenate(([1.0], np.cumprod(1.0 + r)))


def max_drawdown(values: Any) -> float:
    """Largest peak-to-trough fall of an equity curve, as a fraction in [0, 1]."""
    v = as_1d("values", values)
    if (v <= 0).any():
        raise ValueError(f"values: an equity curve must be > 0, got {v.min()!r}")
    return float(np.max(1.0 - v / np.maximum.accumulate(v)))


def cagr(returns: Any, periods_per_year: float = 252) -> float:
    """Compound annual growth rate ``prod(1 + r) ** (ppy / n) - 1``."""
    curve = equity_curve(returns)
    return float(curve[-1] ** (_periods(periods_per_year) / (curve.size - 1)) - 1.0)


def calmar(returns: Any, periods_per_year: float = 252) -> float | None:
    """Calmar ratio: CAGR over the maximum drawdown of the compounded equity curve."""
    dd = max_drawdown(equity_curve(returns))
    if dd == 0.0:
        return None
    return cagr(returns, periods_per_year) / dd


def hit_rate(pnl: Any) -> float | None:
    """Share of winning trades among the trades that won or lost (flat ones are ignored)."""
    p = as_1d("pnl", pnl)
    decided = p[p != 0.0]
    if decided.size == 0:
        return None
    return float(np.mean(decided > 0.0))


def turnover(weights: Any, *, one_way: bool = True) -> float:
    """Mean turnover per rebalance of a T x n weight history.

    Per rebalance it is ``sum_i |w_t,i - w_{t-1},i|``, halved when ``one_way`` (buys only).
    """
    w = as_2d("weights", weights, min_rows=2)
    traded = np.abs(np.diff(w, axis=0)).sum(axis=1)
    return float(traded.mean() * (0.5 if one_way else 1.0))


@dataclass(frozen=True)
class AlphaDecay:
    """Trend of a strategy's Sharpe over consecutive windows (seed 001, "Alpha Lifecycler")."""

    window_sharpes: FloatArray
    slope_per_year: float
    t_stat: float
    p_value: float

    def decaying(self, significance: float = 0.05) -> bool:
        """Whether the Sharpe falls over time at the given one-sided significance."""
        return self.slope_per_year < 0 and self.p_value / 2.0 < significance


def alpha_decay(returns: Any, window: int = 63, periods_per_year: float = 252) -> AlphaDecay:
    """Fit a line through the annualised Sharpe ratios of consecutive non-overlapping windows.

    The slope is in Sharpe units per year (a negative slope means the edge is decaying);
    ``t_stat`` and ``p_value`` (two-sided) come from the ordinary least-squares fit. Needs at
    least three windows; a window with zero volatility counts as Sharpe 0.
    """
    r = as_1d("returns", returns)
    if int(window) != window or window < 2:
        raise ValueError(f"window: must be an integer >= 2, got {window!r}")
    ppy = _periods(periods_per_year)
    n_windows = r.size // window
    if n_windows < 3:
        raise ValueError(f"returns: need at least 3 windows of {window}, got {r.size} values")
    chunks = r[: n_windows * window].reshape(n_windows, window)
    sharpes = np.array([sharpe(c, 0.0, ppy) or 0.0 for c in chunks])
    years = (np.arange(n_windows) + 0.5) * window / ppy
    if np.ptp(sharpes) == 0.0:
        return AlphaDecay(sharpes, 0.0, 0.0, 1.0)
    fit = linregress(years, sharpes)
    t_stat = float(fit.slope / fit.stderr) if fit.stderr > 0 else float(np.sign(fit.slope)) * np.inf
    return AlphaDecay(sharpes, float(fit.slope), t_stat, float(fit.pvalue))
