"""A consumer whose outlet is full stops consuming (backpressure) and dead-letters nothing;
once the outlet has published, it goes on."""

from __future__ import annotations

import asyncio

import pytest

from remote_kit import RiskEnd, TraderEnd, clock_at_t0, quick_resilient
from tradeswarm.bus.memory_transport import MemoryTransport
from tradeswarm.bus.remote import ExportSink, Outlet
from tradeswarm.bus.topics import RISK_DECISIONS
from tradeswarm.bus.transport import TransportConfig


@pytest.mark.asyncio
async def test_a_full_outlet_stops_the_inlet_and_loses_nothing() -> None:
    wire = MemoryTransport(TransportConfig(namespace="bp"))
    clock = clock_at_t0()
    trader = TraderEnd(wire, clock)
    trader.propose(30)
    await trader.outlet.flush()
    risk = RiskEnd(wire, clock)
    exports = ExportSink(risk.ledger, {RISK_DECISIONS.name}, max_pending=10)
    risk.bus._sink = exports  # the risk process also publishes its decisions to the wire
    inlet = await risk.inlet()
    inlet._exports = exports
    outlet = Outlet(wire, exports, quick_resilient())
    await inlet.pump(8, 0.1)
    assert len(risk.decisions()) == 8 and len(exports.queue) == 8
    for _ in range(8):  # the wire takes nothing meanwhile: 8 more would overflow
        await inlet.pump(8, 0.1)
        await asyncio.sleep(0.15)
    assert len(exports.queue) + len(exports.staged) <= 10
    assert inlet.stats.dead == 0 and await wire.dead_letters() == []  # waiting is no poison
    while len(risk.decisions()) < 30:
        await outlet.flush()
        await inlet.pump(8, 0.2)
    await outlet.flush()
    assert len(wire.log["bp.trading.risk.decision"]) == 30
    assert inlet.stats.dead == 0 and await wire.dead_letters() == []
