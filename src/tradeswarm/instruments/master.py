"""Load the instrument master from a TOML file: the bundled one, or the one config names.

The file holds one table per symbol::

    [instruments.AAPL]
    asset_class = "equity"
    currency = "USD"
    multiplier = "1"        # money: a decimal string or an integer, never a float
    tick_size = "0.01"
    lot_size = "1"
    venue = "XNAS"
    calendar = "XNAS"       # an exchange-calendars code; "24/7" trades around the clock
    tradable = true

Every error names the file, the symbol and the field.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import msgspec

from tradeswarm.core.errors import ConfigurationError, InvalidInput
from tradeswarm.model.market import Instrument

BUNDLED_FILE = "instruments.toml"
_MONEY_FIELDS = ("multiplier", "tick_size", "lot_size")


class InstrumentMaster(Mapping[str, Instrument]):
    """Instruments by symbol (read-only)."""

    def __init__(self, instruments: list[Instrument], source: str = "instruments") -> None:
        self.source = source
        self._by_symbol: dict[str, Instrument] = {}
        for instrument in instruments:
            if instrument.symbol in self._by_symbol:
                raise ConfigurationError(
                    f"{source}:{instrument.symbol}", instrument.symbol, "twice"
                )
            self._by_symbol[instrument.symbol] = instrument

    def __getitem__(self, symbol: str) -> Instrument:
        return self._by_symbol[symbol]

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._by_symbol))

    def __len__(self) -> int:
        return len(self._by_symbol)

    def with_instruments(self, *extra: Instrument) -> InstrumentMaster:
        """This master plus extra instruments (a test's or a sample's own)."""
        return InstrumentMaster([*self._by_symbol.values(), *extra], self.source)


def _row(symbol: str, raw: Any, source: str) -> Instrument:
    where = f"{source}:instruments.{symbol}"
    if not isinstance(raw, dict):
        raise ConfigurationError(where, raw, "must be a table of the instrument's fields")
    if "symbol" in raw:
        raise ConfigurationError(f"{where}.symbol", raw["symbol"], "the table's name is the symbol")
    if "tradable" in raw and not isinstance(raw["tradable"], bool):
        raise ConfigurationError(f"{where}.tradable", raw["tradable"], "must be true or false")
    for name in _MONEY_FIELDS:
        if isinstance(raw.get(name), float):
            raise ConfigurationError(
                f"{where}.{name}", raw[name], "write money as a string or integer, not a float"
            )
    try:
        return msgspec.convert({**raw, "symbol": symbol}, Instrument, strict=False)
    except msgspec.ValidationError as err:
        raise ConfigurationError(where, raw, str(err)) from err
    except InvalidInput as err:
        raise ConfigurationError(f"{source}:{err.field}", err.value, err.problem) from err


def parse_master(text: str, source: str) -> InstrumentMaster:
    """An instrument master from TOML text; ConfigurationError naming source and field."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigurationError(source, "<file>", f"not valid TOML: {err}") from err
    unknown = sorted(set(raw) - {"instruments"})
    if unknown:
        raise ConfigurationError(f"{source}:{unknown[0]}", raw[unknown[0]], "unknown key")
    table = raw.get("instruments")
    if not isinstance(table, dict) or not table:
        raise ConfigurationError(
            f"{source}:instruments", table, "needs [instruments.SYMBOL] tables"
        )
    master = InstrumentMaster([_row(s, r, source) for s, r in table.items()], source)
    from tradeswarm.instruments.calendar import check_calendar

    for instrument in master.values():
        check_calendar(instrument.calendar, f"{source}:instruments.{instrument.symbol}.calendar")
    return master


def load_master(path: str | Path | None = None) -> InstrumentMaster:
    """The bundled instrument master, or the file at path."""
    if path is None:
        text = resources.files("tradeswarm.instruments").joinpath(BUNDLED_FILE).read_text()
        return parse_master(text, f"{BUNDLED_FILE} (bundled)")
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigurationError("instruments.file", str(path), f"cannot read: {err}") from err
    return parse_master(text, str(path))
