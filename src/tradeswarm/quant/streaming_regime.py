"""The rule-based regime of :func:`tradeswarm.quant.regime.classify_regime` from parts a
streaming caller already keeps: the fast and slow SMAs, the last price and the ATR series.

``classify_regime(high, low, close)`` recomputes the SMAs and the whole ATR series from the
bars; a caller that pushes bars into :mod:`tradeswarm.quant.streaming` objects has them
already (the ATR series of a window from ``Atr(period, window).series()``), so only the
percentile (O(window), numpy) and the rules remain. The rules are the classifier's own.
"""

from __future__ import annotations

import numpy as np

from tradeswarm.quant._checks import FloatArray
from tradeswarm.quant.regime import (
    _ATR_TIE_RTOL,
    Regime,
    RegimeClassification,
    RuleConfig,
    _apply_rules,
)

__all__ = ["classify_from_parts"]

_DEFAULT = RuleConfig()


def classify_from_parts(
    bars: int,
    price: float,
    fast_ma: float,
    slow_ma: float,
    atrs: FloatArray,
    config: RuleConfig | None = None,
) -> RegimeClassification:
    """What ``classify_regime`` gives on ``bars`` bars whose last close is ``price``, whose
    ``config.fast`` / ``config.slow`` SMAs are ``fast_ma`` / ``slow_ma`` and whose ATR
    (``config.atr_period``) at every bar that has one is ``atrs``, oldest first."""
    cfg = config or _DEFAULT
    if bars < cfg.required_bars:
        return RegimeClassification(
            Regime.UNKNOWN, 0.0, f"{bars} bars, need {cfg.required_bars} for the MAs and ATR"
        )
    if len(atrs) != bars - cfg.atr_period:
        raise ValueError(f"atrs: expected {bars - cfg.atr_period} values, got {len(atrs)}")
    diff = fast_ma - slow_ma
    metrics = {
        "fast_ma": fast_ma,
        "slow_ma": slow_ma,
        "ma_diff": diff,
        "ma_diff_pct": abs(diff) / price if price > 0 else 0.0,
        "current_atr": float(atrs[-1]),
        "atr_percentile": _rank_last(atrs, min(cfg.atr_lookback, len(atrs)), _ATR_TIE_RTOL),
    }
    regime, confidence, why = _apply_rules(metrics, cfg)
    return RegimeClassification(regime, confidence, why, **metrics)


def _rank_last(values: FloatArray, lookback: int, rtol: float) -> float:
    """``percentile_rank_last(values, lookback, rtol=rtol)``, operation for operation,
    without its argument checks: the values are the caller's own finite ATRs."""
    w = values[-lookback:]
    last = w[-1]
    tol = float(rtol) * float(np.abs(w).max())
    below = np.count_nonzero(w < last - tol)
    equal = np.count_nonzero(np.abs(w - last) <= tol)
    return float(100.0 * (below + 0.5 * equal) / len(w))
