"""Group bars into trading days and sessions; derive quotes where the data has none."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

import msgspec

from tradeswarm.core.errors import InvalidInput
from tradeswarm.model.market import Bar, Quote, Session

BAR_NS = 60 * 1_000_000_000


class TradingDay(msgspec.Struct, frozen=True):
    session: Session
    bars: list[Bar]


def _day_of(ts_ns: int) -> str:
    return dt.datetime.fromtimestamp(ts_ns / 1e9, tz=dt.UTC).date().isoformat()


def split_days(bars: list[Bar]) -> list[TradingDay]:
    """Split bars into days; a session opens one bar before the first and closes at the last."""
    days = []
    for day, group in itertools.groupby(bars, key=lambda b: _day_of(b.ts_event)):
        day_bars = list(group)
        session = Session(
            day=day, open_ns=day_bars[0].ts_event - BAR_NS, close_ns=day_bars[-1].ts_event
        )
        days.append(TradingDay(session=session, bars=day_bars))
    return days


def pick_day(days: list[TradingDay], day: str) -> tuple[list[TradingDay], TradingDay]:
    """Return (the days before `day`, for warm-up) and `day` itself."""
    for index, candidate in enumerate(days):
        if candidate.session.day == day:
            return days[:index], candidate
    known = ", ".join(d.session.day for d in days)
    raise InvalidInput("day", day, f"no bars for that day; the data has {known}")


def synth_quote(bar: Bar, spread: Decimal) -> Quote:
    """A quote centred on the bar's close with a fixed spread (synthesized, not market data)."""
    half = spread / 2
    return Quote(
        symbol=bar.symbol, ts_event=bar.ts_event, bid=bar.close - half, ask=bar.close + half
    )
