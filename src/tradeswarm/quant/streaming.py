"""Streaming indicators: TA-Lib's numbers with one point pushed at a time, O(1) per point.

Each indicator comes two ways. Long-run (``window=None``): the value TA-Lib gives when
run over every point pushed so far; the seeded recursions (EMA, Wilder's RSI and ATR)
are TA-Lib's (same seed, same recursion, same operations in the same order), so they
agree with it to an ulp or so (TA-Lib's build may fuse a multiply-add where Python
rounds twice). Windowed (``window=N``): the value TA-Lib gives when run over the last
``N`` points only, seeded inside that window, which is what an analyzer recomputing over
a fixed window of bars sees. Moving sums (SMA, Bollinger) depend on the last ``period``
points only, so both ways agree; they are re-summed every ``RESYNC`` points so rounding
never accumulates.

Why windowed is O(1): EMA and Wilder smoothing are linear recursions
``y_k = b * y_(k-1) + a * x_k``, so two runs over the same inputs differ, ``n`` steps on, by
``b**n`` times their difference then. TA-Lib run over a window seeds at the window's seed
point ``k0`` (its ``period``-th input) with the mean ``S(k0)`` of the window's first
``period`` inputs; the long run passes ``k0`` at ``L(k0)``. The window's value at ``t`` is
``L(t) + b**(t - k0) * (S(k0) - L(k0))``: ``S`` and ``L`` are kept for the last
``window - period + 1`` points, so the value is one multiply-add, and every value inside
the window (``back`` steps ago, or the whole windowed series for a percentile) is too. Up
to rounding (a few ulps of the value, against TA-Lib's own rounding in its recursion)
the windowed value is TA-Lib's; tests bound the difference on real bars.

Inputs are floats the caller has checked (finite; high >= low): these objects sit on a
path that handles every bar of every symbol, behind the feed's checks.
"""

from __future__ import annotations

import collections
import itertools
import math

import numpy as np

from tradeswarm.quant._checks import FloatArray

__all__ = ["RESYNC", "Atr", "Bollinger", "Ema", "RollingSum", "RollingVariance", "Rsi", "Sma"]

RESYNC = 1024  # points between exact re-summations of a moving sum


def _period(name: str, value: int, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name}: must be an integer >= {minimum}, got {value!r}")
    return value


def _window(window: int | None, period: int, lead: int = 0) -> int | None:
    """The window in inputs (``lead`` points of the window feed no input), or None."""
    if window is None:
        return None
    if isinstance(window, bool) or not isinstance(window, int) or window < period + lead:
        raise ValueError(f"window: must be an integer >= {period + lead}, got {window!r}")
    return window - lead


class RollingSum:
    """Sum of the last ``period`` values pushed (fewer until that many were pushed).

    Until the window is full the sum is the plain left-to-right sum (TA-Lib's seed); then
    it slides, and is summed afresh every ``RESYNC`` pushes.
    """

    __slots__ = ("_n", "_values", "full", "period", "total")

    def __init__(self, period: int) -> None:
        self.period = _period("period", period, 1)
        self._values: collections.deque[float] = collections.deque(maxlen=self.period)
        self.total = 0.0
        self.full = False
        self._n = 0

    def __len__(self) -> int:
        return len(self._values)

    def push(self, x: float) -> float:
        values = self._values
        if self.full:
            self.total -= values[0]
        values.append(x)
        self.total += x
        n = self._n = self._n + 1
        if n == self.period:
            self.full = True
        elif n % RESYNC == 0:
            self.total = sum(values)
        return self.total


class Sma:
    """Simple moving average; NaN until ``period`` points were pushed (a RollingSum / period)."""

    __slots__ = ("_sum", "period", "value")

    def __init__(self, period: int) -> None:
        self._sum = RollingSum(period)
        self.period = self._sum.period
        self.value = math.nan

    def push(self, x: float) -> float:
        rolling = self._sum
        total = rolling.push(x)
        if rolling.full:
            self.value = total / self.period
        return self.value


