"""`tradeswarm`: demo, backtest, paper, data, status, oversight, kill switch, audit, bench.

Command modules import what a command needs inside the command: `tradeswarm --help` (and
every command) then pays only for its own imports, not the whole swarm's (scipy, pandas,
TA-Lib, SQLAlchemy)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer

from tradeswarm.cli.agents import agents_app
from tradeswarm.cli.audit import audit_app
from tradeswarm.cli.backtest import backtest as backtest_command
from tradeswarm.cli.backtest import paper as paper_command
from tradeswarm.cli.bench import bench_app
from tradeswarm.cli.bus import bus_app
from tradeswarm.cli.common import DB_HELP, cli_errors, console, echo, existing_store
from tradeswarm.cli.data import data_app
from tradeswarm.cli.oversight import killswitch_app, oversight_app
from tradeswarm.cli.policy import policy_app
from tradeswarm.cli.processes import health as health_command
from tradeswarm.cli.processes import run as run_command
from tradeswarm.cli.processes import up as up_command
from tradeswarm.cli.trace import trace_app

app = typer.Typer(
    help="Governed, autonomous trading agents: a deterministic risk gate, human oversight, "
    "one broker holder, paper trading by default, and an append-only log.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(oversight_app, name="oversight")
app.add_typer(agents_app, name="agents")
app.add_typer(killswitch_app, name="killswitch")
app.add_typer(audit_app, name="audit")
app.add_typer(bench_app, name="bench")
app.add_typer(bus_app, name="bus")
app.add_typer(policy_app, name="policy")
app.add_typer(data_app, name="data")
app.add_typer(trace_app, name="trace")
app.command("backtest")(backtest_command)
app.command("paper")(paper_command)
app.command("run")(run_command)
app.command("up")(up_command)
app.command("health")(health_command)

DbOption = Annotated[str, typer.Option("--db", help=DB_HELP)]


@app.command()
def demo(
    db: Annotated[
        str,
        typer.Option(
            "--db",
            help="Store: a SQLite file or postgresql://user@host:port/db; rerun on it to resume.",
        ),
    ] = ":memory:",
    config: Annotated[
        Path | None, typer.Option("--config", help="A SwarmConfig TOML file.")
    ] = None,
    until: Annotated[str | None, typer.Option("--until", help="Stop at HH:MM sim time.")] = None,
) -> None:
    """Replay a trading day of real market data through the five agents and tell the story."""
    from tradeswarm.system.config import load_config
    from tradeswarm.system.demo import demo as run_demo

    with cli_errors():
        run_demo(db, load_config(config), echo, until)


@app.command()
def status(
    db: DbOption,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Orders, fills, positions, duplicate client order ids, and reconciliation with the broker."""
    import asyncio

    from tradeswarm.brokers.paper import PaperBroker
    from tradeswarm.brokers.paper_config import PaperBrokerConfig
    from tradeswarm.brokers.paper_state import books_exist
    from tradeswarm.core.clock import LiveClock
    from tradeswarm.core.dburl import shown
    from tradeswarm.system.status import swarm_status
    from tradeswarm.system.swarm import broker_path_for

    with existing_store(db) as store, cli_errors():
        broker_db = broker_path_for(db)
        if not books_exist(broker_db):
            console.print(f"[red]error:[/] broker books {shown(broker_db)} not found")
            raise typer.Exit(2)
        reader = PaperBrokerConfig(initial_cash=Decimal(0), symbols=["-"])  # opens existing books
        broker = PaperBroker(LiveClock(), reader, broker_db)
        try:
            report = asyncio.run(swarm_status(store, broker))
        finally:
            broker.close()
    if as_json:
        console.print_json(json.dumps(report))
        return
    for key, value in report.items():
        console.print(f"{key:<28} {value}")


if __name__ == "__main__":
    app()
