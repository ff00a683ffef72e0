"""Data sources: where a backtest's and a paper run's bars come from.

`DataSource` is the protocol: ``series(symbol)`` gives that symbol's `BarSeries`.
Implementations: `CsvFile` (the formats of the shared market data, told apart by their
header), `ParquetFile` (pyarrow) and `Catalog` (``data.catalog``: one Parquet file per
symbol and timeframe). Every bad row is an InvalidInput naming the file, line and field.

CSV formats, by header:

- ``Date,Open,High,Low,Close,Adj Close,Volume``: Yahoo daily. ``adjust=True``: the close
  is the adjusted close, open, high and low scaled by the same factor (splits, dividends),
  as backtrader's Yahoo feed computes it.
- ``Date,Open,High,Low,Close,Volume[,OpenInterest]``: daily or weekly bars.
- ``Date,Time,Open,...`` (or rows with a time after the date under a header without
  ``Time``, as backtrader's minute files): intraday bars, the time is the bar's close.
- ``Datetime,Open,High,Low,Close,Volume[,OpenInterest]``: ticks or bars with ISO-8601 times;
  ticks printed at the same instant become one bar.
- ``date,SYM1,SYM2,...``: one close per symbol per day (a wide file; a blank cell is no
  bar, e.g. before listing); open = high = low = close, volume 0.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import itertools
import math
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from tradeswarm.core.errors import InvalidInput
from tradeswarm.data.csv_bars import time_zone
from tradeswarm.data.series import BarSeries, merge_runs

PRICE = ("Open", "High", "Low", "Close")


class DataSource(Protocol):
    """Bars by symbol; ``symbols()`` lists what the source holds."""

    def symbols(self) -> list[str]: ...

    def series(self, symbol: str) -> BarSeries: ...


def _open_text(path: Path) -> typing.TextIO:
    if not path.exists():
        raise InvalidInput("data.path", str(path), "file not found")
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path), encoding="utf-8", newline="")
    return path.open(encoding="utf-8", newline="")


def _number(raw: str, where: str) -> float:
    try:
        value = float(raw)
    except ValueError as err:
        raise InvalidInput(where, raw, "not a number") from err
    if not math.isfinite(value):
        raise InvalidInput(where, raw, "must be finite")
    return value


def date_ns(text: str, where: str) -> int:
    """A YYYY-MM-DD date as ns at 00:00 UTC (InvalidInput naming where otherwise)."""
    try:
        day = dt.date.fromisoformat(text.strip())
    except ValueError as err:
        raise InvalidInput(where, text, "not a date (YYYY-MM-DD)") from err
    return (day - dt.date(1970, 1, 1)).days * 86_400 * 1_000_000_000


def _stamp_ns(text: str, where: str, zone: dt.tzinfo = dt.UTC) -> int:
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError as err:
        raise InvalidInput(where, text, "not an ISO-8601 date-time") from err
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)  # the file's zone (tz=), unless a row says
    delta = moment - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


class CsvFile:
    """One CSV file (optionally .gz) in one of the formats of the module docstring.

    symbol: the symbol of a single-symbol file (default: the file name's first word,
    upper-cased: ``orcl-1995-2014.txt`` is ORCL); adjust: use Yahoo's adjusted close."""

    def __init__(
        self, path: str | Path, symbol: str | None = None, adjust: bool = False, tz: str = "UTC"
    ) -> None:
        """tz: the IANA zone the file's times are written in (rows with an offset keep
        theirs; dates alone are labels at 00:00 UTC whatever the zone)."""
        self.zone = time_zone(tz)
        self.path = Path(path)
        self.adjust = adjust
        self._symbol = symbol
        self._cache: dict[str, BarSeries] | None = None

    def _load(self) -> dict[str, BarSeries]:
        if self._cache is None:
            with _open_text(self.path) as fh:
                reader = csv.reader(fh)
                header = [h.strip() for h in next(reader, [])]
                self._cache = self._parse(header, reader)
        return self._cache

    def _parse(self, header: list[str], rows: Iterator[list[str]]) -> dict[str, BarSeries]:
        name = self.path.name
        if not header:
            raise InvalidInput(f"{name}:header", "", "the file is empty")
        if header[0].lower() == "date" and not set(header) & {*PRICE, "Volume", "Time"}:
            return _wide(header, rows, name)
        symbol = self._symbol or name.split("-")[0].split(".")[0].split("_")[0].upper()
        first = next(rows, None)
        if first is not None and len(first) == len(header) + 1 and "Time" not in header:
            header = [header[0], "Time", *header[1:]]  # backtrader's minute files omit it
        body = rows if first is None else itertools.chain([first], rows)
        return {symbol: _ohlcv(header, body, name, symbol, self.adjust, self.zone)}

    def symbols(self) -> list[str]:
        return sorted(self._load())

    def series(self, symbol: str) -> BarSeries:
        found = self._load().get(symbol)
        if found is None:
            raise InvalidInput("symbol", symbol, f"not in {self.path.name} ({self.symbols()})")
        return found