class _Smoother:
    """TA-Lib's seeded recursion (EMA or Wilder's), long-run or windowed (module docstring).

    Windowed, it keeps the window's inputs, the sum of the window's first ``period`` (the
    seed TA-Lib would start the window from, slid as the window slides and summed afresh
    every ``RESYNC`` pushes) and the long run's last ``window - period + 1`` values.
    """

    __slots__ = (
        "_decay",
        "_decays",
        "_head",
        "_inputs",
        "_k",
        "_long",
        "_longs",
        "_n",
        "_wilder",
        "period",
    )

    def __init__(self, period: int, *, wilder: bool, window: int | None) -> None:
        self.period = period
        self._wilder = wilder
        self._k = 2.0 / (period + 1)
        self._n = 0
        self._head = 0.0
        self._long = math.nan
        keep = 2 if window is None else window - period + 1
        self._longs: collections.deque[float] = collections.deque(maxlen=keep)
        self._inputs: collections.deque[float] | None = (
            None if window is None else collections.deque(maxlen=window)
        )
        b = (period - 1) / period if wilder else 1.0 - self._k
        self._decay = [b**i for i in range(keep)]
        self._decays = np.asarray(self._decay)

    @property
    def ready(self) -> bool:
        return self._n >= self.period

    def push(self, x: float) -> None:
        n = self._n = self._n + 1
        p = self.period
        inputs = self._inputs
        if n > p:
            if self._wilder:
                self._long = (self._long * (p - 1) + x) / p
            else:
                self._long = ((x - self._long) * self._k) + self._long
            self._longs.append(self._long)
            if inputs is None:
                return
            if len(inputs) == inputs.maxlen:  # the window slides: so do its first p inputs
                self._head += inputs[p] - inputs[0]
            inputs.append(x)
            if n % RESYNC == 0:
                self._head = sum(itertools.islice(inputs, p))
            return
        self._head += x  # TA-Lib's seed: the plain sum of the first p inputs
        if inputs is not None:
            inputs.append(x)
        if n == p:
            self._long = self._head / p
            self._longs.append(self._long)

    def value(self, back: int = 0) -> float:
        """The value ``back`` outputs ago (inside the current window when windowed); NaN
        before the first output or further back than the outputs kept."""
        if back < 0:
            raise ValueError(f"back: must be >= 0, got {back!r}")
        longs = self._longs
        i = len(longs) - 1 - back
        if self._n < self.period or i < 0:
            return math.nan
        if self._inputs is None:
            return longs[i]
        return longs[i] + self._decay[i] * (self._head / self.period - longs[0])

    def last_two(self) -> tuple[float, float]:
        """``(value(0), value(1))`` in one call (the analyzer's EMA cross needs both)."""
        longs = self._longs
        if self._n <= self.period:
            return (longs[-1] if longs else math.nan), math.nan
        i = len(longs) - 1
        if self._inputs is None:
            return longs[i], longs[i - 1]
        shift = self._head / self.period - longs[0]
        decay = self._decay
        return longs[i] + decay[i] * shift, longs[i - 1] + decay[i - 1] * shift

    def series(self) -> FloatArray:
        """Every output inside the current window, oldest first (windowed only)."""
        if self._inputs is None:
            raise ValueError("series: only a windowed smoother keeps its window")
        longs = np.fromiter(self._longs, np.float64, len(self._longs))
        if not len(longs):
            return longs
        shift = self._head / self.period - self._longs[0]
        return np.asarray(longs + self._decays[: len(longs)] * shift)


class Ema(_Smoother):
    """TA-Lib's EMA (k = 2 / (period + 1), seeded by the SMA of the first ``period`` points);
    NaN for the first ``period - 1``."""

    __slots__ = ()

    def __init__(self, period: int, window: int | None = None) -> None:
        p = _period("period", period, 1)
        super().__init__(p, wilder=False, window=_window(window, p))


class Rsi:
    """TA-Lib's RSI (Wilder's average gain and loss); NaN for the first ``period`` points."""

    __slots__ = ("_gain", "_loss", "_prev", "period")

    def __init__(self, period: int = 14, window: int | None = None) -> None:
        self.period = _period("period", period, 2)
        inputs = _window(window, self.period, lead=1)
        self._gain = _Smoother(self.period, wilder=True, window=inputs)
        self._loss = _Smoother(self.period, wilder=True, window=inputs)
        self._prev: float | None = None

    def push(self, close: float) -> None:
        prev, self._prev = self._prev, close
        if prev is None:  # the first point: no change yet
            return
        change = close - prev
        if change < 0:
            self._gain.push(0.0)
            self._loss.push(-change)
        else:
            self._gain.push(change)
            self._loss.push(0.0)

    def value(self, back: int = 0) -> float:
        if not self._gain.ready:
            return math.nan
        gain = self._gain.value(back)
        total = gain + self._loss.value(back)
        return 100.0 * (gain / total) if total != 0.0 else 0.0


class Atr:
    """TA-Lib's ATR (Wilder's smoothing of the true range); NaN for the first ``period``."""

    __slots__ = ("_prev", "_tr", "period")

    def __init__(self, period: int = 14, window: int | None = None) -> None:
        self.period = _period("period", period, 2)
        self._tr = _Smoother(self.period, wilder=True, window=_window(window, self.period, lead=1))
        self._prev: float | None = None

    def push(self, high: float, low: float, close: float) -> None:
        prev, self._prev = self._prev, close
        if prev is None:
            return
        true_range = high - low  # TA-Lib's TRANGE; compares, not max(): this runs per bar
        up = abs(prev - high)
        down = abs(prev - low)
        if up > true_range:  # noqa: PLR1730
            true_range = up
        if down > true_range:  # noqa: PLR1730
            true_range = down
        self._tr.push(true_range)

    def value(self, back: int = 0) -> float:
        return self._tr.value(back)

    def series(self) -> FloatArray:
        """The ATR at every bar of the current window that has one, oldest first."""
        return self._tr.series()


