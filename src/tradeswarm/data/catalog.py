"""A local catalog of bars: one Parquet file per symbol and timeframe.

Layout: ``ROOT/<SYMBOL>/<timeframe>.parquet`` with columns ts (int64 ns, UTC), open,
high, low, close, volume (float64). ``tradeswarm data import|list|show`` manage it;
a backtest reads it with ``[[data]] catalog = "ROOT"``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from tradeswarm.core.errors import InvalidInput
from tradeswarm.data.series import FIELDS, BarSeries, timeframe_seconds
from tradeswarm.data.sources import read_parquet

_SYMBOL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")


class Catalog:
    def __init__(self, root: str | Path, timeframe: str = "1d") -> None:
        self.root = Path(root)
        self.timeframe = timeframe
        timeframe_seconds(timeframe)

    def _file(self, symbol: str, timeframe: str) -> Path:
        if not _SYMBOL.match(symbol):
            raise InvalidInput("symbol", symbol, "letters, digits, . _ - (at most 32)")
        return self.root / symbol / f"{timeframe}.parquet"

    def entries(self) -> list[tuple[str, str, Path]]:
        if not self.root.is_dir():
            return []
        return sorted(
            (f.parent.name, f.stem, f) for f in self.root.glob("*/*.parquet") if f.is_file()
        )

    def symbols(self) -> list[str]:
        return sorted({s for s, tf, _ in self.entries() if tf == self.timeframe})

    def series(self, symbol: str, timeframe: str | None = None) -> BarSeries:
        tf = timeframe or self.timeframe
        path = self._file(symbol, tf)
        if not path.exists():
            raise InvalidInput("symbol", symbol, f"no {tf} bars in the catalog {self.root}")
        found = read_parquet(path, symbol)[symbol]
        return BarSeries(symbol, found.ts, _columns(found), f"catalog:{symbol}/{tf}", tf)

    def write(self, series: BarSeries) -> Path:
        """Store series (replacing what the catalog held for its symbol and timeframe)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = self._file(series.symbol, series.timeframe)
        path.parent.mkdir(parents=True, exist_ok=True)
        columns = {"ts": pa.array(series.ts, pa.int64())}
        columns |= {f: pa.array(getattr(series, f), pa.float64()) for f in FIELDS}
        tmp = path.with_suffix(".tmp")
        pq.write_table(pa.table(columns), tmp, compression="zstd")
        tmp.replace(path)
        return path

    def describe(self) -> list[dict[str, Any]]:
        out = []
        for symbol, tf, _ in self.entries():
            s = self.series(symbol, tf)
            out.append(
                {
                    "symbol": symbol,
                    "timeframe": tf,
                    "bars": len(s),
                    "first": _day(int(s.ts[0])) if len(s) else None,
                    "last": _day(int(s.ts[-1])) if len(s) else None,
                }
            )
        return out


def _columns(series: BarSeries) -> dict[str, Any]:
    return {f: np.asarray(getattr(series, f)) for f in FIELDS}


def _day(ts: int) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ts / 1e9, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
