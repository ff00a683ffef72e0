"""Fixtures every agent room's tests share: a SimClock at T0, an in-memory store, a bus on it.

A folder that needs a variant (risk's store starts with cash) overrides the fixture locally.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tradeswarm.bus.inproc import InProcessBus
from tradeswarm.core.clock import SimClock
from tradeswarm.store import Store
from tradeswarm.testkit import T0


@pytest.fixture
def clock() -> SimClock:
    return SimClock(T0)


@pytest.fixture
def store() -> Iterator[Store]:
    s = Store.open(":memory:")
    yield s
    s.close()


@pytest.fixture
def bus(clock: SimClock, store: Store) -> InProcessBus:
    return InProcessBus(clock, sink=store)
