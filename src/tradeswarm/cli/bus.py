"""`tradeswarm bus …`: the wire between processes: is the server there, what is dead."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tradeswarm.cli.common import cli_errors, console

if TYPE_CHECKING:
    from tradeswarm.bus.transport import TransportConfig

bus_app = typer.Typer(help="The wire between processes (NATS JetStream, Redis Streams).")

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", help="A swarm config whose bus section names the wire.")
]
BackendOpt = Annotated[str | None, typer.Option(help="memory, nats or redis (over the config's).")]
UrlOpt = Annotated[str | None, typer.Option(help="The server, e.g. nats://127.0.0.1:4222.")]
NsOpt = Annotated[str | None, typer.Option(help="The swarm's namespace on the server.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]


def _transport_config(
    config: Path | None, backend: str | None, url: str | None, ns: str | None
) -> TransportConfig:
    import msgspec

    from tradeswarm.system.config import load_config

    bus = load_config(config).bus
    changes = {k: v for k, v in (("backend", backend), ("url", url), ("namespace", ns)) if v}
    return msgspec.structs.replace(bus, **changes).transport() if changes else bus.transport()


@bus_app.command()
def check(
    config: ConfigOpt = None,
    backend: BackendOpt = None,
    url: UrlOpt = None,
    namespace: NsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Connect, publish a probe, read it back through a consumer group, ack it: the
    round trip in ms and the dead letters waiting. Exit 2 when the server is not there."""
    import asyncio

    from tradeswarm.bus.health import probe

    with cli_errors():
        cfg = _transport_config(config, backend, url, namespace)
        report = asyncio.run(probe(cfg))
    _show(report, as_json)


@bus_app.command("dead-letters")
def dead_letters(
    config: ConfigOpt = None,
    backend: BackendOpt = None,
    url: UrlOpt = None,
    namespace: NsOpt = None,
    limit: Annotated[int, typer.Option(help="At most this many, oldest first.")] = 100,
    as_json: JsonOpt = False,
) -> None:
    """The messages taken off the wire for good: subject, attempts, why, and what the
    envelope says of itself (a sealed one shows only its sender)."""
    import asyncio

    from tradeswarm.bus.health import list_dead

    with cli_errors():
        cfg = _transport_config(config, backend, url, namespace)
        rows = asyncio.run(list_dead(cfg, limit))
    _show({"namespace": cfg.namespace, "dead_letters": rows}, as_json)


def _show(report: dict[str, Any], as_json: bool) -> None:
    text = json.dumps(report)
    print(text) if as_json else console.print_json(text)
