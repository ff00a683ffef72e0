from __future__ import annotations

from collections.abc import Iterator

import pytest
from compliance_kit import T0

from tradeswarm.bus.inproc import InProcessBus
from tradeswarm.compliance.agent import ComplianceAgent, ComplianceConfig
from tradeswarm.core.clock import SimClock
from tradeswarm.store import Store


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


@pytest.fixture
def compliance(bus: InProcessBus, clock: SimClock, store: Store) -> ComplianceAgent:
    return ComplianceAgent(
        "compliance-agent-01",
        bus,
        clock,
        store=store,
        config=ComplianceConfig(wash_window_s=1800, restricted_symbols=["XX"]),
    )
