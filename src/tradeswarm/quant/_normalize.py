"""Normalising the latest value of a series: z-score and percentile rank over a lookback."""

from __future__ import annotations

from typing import Any

import numpy as np

from tradeswarm.quant._checks import FloatArray, as_1d


def _window(values: Any, lookback: int) -> FloatArray:
    if isinstance(lookback, bool) or not isinstance(lookback, int | np.integer) or lookback < 1:
        raise ValueError(f"lookback: must be an integer >= 1, got {lookback!r}")
    return as_1d("values", values, min_len=int(lookback))[-int(lookback) :]


def zscore_last(values: Any, lookback: int) -> float:
    """Z-score of the last value among the last ``lookback`` values (population deviation).

    Equals ``scipy.stats.zscore(window)[-1]``; a constant window gives 0.0 (the last value
    sits on the mean) where scipy gives NaN.
    """
    w = _window(values, lookback)
    std = float(w.std())
    scale = max(1.0, float(np.abs(w).max()))
    if std <= 1e-12 * scale:
        return 0.0
    return float((w[-1] - w.mean()) / std)


def percentile_rank_last(values: Any, lookback: int, *, rtol: float = 0.0) -> float:
    """Percentile rank (0-100) of the last value among the last ``lookback`` values.

    Ties count half, as ``scipy.stats.percentileofscore(window, last, kind="mean")``; values
    within ``rtol`` times the window's largest magnitude of the last one count as ties (so
    rounding noise in a flat series does not rank it).
    """
    w = _window(values, lookback)
    last = w[-1]
    tol = float(rtol) * float(np.abs(w).max())
    below = np.count_nonzero(w < last - tol)
    equal = np.count_nonzero(np.abs(w - last) <= tol)
    return float(100.0 * (below + 0.5 * equal) / len(w))
