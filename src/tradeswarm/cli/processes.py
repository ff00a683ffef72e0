"""`tradeswarm run SLOT` and `tradeswarm up`: the swarm as separate OS processes.

The kernel process (the demo's day: risk, execution, compliance, the desk, the log and
the one broker handle) calls each agent of `[bus] remote_agents` over the wire; `run`
is one such agent's process, `up` starts them all and the kernel, and supervises them."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from tradeswarm.cli.common import DB_HELP, cli_errors, console, err_console

ConfigArg = Annotated[
    Path, typer.Option("--config", help="The swarm's config: [bus] names the server.")
]


def run(
    slot: Annotated[
        str, typer.Argument(help="analyzer, trader or strategy:NAME (of [bus] remote_agents).")
    ],
    config: ConfigArg,
) -> None:
    """Run one agent in its own process: it answers the kernel's calls over the wire,
    signing what it publishes with its own key. Prints `ready ...` once connected; stops
    on SIGTERM or Ctrl-C. Exit 2 when the server is not there or the config is wrong."""
    import asyncio

    from tradeswarm.system.config import load_config
    from tradeswarm.system.role_process import serve_role

    with cli_errors():
        cfg = load_config(config)
        asyncio.run(serve_role(cfg, slot, lambda line: print(line, flush=True)))


def up(
    config: ConfigArg,
    db: Annotated[str, typer.Option("--db", help=DB_HELP + " Rerun on it to resume.")],
    until: Annotated[str | None, typer.Option("--until", help="Stop at HH:MM sim time.")] = None,
    logs: Annotated[
        Path, typer.Option("--logs", help="Each process's output goes to LOGS/NAME.log.")
    ] = Path(".tradeswarm/up"),
    max_restarts: Annotated[
        int, typer.Option(help="Restarts of one agent process before the swarm stops.")
    ] = 5,
) -> None:
    """Start the demo's swarm as separate processes: one per agent of [bus]
    remote_agents (`tradeswarm run SLOT`) and the kernel (`tradeswarm demo`), which
    prints the day's story. An agent process that dies is restarted with backoff and
    rebuilt from the kernel's journal; SIGTERM or Ctrl-C stops every process. Prints
    each process's status at the end, on stderr; exits with the kernel's exit code."""
    import asyncio

    from tradeswarm.system.config import load_config
    from tradeswarm.system.supervisor import ChildSpec, Supervisor, format_status

    with cli_errors():
        cfg = load_config(config)
        if not cfg.bus.remote_agents:
            err_console.print(
                "[yellow]note:[/] [bus] remote_agents is empty: the kernel runs every agent"
            )
        base = [sys.executable, "-m", "tradeswarm.cli.main"]
        specs = [
            ChildSpec(
                name=slot, argv=[*base, "run", slot, "--config", str(config)], ready_line="ready"
            )
            for slot in cfg.bus.remote_agents
        ]
        kernel = [*base, "demo", "--config", str(config), "--db", db]
        specs.append(
            ChildSpec(
                name="kernel",
                argv=kernel + ([] if until is None else ["--until", until]),
                main=True,
                restart=False,
            )
        )
        supervisor = Supervisor(specs, logs, max_restarts=max_restarts, echo=console.print)
        try:
            code = asyncio.run(supervisor.run())
        finally:
            err_console.print(format_status(supervisor.status()))
    raise typer.Exit(code)
