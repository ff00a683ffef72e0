from __future__ import annotations

from collections.abc import Iterator

import pytest

from tradeswarm.core.clock import SimClock
from tradeswarm.store import Store

T0 = 1_704_205_800_000_000_000


@pytest.fixture
def clock() -> SimClock:
    return SimClock(T0)


@pytest.fixture
def store() -> Iterator[Store]:
    s = Store.open(":memory:")
    yield s
    s.close()