def _columns_of(header: list[str], name: str, adjust: bool) -> dict[str, int]:
    col = {h: k for k, h in enumerate(header)}
    missing = {*PRICE, "Volume"} - set(col)
    if "Date" not in col and "Datetime" not in col:
        missing.add("Date")
    if missing:
        raise InvalidInput(f"{name}:header", header, f"missing {sorted(missing)}")
    if adjust and "Adj Close" not in col:
        raise InvalidInput(f"{name}:header", header, "adjust = true needs an 'Adj Close' column")
    return col


def _ohlcv(
    header: list[str],
    rows: Iterator[list[str]],
    name: str,
    symbol: str,
    adjust: bool,
    zone: dt.tzinfo = dt.UTC,
) -> BarSeries:
    col = _columns_of(header, name, adjust)
    stamp = _row_stamp(col, zone)
    ts: list[int] = []
    values: dict[str, list[float]] = {k: [] for k in ("open", "high", "low", "close", "volume")}
    fields = [(f.lower(), col[f]) for f in (*PRICE, "Volume")]
    for line, row in enumerate(rows, start=2):
        if not row or not any(c.strip() for c in row):
            continue
        where = f"{name}:{line}"
        if len(row) < len(header):
            raise InvalidInput(where, row, f"{len(row)} fields, the header has {len(header)}")
        ts.append(stamp(row, where))
        for key, k in fields:
            values[key].append(_number(row[k], f"{where}:{header[k]}"))
        if adjust:  # as backtrader's Yahoo feed: o / (c / adj), ..., c = adj
            adjusted = _number(row[col["Adj Close"]], f"{where}:Adj Close")
            factor = values["close"][-1] / adjusted
            for key in ("open", "high", "low"):
                values[key][-1] /= factor
            values["close"][-1] = adjusted
            _clamp(values)
    if "Datetime" in col:
        return _coalesced(symbol, ts, values, name)
    return BarSeries(symbol, ts, values, name)


def _clamp(values: dict[str, list[float]]) -> None:
    """Scaling by the adjustment factor may move low a float ulp above the close (or high
    one below): the range is widened to hold open and close, which only undoes rounding."""
    o, c = values["open"][-1], values["close"][-1]
    values["low"][-1] = min(values["low"][-1], o, c)
    values["high"][-1] = max(values["high"][-1], o, c)


def _coalesced(symbol: str, ts: list[int], values: dict[str, list[float]], name: str) -> BarSeries:
    """Ticks: trades printed at the same instant become one bar (first open, highest high,
    lowest low, last close, summed volume); a time that goes backwards is still an error."""
    stamps = np.asarray(ts, dtype=np.int64)
    if len(stamps) < 2 or bool(np.all(np.diff(stamps) > 0)):
        return BarSeries(symbol, stamps, values, name)
    if not bool(np.all(np.diff(stamps) >= 0)):
        return BarSeries(symbol, stamps, values, name)  # raises, naming the row
    merged, ends = merge_runs(stamps, values)
    return BarSeries(symbol, stamps[ends], merged, name)


def _row_stamp(col: dict[str, int], zone: dt.tzinfo) -> Any:
    if "Datetime" in col:
        k = col["Datetime"]
        return lambda row, where: _stamp_ns(row[k], f"{where}:Datetime", zone)
    d = col["Date"]
    if "Time" in col:
        t = col["Time"]
        return lambda row, where: _stamp_ns(
            f"{row[d].strip()}T{row[t].strip()}", f"{where}:Time", zone
        )
    return lambda row, where: date_ns(row[d], f"{where}:Date")


