from __future__ import annotations

from collections.abc import Iterator

import pytest
from paper_kit import SESSION, T0, bar, config

from tradeswarm.brokers.paper import PaperBroker
from tradeswarm.core.clock import SimClock


@pytest.fixture
def clock() -> SimClock:
    return SimClock(T0)


@pytest.fixture
def broker(clock: SimClock) -> Iterator[PaperBroker]:
    """An in-memory broker with an open session and a first ES price of 5000."""
    b = PaperBroker(clock, config())
    b.open_session(SESSION)
    b.on_bar(bar(0, "5000"))
    clock.advance(1)
    yield b
    b.close()