class Bollinger:
    """Bollinger bands on the SMA at ``nbdev`` population deviations (TA-Lib's BBANDS).

    The mean and deviation come from moving sums of the points less a shift (a recent
    point), so the deviation does not lose digits to the square of the price level; the
    shift moves to the latest point every ``RESYNC`` pushes, when the sums are redone.
    """

    __slots__ = ("_d1", "_d2", "_n", "_shift", "_values", "nbdev", "period")

    def __init__(self, period: int = 20, nbdev: float = 2.0) -> None:
        self.period = _period("period", period, 2)
        if not math.isfinite(nbdev) or nbdev <= 0:
            raise ValueError(f"nbdev: must be finite and > 0, got {nbdev!r}")
        self.nbdev = float(nbdev)
        self._values: collections.deque[float] = collections.deque(maxlen=self.period)
        self._shift = math.nan
        self._d1 = self._d2 = 0.0
        self._n = 0

    @property
    def middle(self) -> float:
        """The SMA; NaN until ``period`` points were pushed."""
        if len(self._values) < self.period:
            return math.nan
        return self._shift + self._d1 / self.period

    def push(self, x: float) -> None:
        values = self._values
        shift = self._shift
        if len(values) == self.period:
            old = values[0] - shift
            self._d1 -= old
            self._d2 -= old * old
        elif not values:
            shift = self._shift = x
        values.append(x)
        d = x - shift
        self._d1 += d
        self._d2 += d * d
        self._n += 1
        if self._n % RESYNC == 0:
            self.resync()

    def resync(self) -> None:
        """Move the shift to the latest point and redo the sums (``RESYNC`` pushes apart)."""
        values = self._values
        shift = self._shift = values[-1]
        self._d1 = sum(v - shift for v in values)
        self._d2 = sum((v - shift) ** 2 for v in values)

    def bands(self) -> tuple[float, float, float]:
        """(upper, middle, lower); NaN until ``period`` points were pushed."""
        p = self.period
        if len(self._values) < p:
            return math.nan, math.nan, math.nan
        mean = self._d1 / p
        var = self._d2 / p - mean * mean
        mid = self._shift + mean
        width = self.nbdev * math.sqrt(var) if var > 0.0 else 0.0
        return mid + width, mid, mid - width


class RollingVariance:
    """Sample variance (ddof = 1) of the last ``window`` values pushed, O(1) per push.

    Welford's update, sliding; re-summed exactly every ``RESYNC`` pushes. While a
    non-finite value is in the window the variance is computed over the window as it
    stands, so an infinity gives what the two-pass formula gives (inf or NaN); the sums
    are redone when the last of them leaves.
    """

    __slots__ = ("_bad", "_m2", "_mean", "_n", "_values", "window")

    def __init__(self, window: int) -> None:
        self.window = _period("window", window, 2)
        self._values: collections.deque[float] = collections.deque(maxlen=self.window)
        self._mean = self._m2 = 0.0
        self._bad = 0  # non-finite values in the window
        self._n = 0

    def __len__(self) -> int:
        return len(self._values)

    def push(self, x: float) -> None:
        values = self._values
        full = len(values) == self.window
        old = values[0] if full else 0.0
        values.append(x)
        n = self._n = self._n + 1
        if self._bad or not math.isfinite(x):
            self._bad = sum(not math.isfinite(v) for v in values)
            if not self._bad:
                self._resync()
            return
        if n % RESYNC == 0:
            self._resync()
        elif full:
            delta = x - old
            mean = self._mean + delta / len(values)
            self._m2 += delta * (x - mean + old - self._mean)
            self._mean = mean
        else:
            delta = x - self._mean
            self._mean += delta / len(values)
            self._m2 += delta * (x - self._mean)

    def _resync(self) -> None:
        values = self._values
        self._mean = sum(values) / len(values)
        self._m2 = sum((v - self._mean) ** 2 for v in values)

    def variance(self) -> float:
        """NaN with fewer than two values."""
        values = self._values
        n = len(values)
        if n < 2:
            return math.nan
        if self._bad:
            mean = sum(values) / n
            return sum((v - mean) ** 2 for v in values) / (n - 1)
        return max(self._m2, 0.0) / (n - 1)
