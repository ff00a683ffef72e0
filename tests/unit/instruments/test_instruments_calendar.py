"""Trading-session calendars: is the instrument's market open at a moment? The oracle is
exchange-calendars itself (`ExchangeCalendar.is_open_on_minute`)."""

from __future__ import annotations

import contextlib
import datetime as dt
import warnings
from collections.abc import Iterator

import exchange_calendars
import pandas as pd
import pytest
from pandas.errors import Pandas4Warning

from tradeswarm.core.errors import ConfigurationError
from tradeswarm.instruments import calendar_for

MINUTE_NS = 60 * 1_000_000_000


@contextlib.contextmanager
def _oracle() -> Iterator[None]:
    """Around calls into exchange-calendars as the oracle only: on pandas 3 it warns from
    inside its own constructor, an error under this suite's filterwarnings. The calendar
    under test runs outside this, with warnings as errors."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Pandas4Warning)
        yield


def _ns(text: str) -> int:
    """A UTC moment in ns, e.g. "2006-01-04 07:00"."""
    return int(dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp()) * 10**9


@pytest.mark.parametrize(
    ("moment", "is_open"),
    [
        ("2006-01-04 07:00", True),  # 08:00 in Frankfurt: the open minute is in
        ("2006-01-04 06:59", False),
        ("2006-01-04 20:59", True),
        ("2006-01-04 21:00", False),  # 22:00 in Frankfurt: the close minute is out
        ("2006-01-07 12:00", False),  # a Saturday
        ("2006-12-25 12:00", False),  # Christmas
    ],
)
def test_xeur_trades_from_eight_to_ten_frankfurt_time(moment: str, is_open: bool) -> None:
    assert calendar_for("XEUR").is_open(_ns(moment)) is is_open


def test_the_calendar_knows_its_time_zone() -> None:
    assert calendar_for("XEUR").tz == "Europe/Berlin"
    with _oracle():
        cmes = str(exchange_calendars.get_calendar("CMES").tz)
    assert calendar_for("CMES").tz == cmes


def _sample(reference: exchange_calendars.ExchangeCalendar, step_min: int) -> list[int]:
    """Every step_min-th minute of the range, and the minutes around every open, close
    and break."""
    lo, hi = reference.first_minute.value, reference.last_minute.value
    moments = list(range(lo, hi, step_min * MINUTE_NS))
    schedule = reference.schedule
    for column in ("open", "close", "break_start", "break_end"):
        for stamp in schedule[column].dropna():
            moments += [stamp.value - MINUTE_NS, stamp.value, stamp.value + MINUTE_NS]
    return [m for m in moments if lo <= m <= hi]


@pytest.mark.parametrize("code", ["XEUR", "CMES", "XNYS", "XHKG", "XTKS", "24/7"])
def test_is_open_agrees_with_exchange_calendars_minute_by_minute(code: str) -> None:
    with _oracle():
        reference = exchange_calendars.get_calendar(code, start="2005-12-19", end="2006-01-13")
        moments = _sample(reference, 17)
        expected = [reference.is_open_on_minute(pd.Timestamp(m, tz="UTC")) for m in moments]
    ours = calendar_for(code)
    got = [ours.is_open(m) for m in moments]
    assert expected.count(True) > 100  # the sample holds open minutes
    assert code == "24/7" or expected.count(False) > 100  # and closed ones
    pairs = zip(moments, got, expected, strict=True)
    disagree = [pd.Timestamp(m, tz="UTC") for m, a, b in pairs if a is not b]
    assert disagree == []


def test_the_clock_around_the_calendar_is_open_at_midnight() -> None:
    always = calendar_for("24/7")
    for moment in ("2006-01-07 00:00", "2006-01-07 23:59", "2024-02-29 00:00"):
        assert always.is_open(_ns(moment))


def test_a_moment_outside_any_calendar_range_is_not_open() -> None:
    far = _ns("2300-06-05 00:00")  # past what pandas (and so exchange-calendars) can hold
    assert not calendar_for("24/7").is_open(far)
    assert not calendar_for("XEUR").is_open(far + 10 * 3600 * 10**9)


def test_an_unknown_calendar_code_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="exchange-calendars code") as info:
        calendar_for("NOPE")
    assert info.value.field == "calendar"


def test_one_calendar_is_shared_per_code() -> None:
    assert calendar_for("XEUR") is calendar_for("XEUR")
    assert calendar_for("XEUR") is not calendar_for("CMES")
