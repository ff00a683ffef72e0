"""Argument checks shared by the quant room: bad input raises a ValueError naming the argument.

Nothing in ``tradeswarm.quant`` returns NaN silently: inputs are checked here, at the door.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


def as_1d(name: str, values: Any, *, min_len: int = 1, allow_nan: bool = False) -> FloatArray:
    """A finite float64 vector of at least ``min_len`` points, or a ValueError naming ``name``."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array, got shape {arr.shape}")
    if arr.size < min_len:
        raise ValueError(f"{name}: needs at least {min_len} values, got {arr.size}")
    _check_finite(name, arr, allow_nan)
    return arr


def as_2d(
    name: str, values: Any, *, min_rows: int = 1, min_cols: int = 1, allow_nan: bool = False
) -> FloatArray:
    """A finite float64 matrix with at least the given rows and columns."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D array, got shape {arr.shape}")
    rows, cols = arr.shape
    if rows < min_rows or cols < min_cols:
        raise ValueError(
            f"{name}: needs at least {min_rows}x{min_cols} values, got shape {arr.shape}"
        )
    _check_finite(name, arr, allow_nan)
    return arr


def square(name: str, values: Any) -> FloatArray:
    """A finite, symmetric square matrix (a covariance)."""
    arr = as_2d(name, values)
    if arr.shape[0] != arr.shape[1]:
        raise ValueError(f"{name}: expected a square matrix, got shape {arr.shape}")
    if not np.allclose(arr, arr.T, rtol=1e-10, atol=1e-12):
        raise ValueError(f"{name}: expected a symmetric matrix")
    return arr


def probability(name: str, value: float, *, open_interval: bool = True) -> float:
    """A number in (0, 1) (or [0, 1] when ``open_interval`` is False)."""
    v = float(value)
    ok = 0.0 < v < 1.0 if open_interval else 0.0 <= v <= 1.0
    if not ok:
        interval = "(0, 1)" if open_interval else "[0, 1]"
        raise ValueError(f"{name}: must be in {interval}, got {value!r}")
    return v


def positive(name: str, value: float, *, allow_zero: bool = False) -> float:
    v = float(value)
    if not np.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name}: must be finite and {bound}, got {value!r}")
    return v


def _check_finite(name: str, arr: FloatArray, allow_nan: bool) -> None:
    bad = np.isinf(arr) if allow_nan else ~np.isfinite(arr)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{name}: non-finite value {float(arr[first])!r} at index {first}")
