"""The instrument master: the bundled file, TOML errors that name file and field, and the
tick and lot grids."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import exchange_calendars
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradeswarm.core.errors import ConfigurationError, InvalidInput
from tradeswarm.instruments import InstrumentMaster, load_master
from tradeswarm.model.market import Instrument

ROW = """[instruments.ABC]
asset_class = "equity"
currency = "USD"
multiplier = "1"
tick_size = "0.01"
lot_size = "1"
venue = "XNAS"
calendar = "XNAS"
"""


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "my-instruments.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _edit(name: str, line: str) -> str:
    """ROW with the line of field `name` replaced by line (appended if absent)."""
    kept = [x for x in ROW.splitlines() if not x.startswith(f"{name} =")]
    return "\n".join([*kept, line]) + "\n"


# -- the bundled master ---------------------------------------------------------------------


def test_bundled_master_holds_the_demo_future_with_its_terms() -> None:
    idxf = load_master()["IDXF"]
    assert (idxf.multiplier, idxf.tick_size, idxf.lot_size) == (Decimal(1), Decimal("0.5"), 1)
    assert (idxf.calendar, idxf.currency, idxf.tradable) == ("XEUR", "USD", True)


def test_bundled_master_holds_futures_crypto_fx_and_stocks() -> None:
    master = load_master()
    es, nq = master["ES"], master["NQ"]
    assert (es.multiplier, es.tick_size, es.calendar) == (Decimal(50), Decimal("0.25"), "CMES")
    assert nq.calendar == "CMES" and nq.multiplier == Decimal(20)
    assert master["BTCUSD"].calendar == "24/7" and master["BTCUSD"].asset_class == "crypto"
    assert master["EURUSD"].lot_size == Decimal(1000)
    assert {"AAPL", "MSFT", "XOM", "SHLD"} <= set(master)
    assert master["SHLD"].tradable is False
    assert "ZZZZ" not in master and master.get("ZZZZ") is None


def test_every_bundled_calendar_is_an_exchange_calendars_code() -> None:
    known = set(exchange_calendars.get_calendar_names())
    assert {i.calendar for i in load_master().values()} <= known


def test_bundled_money_fields_are_exact_decimals() -> None:
    for instrument in load_master().values():
        for value in (instrument.multiplier, instrument.tick_size, instrument.lot_size):
            assert isinstance(value, Decimal) and value > 0


def test_a_master_read_from_a_file(tmp_path: Path) -> None:
    master = load_master(_file(tmp_path, ROW))
    assert list(master) == ["ABC"]
    assert master["ABC"].tick_size == Decimal("0.01")
    assert master.source == str(tmp_path / "my-instruments.toml")


def test_with_instruments_adds_and_keeps_the_original() -> None:
    base = load_master()
    extra = Instrument(symbol="TEST1", asset_class="equity", calendar="XNYS")
    more = base.with_instruments(extra)
    assert more["TEST1"] == extra and "TEST1" not in base
    assert len(more) == len(base) + 1


# -- a file's errors name the file and the field --------------------------------------------


@pytest.mark.parametrize(
    ("text", "field", "problem"),
    [
        (_edit("multiplier", "multiplier = 1.5"), "instruments.ABC.multiplier", "float"),
        (_edit("tick_size", "tick_size = 0.25"), "instruments.ABC.tick_size", "float"),
        (_edit("calendar", 'calendar = "NOPE"'), "instruments.ABC.calendar", "exchange-calendars"),
        (_edit("tick_size", 'tick_size = "0"'), "instruments.ABC.tick_size", "> 0"),
        (_edit("lot_size", 'lot_size = "-1"'), "instruments.ABC.lot_size", "> 0"),
        (_edit("colour", 'colour = "red"'), "instruments.ABC", "colour"),
        (ROW.replace("[instruments.", "[instrument."), "instrument", "unknown key"),
        ("", "instruments", "needs [instruments.SYMBOL]"),
    ],
    ids=[
        "float-multiplier",
        "float-tick",
        "unknown-calendar",
        "zero-tick",
        "negative-lot",
        "unknown-field",
        "unknown-key",
        "empty",
    ],
)
def test_a_bad_file_names_the_file_and_the_field(
    tmp_path: Path, text: str, field: str, problem: str
) -> None:
    path = _file(tmp_path, text)
    with pytest.raises(ConfigurationError) as info:
        load_master(path)
    assert info.value.field == f"{path}:{field}"
    assert problem in str(info.value)


def test_a_symbol_declared_twice_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = _file(tmp_path, ROW + "\n" + ROW)
    with pytest.raises(ConfigurationError) as info:
        load_master(path)
    assert info.value.field == str(path)
    assert "'instruments', 'ABC'" in str(info.value) and "twice" in str(info.value)


def test_a_symbol_added_twice_is_refused_naming_it() -> None:
    again = Instrument(symbol="ES", asset_class="equity_index_future", calendar="CMES")
    with pytest.raises(ConfigurationError, match="ES") as info:
        load_master().with_instruments(again)
    assert info.value.problem == "twice"
    with pytest.raises(ConfigurationError, match="twice"):
        InstrumentMaster([again, again])


def test_an_unreadable_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as info:
        load_master(tmp_path / "missing.toml")
    assert info.value.field == "instruments.file"


def test_an_instrument_refuses_a_zero_or_non_finite_grid() -> None:
    for bad in (Decimal(0), Decimal("NaN"), Decimal("Infinity")):
        with pytest.raises(InvalidInput, match=r"instruments\.X\.tick_size"):
            Instrument(symbol="X", asset_class="equity", tick_size=bad)


# -- the tick and lot grids -------------------------------------------------------------------


def test_on_tick_and_on_lot_follow_the_grid() -> None:
    master = load_master()
    idxf, btc, fx = master["IDXF"], master["BTCUSD"], master["EURUSD"]
    assert idxf.on_tick(Decimal("3655.5")) and idxf.on_tick(Decimal(3655))
    assert not idxf.on_tick(Decimal("3655.25"))
    assert idxf.on_lot(Decimal(16)) and not idxf.on_lot(Decimal("1.5"))
    assert btc.on_lot(Decimal("0.00003")) and not btc.on_lot(Decimal("0.000015"))
    assert fx.on_lot(Decimal(2000)) and not fx.on_lot(Decimal(1500))
    assert fx.on_tick(Decimal("1.08501")) and not fx.on_tick(Decimal("1.085015"))


@pytest.mark.parametrize(
    "value",
    [Decimal("1E+40"), Decimal("-1E+40"), Decimal("NaN"), Decimal("-Infinity"), Decimal("sNaN")],
)
def test_a_value_the_grid_cannot_tell_is_not_on_it(value: Decimal) -> None:
    idxf = load_master()["IDXF"]
    assert idxf.on_lot(value) is False  # refused, never an exception
    assert idxf.on_tick(value) is False


@given(
    value=st.decimals(min_value=-(10**12), max_value=10**12, places=6, allow_nan=False),
    step=st.sampled_from(["0.5", "0.25", "0.01", "0.00001", "1", "1000", "0.2"]),
)
def test_on_tick_agrees_with_exact_fractions(value: Decimal, step: str) -> None:
    instrument = Instrument(symbol="X", asset_class="equity", tick_size=Decimal(step))
    whole = (Fraction(value) / Fraction(step)).denominator == 1
    assert instrument.on_tick(value) is whole
