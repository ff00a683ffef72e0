"""The market as of the clock: what a strategy may read, and nothing later.

`AsOfMarket` holds each symbol's whole `BarSeries` and a cursor per symbol (the last bar
whose ts the clock has reached). Every read goes through the cursor: a bar ``ago`` bars
back, a window of history (a copy, so no view reaches the arrays behind it), the bar at a
time. Asking for a bar later than the clock raises `LookAheadError`; there is no other
way in.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from tradeswarm.core.errors import TradeswarmError
from tradeswarm.data.series import FIELDS, BarSeries, FloatArray


class LookAheadError(TradeswarmError):
    """A strategy asked for market data later than the clock."""


class StrategyError(TradeswarmError):
    """A strategy's callback raised: the run stops, naming the strategy, the callback, the
    time and what it raised (the user's code is the one to fix)."""

    @classmethod
    def of(cls, name: str, callback: str, ts_ns: int, err: BaseException) -> StrategyError:
        import traceback

        frames = traceback.extract_tb(err.__traceback__)
        where = f" ({frames[-1].filename}:{frames[-1].lineno})" if frames else ""
        return cls(
            f"strategy {name!r} raised in {callback} at ts {ts_ns}: "
            f"{type(err).__name__}: {err}{where}"
        )


class BarRef(NamedTuple):
    """One bar as a strategy sees it (floats; money is made at the fill)."""

    symbol: str
    ts: int
    open: float
    high: float
    low: float
    close: float
    volume: float


class AsOfMarket:
    def __init__(self, series: dict[str, BarSeries]) -> None:
        self._series = dict(series)
        self._cursor = {s: -1 for s in series}  # index of the last bar the clock reached
        self.now_ns = -(2**63)

    @property
    def symbols(self) -> list[str]:
        return sorted(self._series)

    def advance(self, symbol: str, index: int, now_ns: int) -> None:
        """The engine's move: symbol's bar `index` has closed at now_ns."""
        self._cursor[symbol] = index
        self.now_ns = now_ns

    def set_time(self, now_ns: int) -> None:
        self.now_ns = now_ns

    def _known(self, symbol: str) -> tuple[BarSeries, int]:
        series = self._series.get(symbol)
        if series is None:
            raise KeyError(f"no data for symbol {symbol!r} (the run has {self.symbols})")
        return series, self._cursor[symbol]

    def count(self, symbol: str) -> int:
        """How many of the symbol's bars have closed."""
        return self._known(symbol)[1] + 1

    def bar(self, symbol: str, ago: int = 0) -> BarRef | None:
        """The bar `ago` bars before the latest closed one (0: the latest); None before
        the first. A negative `ago` is a bar in the future: LookAheadError."""
        if ago < 0:
            raise LookAheadError(f"bar({symbol!r}, ago={ago}) is a bar later than the clock")
        series, k = self._known(symbol)
        k -= ago
        if k < 0:
            return None
        return BarRef(
            symbol,
            int(series.ts[k]),
            float(series.open[k]),
            float(series.high[k]),
            float(series.low[k]),
            float(series.close[k]),
            float(series.volume[k]),
        )

    def history(self, symbol: str, field: str = "close", n: int | None = None) -> FloatArray:
        """The last n values of field (all so far when n is None), oldest first: a copy."""
        if field not in FIELDS and field != "ts":
            raise KeyError(f"unknown field {field!r}; known: ts, {', '.join(FIELDS)}")
        series, k = self._known(symbol)
        column = getattr(series, field)
        start = 0 if n is None else max(0, k + 1 - n)
        return np.array(column[start : k + 1])

    def at(self, symbol: str, ts_ns: int) -> BarRef | None:
        """The latest bar with ts <= ts_ns; ts_ns later than the clock: LookAheadError."""
        if ts_ns > self.now_ns:
            raise LookAheadError(f"at({symbol!r}, {ts_ns}) is later than the clock ({self.now_ns})")
        series, k = self._known(symbol)
        j = min(int(np.searchsorted(series.ts, ts_ns, "right")) - 1, k)
        return None if j < 0 else self.bar(symbol, k - j)

    def last_close(self, symbol: str) -> float | None:
        series, k = self._known(symbol)
        return None if k < 0 else float(series.close[k])


class LiveMarket:
    """The market as of the clock for a strategy inside the swarm: bars arrive one at a
    time (``append``), and every read is of what arrived (the same reads as `AsOfMarket`;
    there is no later bar to reach)."""

    def __init__(self, symbols: list[str]) -> None:
        self._cols: dict[str, dict[str, list[float]]] = {
            s: {f: [] for f in ("ts", *FIELDS)} for s in symbols
        }
        self.now_ns = -(2**63)

    @property
    def symbols(self) -> list[str]:
        return sorted(self._cols)

    def append(self, bar: BarRef) -> None:
        cols = self._cols.get(bar.symbol)
        if cols is None:
            return
        if cols["ts"] and bar.ts <= cols["ts"][-1]:
            raise ValueError(f"{bar.symbol}: bar at {bar.ts} is not after {cols['ts'][-1]}")
        for f in ("ts", *FIELDS):
            cols[f].append(getattr(bar, f))
        self.now_ns = max(self.now_ns, bar.ts)

    def _known(self, symbol: str) -> dict[str, list[float]]:
        cols = self._cols.get(symbol)
        if cols is None:
            raise KeyError(f"no data for symbol {symbol!r} (the strategy has {self.symbols})")
        return cols

    def count(self, symbol: str) -> int:
        return len(self._known(symbol)["ts"])

    def bar(self, symbol: str, ago: int = 0) -> BarRef | None:
        if ago < 0:
            raise LookAheadError(f"bar({symbol!r}, ago={ago}) is a bar later than the clock")
        cols = self._known(symbol)
        k = len(cols["ts"]) - 1 - ago
        if k < 0:
            return None
        return BarRef(symbol, int(cols["ts"][k]), *(cols[f][k] for f in FIELDS))

    def history(self, symbol: str, field: str = "close", n: int | None = None) -> FloatArray:
        if field not in FIELDS and field != "ts":
            raise KeyError(f"unknown field {field!r}; known: ts, {', '.join(FIELDS)}")
        column = self._known(symbol)[field]
        return np.array(column if n is None else column[-n:] if n > 0 else [], dtype=np.float64)

    def at(self, symbol: str, ts_ns: int) -> BarRef | None:
        if ts_ns > self.now_ns:
            raise LookAheadError(f"at({symbol!r}, {ts_ns}) is later than the clock ({self.now_ns})")
        stamps = self._known(symbol)["ts"]
        j = int(np.searchsorted(np.asarray(stamps, dtype=np.int64), ts_ns, "right")) - 1
        return None if j < 0 else self.bar(symbol, len(stamps) - 1 - j)

    def last_close(self, symbol: str) -> float | None:
        closes = self._known(symbol)["close"]
        return closes[-1] if closes else None
