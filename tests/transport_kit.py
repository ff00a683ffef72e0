"""Transports for tests: the in-memory one, or a real server's, each in a fresh namespace."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from server_kit import NatsServer, RedisServer, Server
from tradeswarm.bus.factory import open_transport
from tradeswarm.bus.transport import Transport, TransportConfig

BACKENDS = ("memory", "nats", "redis")


def server_for(backend: str, root: Path) -> Server | None:
    if backend == "nats":
        return NatsServer(root).start()
    if backend == "redis":
        return RedisServer(root).start()
    return None


def config_for(backend: str, server: Server | None, **overrides: object) -> TransportConfig:
    url = "" if server is None else server.url  # type: ignore[attr-defined]
    base: dict[str, object] = {
        "backend": backend,
        "url": url,
        "namespace": "t" + secrets.token_hex(4),
        "ack_wait_s": 1.0,
    }
    base.update(overrides)
    return TransportConfig(**base)  # type: ignore[arg-type]


@asynccontextmanager
async def connected(config: TransportConfig) -> AsyncIterator[Transport]:
    transport = open_transport(config)
    await transport.connect()
    try:
        yield transport
    finally:
        await transport.close()


def servers_fixture(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server | None]:
    server = server_for(request.param, tmp_path_factory.mktemp(request.param))
    try:
        yield server
    finally:
        if server is not None:
            server.kill()
