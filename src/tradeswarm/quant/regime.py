"""Market regimes: the seed's rule-based classifier, a Gaussian mixture, a two-state HMM, BOCPD.

The rule-based classifier follows the seed ("Cream", packages/regime): a fast and a slow SMA
say the trend, the percentile of the current ATR among recent ATRs says the volatility, and
volatility takes priority over trend. The other detectors live in private modules and are
re-exported here: :func:`fit_gmm` / :func:`gmm_classify` (EM), :func:`hmm_filter` /
:func:`hmm_smooth` (two-state Gaussian HMM), :func:`bocpd` (Adams & MacKay 2007).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

import numpy as np

from tradeswarm.quant._bocpd import BocpdResult, bocpd
from tradeswarm.quant._checks import FloatArray, as_1d
from tradeswarm.quant._gmm import GaussianMixture, fit_gmm, gmm_log_likelihood, gmm_posteriors
from tradeswarm.quant._hmm import hmm_filter, hmm_log_likelihood, hmm_smooth
from tradeswarm.quant._normalize import percentile_rank_last
from tradeswarm.quant.indicators import as_hlc, atr, sma

__all__ = [
    "BocpdResult",
    "GaussianMixture",
    "Regime",
    "RegimeClassification",
    "RuleConfig",
    "bocpd",
    "classify_regime",
    "fit_gmm",
    "gmm_classify",
    "gmm_log_likelihood",
    "gmm_posteriors",
    "hmm_filter",
    "hmm_log_likelihood",
    "hmm_smooth",
    "label_components",
    "regime_features",
]


class Regime(enum.StrEnum):
    BULL_TREND = "BULL_TREND"
    BEAR_TREND = "BEAR_TREND"
    RANGE_BOUND = "RANGE_BOUND"
    HIGH_VOL = "HIGH_VOL"
    LOW_VOL = "LOW_VOL"
    UNKNOWN = "UNKNOWN"


@dataclass(frozen=True)
class RuleConfig:
    """Thresholds of the rule-based classifier (the seed's defaults)."""

    fast: int = 20
    slow: int = 50
    atr_period: int = 14
    atr_lookback: int = 100
    min_atr_history: int = 20
    high_vol_pct: float = 80.0
    low_vol_pct: float = 20.0
    converged_pct: float = 0.005
    strong_trend_pct: float = 0.02

    def __post_init__(self) -> None:
        if not 1 <= self.fast < self.slow:
            raise ValueError(f"fast: must be in [1, slow={self.slow}), got {self.fast!r}")
        if not 0.0 <= self.low_vol_pct < self.high_vol_pct <= 100.0:
            raise ValueError(
                f"low_vol_pct, high_vol_pct: need 0 <= low < high <= 100, "
                f"got {self.low_vol_pct!r}, {self.high_vol_pct!r}"
            )
        if not 2 <= self.min_atr_history <= self.atr_lookback:
            raise ValueError(
                f"min_atr_history: must be in [2, atr_lookback={self.atr_lookback}], "
                f"got {self.min_atr_history!r}"
            )
        if not 0.0 < self.converged_pct < self.strong_trend_pct:
            raise ValueError(
                f"converged_pct: must be in (0, strong_trend_pct), got {self.converged_pct!r}"
            )

    @property
    def required_bars(self) -> int:
        return max(self.slow, self.atr_period + self.min_atr_history)


@dataclass(frozen=True)
class RegimeClassification:
    regime: Regime
    confidence: float
    reasoning: str
    fast_ma: float = float("nan")
    slow_ma: float = float("nan")
    ma_diff: float = float("nan")
    ma_diff_pct: float = float("nan")
    current_atr: float = float("nan")
    atr_percentile: float = float("nan")


_ATR_TIE_RTOL = 1e-9


def _beyond(value: float, threshold: float, extreme: float) -> float:
    """How far ``value`` lies past ``threshold`` towards ``extreme``, in [0, 1]."""
    return float(min(1.0, abs(value - threshold) / abs(extreme - threshold)))


def classify_regime(
    high: Any, low: Any, close: Any, config: RuleConfig | None = None
) -> RegimeClassification:
    """Classify the latest bar: HIGH_VOL, LOW_VOL / RANGE_BOUND, BULL_TREND / BEAR_TREND.

    UNKNOWN (confidence 0, metrics NaN) while fewer than ``config.required_bars`` bars exist.
    The ATR percentile ranks the current ATR among the last ``atr_lookback`` ATRs (ties, up to
    a relative 1e-9, count half, so a flat market sits at the 50th percentile). Confidence is
    how far the deciding metric lies past its threshold (0 at the threshold, 1 at the extreme).
    """
    cfg = config or RuleConfig()
    h, lo, c = as_hlc(high, low, close)
    if len(c) < cfg.required_bars:
        return RegimeClassification(
            Regime.UNKNOWN, 0.0, f"{len(c)} bars, need {cfg.required_bars} for the MAs and ATR"
        )
    atrs = atr(h, lo, c, cfg.atr_period)[cfg.atr_period :]
    fast = float(sma(c, cfg.fast)[-1])
    slow = float(sma(c, cfg.slow)[-1])
    price = float(c[-1])
    diff = fast - slow
    metrics = {
        "fast_ma": fast,
        "slow_ma": slow,
        "ma_diff": diff,
        "ma_diff_pct": abs(diff) / price if price > 0 else 0.0,
        "current_atr": float(atrs[-1]),
        "atr_percentile": percentile_rank_last(
            atrs, min(cfg.atr_lookback, len(atrs)), rtol=_ATR_TIE_RTOL
        ),
    }
    regime, confidence, why = _apply_rules(metrics, cfg)
    return RegimeClassification(regime, confidence, why, **metrics)


def _apply_rules(m: dict[str, float], cfg: RuleConfig) -> tuple[Regime, float, str]:
    pct, diff_pct = m["atr_percentile"], m["ma_diff_pct"]
    if pct >= cfg.high_vol_pct:
        return (
            Regime.HIGH_VOL,
            _beyond(pct, cfg.high_vol_pct, 100.0),
            f"ATR at the {pct:.0f}th percentile (>= {cfg.high_vol_pct:g})",
        )
    converged = diff_pct < cfg.converged_pct
    if pct <= cfg.low_vol_pct:
        vol_conf = _beyond(pct, cfg.low_vol_pct, 0.0)
        if converged:
            return (
                Regime.RANGE_BOUND,
                vol_conf,
                f"low ATR ({pct:.0f}th percentile), MAs within {100 * diff_pct:.2f}%",
            )
        why = f"ATR at the {pct:.0f}th percentile (<= {cfg.low_vol_pct:g})"
        return Regime.LOW_VOL, vol_conf, why
    if converged:
        return (
            Regime.RANGE_BOUND,
            1.0 - diff_pct / cfg.converged_pct,
            f"MAs within {100 * diff_pct:.2f}% (< {100 * cfg.converged_pct:g}%), normal ATR",
        )
    strength = min(1.0, diff_pct / cfg.strong_trend_pct)
    side = Regime.BULL_TREND if m["ma_diff"] > 0 else Regime.BEAR_TREND
    rel = ">" if m["ma_diff"] > 0 else "<"
    return side, strength, f"fast MA {rel} slow MA by {100 * diff_pct:.2f}%"


def regime_features(close: Any, window: int = 20) -> FloatArray:
    """Rows of (log return, realised volatility of the last ``window`` log returns).

    Row i belongs to bar ``i + window`` of ``close``; prices must be > 0.
    """
    if isinstance(window, bool) or not isinstance(window, int) or window < 2:
        raise ValueError(f"window: must be an integer >= 2, got {window!r}")
    c = as_1d("close", close, min_len=window + 2)
    if (c <= 0).any():
        raise ValueError(f"close: must be > 0, got {float(c[c <= 0][0])!r}")
    r = np.diff(np.log(c))
    vol = np.lib.stride_tricks.sliding_window_view(r, window).std(axis=1, ddof=1)
    return np.column_stack((r[window - 1 :], vol))


def label_components(means: Any, *, return_col: int = 0, vol_col: int = 1) -> list[Regime]:
    """Name mixture components from their means of (return, volatility) features.

    The lowest-volatility component is LOW_VOL and the highest HIGH_VOL; the ones between are
    BULL_TREND / BEAR_TREND by the sign of their mean return (RANGE_BOUND at exactly zero).
    """
    mu = np.asarray(means, dtype=np.float64)
    if mu.ndim != 2 or mu.shape[0] < 2 or mu.shape[1] <= max(return_col, vol_col):
        raise ValueError(f"means: expected (k >= 2, features) with both columns, got {mu.shape}")
    order = np.argsort(mu[:, vol_col], kind="stable")
    labels = [Regime.UNKNOWN] * mu.shape[0]
    labels[int(order[0])] = Regime.LOW_VOL
    labels[int(order[-1])] = Regime.HIGH_VOL
    for k in order[1:-1]:
        r = mu[int(k), return_col]
        labels[int(k)] = (
            Regime.BULL_TREND if r > 0 else Regime.BEAR_TREND if r < 0 else Regime.RANGE_BOUND
        )
    return labels


def gmm_classify(model: GaussianMixture, x: Any) -> tuple[list[Regime], np.ndarray]:
    """Per-row regime label and confidence (the posterior of the winning component)."""
    post = gmm_posteriors(model, x)
    names = label_components(model.means)
    best = post.argmax(axis=1)
    return [names[int(k)] for k in best], post[np.arange(len(best)), best]
