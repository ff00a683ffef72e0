"""`tradeswarm run SLOT` and `tradeswarm up`: the swarm as separate OS processes.

The kernel process (the demo's day: risk, execution, compliance, the desk, the log and
the one broker handle) calls each agent of `[bus] remote_agents` over the wire; `run`
is one such agent's process, `up` starts them all and the kernel, and supervises them."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tradeswarm.cli.common import DB_HELP, cli_errors, console, echo, err_console

if TYPE_CHECKING:
    from tradeswarm.system.config import SwarmConfig

ConfigArg = Annotated[
    Path, typer.Option("--config", help="The swarm's config: its bus section names the server.")
]


def run(
    slot: Annotated[
        str, typer.Argument(help="analyzer, trader or strategy:NAME (of bus.remote_agents).")
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
        int,
        typer.Option(
            help="Restarts in a row of one agent process (each crash within 60 s of its "
            "start) before the swarm stops."
        ),
    ] = 5,
) -> None:
    """Start the demo's swarm as separate processes: one per agent of
    bus.remote_agents (`tradeswarm run SLOT`) and the kernel (`tradeswarm demo`), which
    prints the day's story. An agent process that dies is restarted with backoff and
    rebuilt from the kernel's journal; SIGTERM or Ctrl-C stops every process. Prints
    each process's status at the end, on stderr; exits with the kernel's exit code."""
    import asyncio

    from tradeswarm.system.config import load_config
    from tradeswarm.system.supervisor import ChildSpec, Supervisor, format_status

    with cli_errors():
        cfg = load_config(config)
        _check_remote(cfg)  # a config error is one line now, not five restarts later
        if not cfg.bus.remote_agents:
            err_console.print(
                "[yellow]note:[/] bus.remote_agents is empty: the kernel runs every agent"
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
        supervisor = Supervisor(specs, logs, max_restarts=max_restarts, echo=echo)
        try:
            code = asyncio.run(supervisor.run())
        finally:
            err_console.print(format_status(supervisor.status()))
    raise typer.Exit(code)


def health(
    db: Annotated[str, typer.Option("--db", help=DB_HELP)],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """What the kernel saw of each agent in a process of its own, as of its last unit of
    work: calls, round trip p50/p99, processes seen (more than one: it was restarted),
    catch-ups, forged answers dropped, rebuilds, and how long ago it last answered."""
    import json
    import time

    from tradeswarm.cli.common import existing_store
    from tradeswarm.system.swarm import HEALTH_KEY

    with existing_store(db) as store:
        raw = store.get_meta(HEALTH_KEY)
    report: dict[str, Any] = json.loads(raw) if raw else {"updated_ns": 0, "agents": []}
    now = time.time_ns()
    report["age_s"] = round((now - report["updated_ns"]) / 1e9, 1) if report["updated_ns"] else None
    for agent in report["agents"]:
        last = agent["last_answer_ns"]
        agent["last_answer_age_s"] = round((now - last) / 1e9, 1) if last else None
    if as_json:
        console.print_json(json.dumps(report))
        return
    if not report["agents"]:
        console.print("no agent in a process of its own recorded here: the kernel ran them all")
        return
    console.print(f"as of the kernel's last unit of work, {report['age_s']} s ago:")
    heads = ("calls", "p50 ms", "p99 ms", "procs", "catch-ups", "forged")
    console.print(f"{'agent':<36} " + " ".join(f"{h:>9}" for h in heads))
    for a in report["agents"]:
        keys = ("calls", "round_trip_p50_ms", "round_trip_p99_ms", "processes_seen")
        cells = [str(a[k]) for k in (*keys, "catch_ups", "forged_answers_dropped")]
        console.print(f"{a['principal']:<36} " + " ".join(f"{c:>9}" for c in cells))


def _check_remote(cfg: SwarmConfig) -> None:
    """What `run` and the kernel would refuse about [bus] remote_agents, before any start."""
    from tradeswarm.core.errors import ConfigurationError
    from tradeswarm.system.role_calls import remote_slots

    if remote_slots(cfg) and cfg.bus.backend == "memory":
        raise ConfigurationError(
            "bus.backend",
            "memory",
            "agents in processes of their own need a server (nats or redis)",
        )
