"""Trading-session calendars from exchange-calendars: is an instrument's market open now?

`calendar_for(code)` gives one shared `SessionCalendar` per exchange-calendars code
(``XNYS``, ``XEUR``, ``CMES``, ``24/7`` ...). Sessions are loaded a calendar year at a
time, the first time a moment in that year is asked about, and kept as integer
nanoseconds: `is_open` is then a bisection, with no pandas on the hot path. A moment the
calendar has no data for (outside the range exchange-calendars covers) is "not open":
unknown means closed, so the gate denies.
"""

from __future__ import annotations

import bisect
import contextlib
import datetime as dt
import warnings
from collections.abc import Iterator
from functools import cache
from typing import Any, NamedTuple

from tradeswarm.core.errors import ConfigurationError

NS_PER_DAY = 86_400 * 1_000_000_000
_NAT = -(2**63)


class Sessions(NamedTuple):
    """A year of sessions, sorted by open: parallel lists of ns (breaks may be _NAT)."""

    opens: list[int]
    closes: list[int]
    break_starts: list[int]
    break_ends: list[int]
    labels: list[int]  # each session's date (exchange-calendars' label) at 00:00 UTC


def _exchange_calendars() -> Any:
    import exchange_calendars

    return exchange_calendars


@cache
def calendar_names() -> frozenset[str]:
    return frozenset(_exchange_calendars().get_calendar_names())


def check_calendar(code: str, field: str) -> None:
    """ConfigurationError naming field unless code is an exchange-calendars code."""
    if code not in calendar_names():
        raise ConfigurationError(
            field, code, "not an exchange-calendars code (e.g. XNYS, XEUR, CMES, 24/7)"
        )


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """exchange-calendars' own use of pandas raises deprecation warnings (pandas 3): they are
    the library's to fix, not errors in what we ask of it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _year_of(ts_ns: int) -> int:
    return dt.datetime.fromtimestamp(ts_ns // 1_000_000_000, tz=dt.UTC).year


class SessionCalendar:
    """One exchange's sessions; see the module docstring."""

    def __init__(self, code: str) -> None:
        check_calendar(code, "calendar")
        self.code = code
        self._years: dict[int, Sessions | None] = {}

    @property
    def tz(self) -> str:
        """The exchange's time zone (IANA name), e.g. Europe/Berlin for XEUR."""
        with _quiet():
            return str(self._calendar_for_year(None).tz)

    def _calendar_for_year(self, year: int | None) -> Any:
        xc = _exchange_calendars()
        if year is None:
            return xc.get_calendar(self.code)
        return xc.get_calendar(self.code, start=f"{year}-01-01", end=f"{year}-12-31")

    def _load(self, year: int) -> Sessions | None:
        if year not in self._years:
            errors = _exchange_calendars().errors
            try:
                with _quiet():
                    schedule = self._calendar_for_year(year).schedule
            except (errors.CalendarError, errors.DateOutOfBounds, ValueError):
                self._years[year] = None  # outside what the calendar covers: none known
            else:
                cols = [schedule[c].array.asi8.tolist() for c in ("open", "close")]
                breaks = [schedule[c].array.asi8.tolist() for c in ("break_start", "break_end")]
                labels = schedule.index.asi8.tolist()
                self._years[year] = Sessions(cols[0], cols[1], breaks[0], breaks[1], labels)
        return self._years[year]

    def session_of(self, ts_ns: int) -> tuple[int, int] | None:
        """(open_ns, close_ns) of the session whose [open, close) holds ts_ns, else None.

        A session's break counts as inside it here; `is_open` excludes it."""
        try:
            years = sorted({_year_of(ts_ns), _year_of(ts_ns + NS_PER_DAY)})
        except (OverflowError, ValueError, OSError):  # not a time any calendar holds
            return None
        for year in years:
            sessions = self._load(year)
            if sessions is None:
                continue
            i = bisect.bisect_right(sessions.opens, ts_ns) - 1
            if i >= 0 and ts_ns < sessions.closes[i]:
                start, end = sessions.break_starts[i], sessions.break_ends[i]
                if start != _NAT and start <= ts_ns < end:
                    return None
                return sessions.opens[i], sessions.closes[i]
        return None

    def session_days(self, year: int) -> list[int]:
        """The year's sessions as the 00:00 UTC ns of each session's date (its label)."""
        sessions = self._load(year)
        return [] if sessions is None else sessions.labels

    def is_session_day(self, day_ns: int) -> bool:
        """Whether the date starting at day_ns (00:00 UTC) is a session's date."""
        days = self.session_days(_year_of(day_ns))
        i = bisect.bisect_left(days, day_ns)
        return i < len(days) and days[i] == day_ns

    def periods_per_year(self, bar_seconds: int, years: list[int]) -> float:
        """How many bars of bar_seconds a year of this calendar holds, averaged over years
        (the sessions' own lengths, breaks out): what annualises a bar's volatility."""
        counts, seconds = 0, 0.0
        known = [y for y in years if self._load(y) is not None]
        for year in known:
            sessions = self._load(year)
            assert sessions is not None
            counts += len(sessions.opens)
            for k, (start, end) in enumerate(zip(sessions.opens, sessions.closes, strict=True)):
                length = end - start
                if sessions.break_starts[k] != _NAT:
                    length -= sessions.break_ends[k] - sessions.break_starts[k]
                seconds += length / 1e9
        if not known:
            raise ConfigurationError("calendar", self.code, f"has no sessions in {years}")
        if bar_seconds >= 86_400:
            return counts / len(known) * 86_400 / bar_seconds
        return seconds / len(known) / bar_seconds

    def is_open(self, ts_ns: int) -> bool:
        """Whether the market trades at ts_ns (open minute in, close minute and breaks out)."""
        return self.session_of(ts_ns) is not None


@cache
def calendar_for(code: str) -> SessionCalendar:
    """The shared calendar for an exchange-calendars code (ConfigurationError if unknown)."""
    return SessionCalendar(code)
