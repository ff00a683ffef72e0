"""The log shipper: every entry of the store's log on the wire once its unit committed;
when the server is away trading goes on and what waited goes out on the next ship."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from server_kit import RedisServer
from tradeswarm.bus.memory_transport import MemoryTransport
from tradeswarm.bus.resilience import AdaptiveTimeout, Backoff, CircuitBreaker, Resilient
from tradeswarm.bus.topics import INTENTS
from tradeswarm.bus.transport import TransportConfig
from tradeswarm.model.envelope import Envelope
from tradeswarm.store import Store
from tradeswarm.system.wire import SHIPPED_KEY, LogShipper
from tradeswarm.testkit import T0, make_envelope, make_intent
from transport_kit import config_for, connected


def _envs(n: int, start: int = 0) -> list[Envelope]:
    return [
        make_envelope(
            make_intent(intent_id=uuid.UUID(int=start + i + 1)),
            topic=INTENTS.name,
            sender="trading-agent:trading-agent-01",
            ts_ns=T0 + i,
            msg_id=uuid.UUID(int=1000 + start + i),
        )
        for i in range(n)
    ]


def _quick() -> Resilient:
    return Resilient(
        "wire",
        attempts=2,
        backoff=Backoff(base_s=0.01, cap_s=0.02),
        timeout=AdaptiveTimeout(floor_s=1.0),
        breaker=CircuitBreaker("wire", cooldown_s=0.1),
    )


@pytest.mark.asyncio
async def test_every_entry_goes_out_once_and_the_cursor_follows(tmp_path: Path) -> None:
    wire = MemoryTransport(TransportConfig(namespace="w"))
    with Store.open(tmp_path / "s.sqlite", writer=True) as store:
        shipper = LogShipper(store, wire, _quick())
        store.append_events(_envs(5))
        assert await shipper.ship() == 5
        assert await shipper.ship() == 0  # nothing new
        store.append_events(_envs(3, start=5))
        assert await shipper.ship() == 3
        assert store.get_meta(SHIPPED_KEY) == "8"
        bodies = [r.body for r in store.iter_events()]
    assert wire.log["w.trading.intent.created"] == bodies


@pytest.mark.asyncio
async def test_an_absent_server_holds_nothing_back_for_good(tmp_path: Path) -> None:
    server = RedisServer(tmp_path).start()
    cfg = config_for("redis", server, connect_timeout_s=0.5)
    try:
        async with connected(cfg) as wire:
            with Store.open(tmp_path / "s.sqlite", writer=True) as store:
                shipper = LogShipper(store, wire, _quick())
                store.append_events(_envs(4))
                server.kill()
                assert await shipper.ship() == 0 and shipper.degraded
                store.append_events(_envs(2, start=4))  # trading goes on meanwhile
                server.start()
                await asyncio.sleep(0.2)
                shipped = 0
                for _ in range(20):  # the client reconnects; the breaker half-opens
                    shipped += await shipper.ship()
                    if not shipper.degraded and shipped:
                        break
                    await asyncio.sleep(0.2)
                assert shipped == 6 and not shipper.degraded
                assert store.get_meta(SHIPPED_KEY) == "6"
    finally:
        server.kill()
