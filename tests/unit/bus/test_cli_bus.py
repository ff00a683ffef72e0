"""`tradeswarm bus check` / `bus dead-letters` against servers of the test's own, and the
`[bus]` section: every field checked at load, a server backend refused by the in-process
swarm rather than silently ignored."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from server_kit import NatsServer, RedisServer, free_port
from tradeswarm.bus.transport import subject_of
from tradeswarm.cli.main import app
from transport_kit import config_for, connected

FILL = b'{"msg_id":"018cca94-d240-7e7d-afe5-70be5219887b","type":"FillReceived",' + (
    b'"topic":"trading.execution.fill","sender":"order-executor:order-executor-01"}'
)


def _run(*args: str):
    return CliRunner().invoke(app, list(args))


@pytest.mark.parametrize("kind", [NatsServer, RedisServer])
def test_check_and_dead_letters_against_a_real_server(kind, tmp_path: Path) -> None:
    server = kind(tmp_path).start()
    try:
        cfg = config_for(server.name, server)

        async def poison() -> None:
            async with connected(cfg) as t:
                subject = subject_of(cfg.namespace, "trading.execution.fill")
                consumer = await t.consumer([subject], "c", "c1")
                await t.publish(subject, [FILL])
                (d,) = await consumer.fetch(1, 3.0)
                await d.dead_letter("ValueError: bad fill")

        asyncio.run(poison())
        common = ["--backend", server.name, "--url", server.url, "--namespace", cfg.namespace]
        ok = _run("bus", "check", *common, "--json")
        assert ok.exit_code == 0, ok.output
        report = json.loads(ok.output)
        assert report["ok"] and report["dead_letters"] == 1 and report["round_trip_ms"] > 0
        listed = _run("bus", "dead-letters", *common, "--json")
        (row,) = json.loads(listed.output)["dead_letters"]
        assert row["reason"] == "ValueError: bad fill" and row["type"] == "FillReceived"
    finally:
        server.kill()


@pytest.mark.parametrize("backend", ["nats", "redis"])
def test_check_of_a_server_that_is_not_there_is_one_line_and_exit_2(backend: str) -> None:
    url = f"{backend}://127.0.0.1:{free_port()}"
    result = _run("bus", "check", "--backend", backend, "--url", url)
    assert result.exit_code == 2
    assert "bus.url" in result.output and "Traceback" not in result.output


def test_a_bad_bus_field_is_named(tmp_path: Path) -> None:
    config = tmp_path / "swarm.toml"
    config.write_text('[bus]\nbackend = "nats"\nurl = "nats://x"\nmax_deliver = 0\n')
    result = _run("bus", "check", "--config", str(config))
    assert result.exit_code == 2 and "bus.max_deliver" in result.output


def test_a_swarm_without_its_wire_refuses_a_server_backend(tmp_path: Path) -> None:
    """Only the demo streams its log to `[bus]`; an entry point that builds a swarm
    without a connected transport is refused before any file, never silently local."""
    from tradeswarm.core.clock import SimClock, SimSleeper
    from tradeswarm.core.errors import ConfigurationError
    from tradeswarm.system.config import BusConfig, SwarmConfig
    from tradeswarm.system.swarm import Swarm

    bus = BusConfig(backend="nats", url="nats://127.0.0.1:4222")
    clock = SimClock()
    db = tmp_path / "d.sqlite"
    with pytest.raises(ConfigurationError, match=r"bus\.backend"):
        Swarm(SwarmConfig(bus=bus), db, clock, SimSleeper(clock))
    assert not list(tmp_path.iterdir())
