from __future__ import annotations

import pytest

from tradeswarm.bus.inproc import InProcessBus
from tradeswarm.compliance.agent import ComplianceAgent, ComplianceConfig
from tradeswarm.core.clock import SimClock
from tradeswarm.store import Store


@pytest.fixture
def compliance(bus: InProcessBus, clock: SimClock, store: Store) -> ComplianceAgent:
    return ComplianceAgent(
        "compliance-agent-01",
        bus,
        clock,
        store=store,
        config=ComplianceConfig(wash_window_s=1800, restricted_symbols=["XX"]),
    )
