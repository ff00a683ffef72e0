from __future__ import annotations

import itertools
import math
from decimal import Decimal

import exchange_calendars
import numpy as np
import pandas as pd
import pytest

from tradeswarm.core.errors import InvalidInput
from tradeswarm.data.csv_bars import BUNDLED_SYMBOL, BUNDLED_TZ, bundled_bars, parse_bars
from tradeswarm.data.replay import pick_day, split_days, synth_quote
from tradeswarm.data.view import MINUTES_PER_YEAR, MarketView
from tradeswarm.model.enums import MarketStatus

HEADER = "Date,Time,Open,High,Low,Close,Volume"
GOOD = "2006-01-03,09:01:00,10,11,9,10,100"


def _parse(*rows: str, header: str = HEADER) -> list:  # type: ignore[type-arg]
    return list(parse_bars([header, *rows], "ES", "bars.csv"))


def test_parse_good_rows() -> None:
    bars = _parse(GOOD, "2006-01-03,09:02:00,10,12,10,11.5,7")
    assert [b.close for b in bars] == [Decimal(10), Decimal("11.5")]
    assert bars[1].ts_event - bars[0].ts_event == 60 * 10**9
    assert bars[0].ts_event == 1_136_278_860 * 10**9  # 2006-01-03T09:01:00Z


@pytest.mark.parametrize(
    ("row", "field", "problem"),
    [
        ("2006-01-03,09:02:00,10,11,9,NaN,100", "bars.csv:3:Close", "finite"),
        ("2006-01-03,09:02:00,10,inf,9,10,100", "bars.csv:3:High", "finite"),
        ("2006-01-03,09:02:00,ten,11,9,10,100", "bars.csv:3:Open", "not a number"),
        ("2006-01-03,09:02:00,10,11,9,10,", "bars.csv:3:Volume", "not a number"),
        ("2006-01-03,25:02:00,10,11,9,10,100", "bars.csv:3:Date/Time", "not a date"),
        ("2006-01-03,09:02:00,10,11,12,10,100", "bars.csv:3:bar", "low <= open"),
        ("2006-01-03,09:02:00,-1,11,-2,10,100", "bars.csv:3:bar.open", "positive"),
    ],
)
def test_bad_row_names_file_line_and_field(row: str, field: str, problem: str) -> None:
    with pytest.raises(InvalidInput) as info:
        _parse(GOOD, row)
    assert info.value.field == field
    assert problem in info.value.problem
    assert field in str(info.value)


def test_missing_header_column_is_named() -> None:
    with pytest.raises(InvalidInput) as info:
        _parse("2006-01-03,09:01:00,10,11,9,100", header="Date,Time,Open,High,Low,Volume")
    assert info.value.field == "bars.csv:header"
    assert "Close" in info.value.problem


@pytest.mark.parametrize("time", ["09:01:00", "09:00:00"])
def test_out_of_order_or_repeated_times_are_refused(time: str) -> None:
    with pytest.raises(InvalidInput) as info:
        _parse(GOOD, f"2006-01-03,{time},10,11,9,10,100")
    assert info.value.field == "bars.csv:3:Time"
    assert "rising" in info.value.problem


def test_bundled_bars_load_three_days() -> None:
    bars = bundled_bars()
    assert bars and all(b.symbol == BUNDLED_SYMBOL for b in bars)
    assert all(a.ts_event < b.ts_event for a, b in itertools.pairwise(bars))
    days = split_days(bars)
    assert [d.session.day for d in days] == ["2006-01-03", "2006-01-04", "2006-01-05"]
    for day in days:
        assert day.session.open_ns < day.bars[0].ts_event
        assert day.session.close_ns == day.bars[-1].ts_event
    before, day = pick_day(days, "2006-01-05")
    assert len(before) == 2 and day is days[2]
    with pytest.raises(InvalidInput, match="2006-01-03"):
        pick_day(days, "2006-02-01")


def test_bundled_bars_are_read_in_frankfurt_time() -> None:
    bars = bundled_bars()
    # the file's first and last rows: 2006-01-03 09:01 and 2006-01-05 22:00, exchange time
    assert BUNDLED_TZ == "Europe/Berlin"
    assert bars[0].ts_event == pd.Timestamp("2006-01-03 09:01", tz="Europe/Berlin").value
    assert bars[0].ts_event == pd.Timestamp("2006-01-03 08:01", tz="UTC").value
    assert bars[-1].ts_event == pd.Timestamp("2006-01-05 21:00", tz="UTC").value


@pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")  # inside the library
def test_every_bundled_bar_lies_in_an_xeur_session() -> None:
    xeur = exchange_calendars.get_calendar("XEUR", start="2006-01-02", end="2006-01-06")
    starts = [pd.Timestamp(b.ts_event - 60 * 10**9, tz="UTC") for b in bundled_bars()]
    assert [t for t in starts if not xeur.is_open_on_minute(t)] == []


def test_summer_time_is_two_hours_ahead_of_utc() -> None:
    rows = ["2006-07-03,09:01:00,10,11,9,10,100", "2006-12-29,09:01:00,10,11,9,10,100"]
    summer, winter = list(parse_bars([HEADER, *rows], "X", "b.csv", tz="Europe/Berlin"))
    assert summer.ts_event == pd.Timestamp("2006-07-03 07:01", tz="UTC").value
    assert winter.ts_event == pd.Timestamp("2006-12-29 08:01", tz="UTC").value


def test_an_unknown_time_zone_is_refused_by_name() -> None:
    with pytest.raises(InvalidInput) as info:
        list(parse_bars([HEADER, GOOD], "X", "b.csv", tz="Mars/Olympus"))
    assert info.value.field == "tz"


def test_synth_quote_centres_on_the_close() -> None:
    bar = _parse(GOOD)[0]
    quote = synth_quote(bar, Decimal(1))
    assert (quote.bid, quote.ask, quote.mid) == (Decimal("9.5"), Decimal("10.5"), Decimal(10))


def _numpy_vol(closes: list[float]) -> float:
    rets = np.diff(np.log(np.array(closes)))
    return float(np.std(rets, ddof=1) * math.sqrt(MINUTES_PER_YEAR))


def test_realized_volatility_matches_numpy_over_the_window() -> None:
    bars = bundled_bars()[:200]
    view = MarketView(window=30)
    for bar in bars:
        view.on_bar(bar)
    closes = [float(b.close) for b in bars[-31:]]
    assert view.realized_volatility(BUNDLED_SYMBOL) == pytest.approx(_numpy_vol(closes), rel=1e-9)
    assert view.realized_volatility(BUNDLED_SYMBOL) > 0


def test_realized_volatility_is_zero_until_three_closes() -> None:
    view = MarketView()
    bars = bundled_bars()[:3]
    assert view.realized_volatility(BUNDLED_SYMBOL) == 0.0
    view.on_bar(bars[0])
    view.on_bar(bars[1])
    assert view.realized_volatility(BUNDLED_SYMBOL) == 0.0
    view.on_bar(bars[2])
    closes = [float(b.close) for b in bars]
    if len(set(closes)) > 1:
        assert view.realized_volatility(BUNDLED_SYMBOL) == pytest.approx(_numpy_vol(closes))


def test_market_view_status_follows_the_session() -> None:
    days = split_days(bundled_bars())
    view = MarketView()
    session = days[0].session
    assert view.status(session.open_ns) is MarketStatus.CLOSED
    view.open_session(session)
    assert view.status(session.open_ns) is MarketStatus.OPEN
    assert view.status(session.close_ns - 1) is MarketStatus.OPEN
    assert view.status(session.close_ns) is MarketStatus.CLOSED
