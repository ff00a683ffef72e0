"""The instrument tests start with no exchange calendar loaded.

`calendar_for` shares one SessionCalendar per code for the whole process, and a calendar
remembers each year it loaded (or could not load: "no sessions", closed). Clearing the
cache around each test keeps what other tests loaded out of these."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tradeswarm.instruments import calendar_for


@pytest.fixture(autouse=True)
def fresh_calendars() -> Iterator[None]:
    calendar_for.cache_clear()
    yield
    calendar_for.cache_clear()