def _wide(header: list[str], rows: Iterator[list[str]], name: str) -> dict[str, BarSeries]:
    symbols = header[1:]
    ts: list[int] = []
    closes: list[list[float]] = []
    for line, row in enumerate(rows, start=2):
        if not row:
            continue
        where = f"{name}:{line}"
        ts.append(date_ns(row[0], f"{where}:{header[0]}"))
        cells = row[1:] + [""] * (len(symbols) - len(row) + 1)
        closes.append(
            [
                _number(c, f"{where}:{s}") if c.strip() else math.nan
                for s, c in zip(symbols, cells, strict=False)
            ]
        )
    table = np.asarray(closes, dtype=np.float64).reshape(len(ts), len(symbols))
    stamps = np.asarray(ts, dtype=np.int64)
    out: dict[str, BarSeries] = {}
    for j, symbol in enumerate(symbols):
        keep = ~np.isnan(table[:, j])
        close = table[keep, j]
        columns = {"open": close, "high": close, "low": close, "close": close}
        out[symbol] = BarSeries(symbol, stamps[keep], {**columns, "volume": close * 0}, name)
    return out


class ParquetFile:
    """A Parquet file of bars: columns ts (timestamp or int64 ns) or date, open, high, low,
    close, volume, and symbol when it holds several symbols (else ``symbol=``)."""

    def __init__(self, path: str | Path, symbol: str | None = None) -> None:
        self.path = Path(path)
        self._symbol = symbol
        self._cache: dict[str, BarSeries] | None = None

    def _load(self) -> dict[str, BarSeries]:
        if self._cache is None:
            self._cache = read_parquet(self.path, self._symbol)
        return self._cache

    def symbols(self) -> list[str]:
        return sorted(self._load())

    def series(self, symbol: str) -> BarSeries:
        found = self._load().get(symbol)
        if found is None:
            raise InvalidInput("symbol", symbol, f"not in {self.path.name} ({self.symbols()})")
        return found


def _pyarrow() -> Any:
    try:
        import pyarrow.parquet as pq
    except ImportError as err:  # pragma: no cover - the extra is installed in CI
        need = "needs pyarrow: pip install 'tradeswarm[backtest]'"
        raise InvalidInput("data", "parquet", need) from err
    return pq


def read_parquet(path: Path, symbol: str | None) -> dict[str, BarSeries]:
    pq = _pyarrow()
    if not path.exists():
        raise InvalidInput("data.path", str(path), "file not found")
    table = pq.read_table(path)
    names = set(table.column_names)
    missing = {"open", "high", "low", "close", "volume"} - names
    if missing or not names & {"ts", "date"}:
        raise InvalidInput(f"{path.name}:columns", sorted(names), f"missing {sorted(missing)}")
    ts = _ts_column(table, path.name)
    fields = ("open", "high", "low", "close", "volume")
    cols = {k: table.column(k).to_numpy().astype(np.float64) for k in fields}
    if "symbol" not in names:
        name = symbol or path.stem.split("-")[0].split("_")[0].upper()
        return {name: BarSeries(name, ts, cols, path.name)}
    tags = np.asarray(table.column("symbol").to_pylist(), dtype=object)
    out = {}
    for name in sorted(set(tags.tolist())):
        keep = tags == name
        order = np.argsort(ts[keep], kind="stable")
        part = {k: v[keep][order] for k, v in cols.items()}
        out[str(name)] = BarSeries(str(name), ts[keep][order], part, f"{path.name}[{name}]")
    return out


def _ts_column(table: Any, name: str) -> Any:
    import pyarrow as pa

    column = table.column("ts" if "ts" in table.column_names else "date")
    kind = column.type
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        column = column.cast(pa.timestamp("ns", tz="UTC") if kind != pa.date32() else kind)
        if pa.types.is_date(kind):
            column = column.cast(pa.timestamp("ns"))
        return column.cast(pa.int64()).to_numpy()
    if pa.types.is_integer(kind):
        return column.to_numpy().astype(np.int64)
    raise InvalidInput(f"{name}:ts", str(kind), "expected a timestamp, a date or int64 ns")
