"""`tradeswarm trace …`: a day's agent answers off the wire, and their replay."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tradeswarm.cli.common import DB_HELP, cli_errors, console, echo

trace_app = typer.Typer(help="Record the agents' answers off the wire; replay them.")

ConfigOpt = Annotated[
    Path,
    typer.Option("--config", help="The swarm's config (bus.backend, bus.url, bus.remote_agents)."),
]


@trace_app.command()
def record(
    config: ConfigOpt,
    out: Annotated[Path, typer.Option("--out", help="The trace file to write.")],
) -> None:
    """Read back from the server every call the kernel made to each agent of
    bus.remote_agents, and its answer (each agent's latest kernel run), into one file."""
    import asyncio

    from tradeswarm.bus.factory import open_transport
    from tradeswarm.system.config import load_config
    from tradeswarm.system.trace import Trace, keyrings_for, record, save

    async def read() -> Trace:
        transport = open_transport(cfg.bus.transport())
        await transport.connect()
        try:
            return await record(transport, cfg.bus.remote_agents, keyrings_for(cfg))
        finally:
            await transport.close()

    with cli_errors():
        cfg = load_config(config)
        trace = asyncio.run(read())
        save(trace, out)
    calls = ", ".join(f"{c}: {len(steps)} calls" for c, steps in trace.channels.items())
    console.print(f"trace {out}: {calls}")


@trace_app.command()
def replay(
    trace_file: Annotated[Path, typer.Argument(help="A file `trace record` wrote.")],
    config: ConfigOpt,
    db: Annotated[str, typer.Option("--db", help=DB_HELP + " A new one.")],
) -> None:
    """Run the demo's day on a new store with each agent's answers from the trace (no
    server, no agent process) and tell its story: the same decisions and books as the
    traced day. Exit 2 at the first call the kernel makes differently from the trace."""
    import asyncio

    from tradeswarm.system.config import load_config
    from tradeswarm.system.trace import load
    from tradeswarm.system.trace import replay as run_replay

    with cli_errors():
        cfg = load_config(config)
        trace = load(trace_file)
        asyncio.run(run_replay(trace, cfg, db, echo))
