"""The one place a transport is chosen from `[bus]`: the server clients load only if used."""

from __future__ import annotations

from tradeswarm.bus.memory_transport import MemoryTransport
from tradeswarm.bus.transport import Transport, TransportConfig


def open_transport(config: TransportConfig) -> Transport:
    """The transport config names (not yet connected: `await transport.connect()`)."""
    if config.backend == "nats":
        from tradeswarm.bus.nats_transport import NatsTransport

        return NatsTransport(config)
    if config.backend == "redis":
        from tradeswarm.bus.redis_transport import RedisTransport

        return RedisTransport(config)
    return MemoryTransport(config)
