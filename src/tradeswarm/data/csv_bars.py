"""Read one-minute OHLCV bars from CSV, validating every row; bad rows name file, line, field."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
from collections.abc import Iterable, Iterator
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path

from tradeswarm.core.errors import InvalidInput
from tradeswarm.model.market import Bar

BUNDLED_FILE = "idxf-2006-01-03-to-05-1min.csv"
#: The whole month the bundled days come from (gzipped, its header without ``Time``).
BUNDLED_MONTH_FILE = "idxf-2006-01-1min.csv.gz"
BUNDLED_SYMBOL = "IDXF"
#: The bundled file's clock: exchange time of its calendar, XEUR (Eurex).
BUNDLED_TZ = "Europe/Berlin"
_PRICE_FIELDS = ("Open", "High", "Low", "Close")


def _ts_ns(date: str, time: str, where: str, tz: dt.tzinfo) -> int:
    try:
        stamp = dt.datetime.fromisoformat(f"{date}T{time}").replace(tzinfo=tz)
    except ValueError as err:
        raise InvalidInput(f"{where}:Date/Time", f"{date} {time}", "not a date and time") from err
    return int(stamp.timestamp()) * 1_000_000_000


def time_zone(tz: str) -> dt.tzinfo:
    """An IANA zone by name (InvalidInput naming `tz` when it is not one)."""
    if tz == "UTC":
        return dt.UTC
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise InvalidInput("tz", tz, "not an IANA time zone (e.g. Europe/Berlin)") from err


def _decimal(row: dict[str, str], field: str, where: str) -> Decimal:
    raw = (row.get(field) or "").strip()
    try:
        value = Decimal(raw)
    except InvalidOperation as err:
        raise InvalidInput(f"{where}:{field}", raw, "not a number") from err
    if not value.is_finite():
        raise InvalidInput(f"{where}:{field}", raw, "must be finite (not NaN or infinity)")
    return value


def parse_bars(lines: Iterable[str], symbol: str, source: str, tz: str = "UTC") -> Iterator[Bar]:
    """Yield validated bars in file order; raise InvalidInput on the first bad row.

    tz: the time zone the file's Date and Time are written in (an IANA name)."""
    zone = time_zone(tz)
    reader = csv.DictReader(lines)
    missing = {"Date", "Time", "Volume", *_PRICE_FIELDS} - set(reader.fieldnames or ())
    if missing:
        raise InvalidInput(f"{source}:header", reader.fieldnames, f"missing {sorted(missing)}")
    last_ts = -1
    for lineno, row in enumerate(reader, start=2):
        where = f"{source}:{lineno}"
        ts = _ts_ns(row["Date"], row["Time"], where, zone)
        if ts <= last_ts:
            raise InvalidInput(f"{where}:Time", row["Time"], "bars must be in strictly rising time")
        prices = {f: _decimal(row, f, where) for f in _PRICE_FIELDS}
        volume = _decimal(row, "Volume", where)
        try:
            yield Bar(
                symbol=symbol,
                ts_event=ts,
                open=prices["Open"],
                high=prices["High"],
                low=prices["Low"],
                close=prices["Close"],
                volume=volume,
            )
        except InvalidInput as err:
            raise InvalidInput(f"{where}:{err.field}", err.value, err.problem) from err
        last_ts = ts


def load_bars(path: Path, symbol: str, tz: str = "UTC") -> list[Bar]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(parse_bars(fh, symbol, path.name, tz))


def bundled_bars() -> list[Bar]:
    """The real one-minute bars shipped with the package (see data/market/README.md),
    their exchange times read in BUNDLED_TZ."""
    text = resources.files("tradeswarm.data").joinpath("market", BUNDLED_FILE).read_text()
    return list(parse_bars(text.splitlines(), BUNDLED_SYMBOL, BUNDLED_FILE, BUNDLED_TZ))


def bundled_month_bars() -> list[Bar]:
    """All real one-minute bars of January 2006 shipped with the package (30,889 bars of
    the file the bundled days come from), times read in BUNDLED_TZ."""
    raw = resources.files("tradeswarm.data").joinpath("market", BUNDLED_MONTH_FILE).read_bytes()
    lines = gzip.decompress(raw).decode().splitlines()
    header = "Date,Time,Open,High,Low,Close,Volume,OpenInterest"  # the original omits Time
    return list(parse_bars([header, *lines[1:]], BUNDLED_SYMBOL, BUNDLED_MONTH_FILE, BUNDLED_TZ))
