"""`tradeswarm audit verify`: the chain behind one order, or the whole log and books."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tradeswarm.audit.chain import order_chain
from tradeswarm.audit.verify import verify_all, verify_log
from tradeswarm.cli.common import console, err_console, existing_store
from tradeswarm.core.clock import iso

audit_app = typer.Typer(help="Verify the append-only log.", no_args_is_help=True)


@audit_app.command()
def verify(
    db: Annotated[Path, typer.Option("--db", help="The swarm's SQLite store.")],
    order_id: Annotated[
        str | None, typer.Argument(help="Order id or client order id (prefix).")
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Check the whole log and the books.")] = False,
) -> None:
    """Exit 0 clean, 1 tampered or divergent, 2 cannot run."""
    if (order_id is None) == (not all_):
        err_console.print("[red]error:[/] give ORDER_ID or --all (one of them)")
        raise typer.Exit(2)
    with existing_store(db) as store:
        report, envelopes = verify_all(store) if all_ else verify_log(store)
    if order_id:
        chain = order_chain(envelopes, order_id)
        if not chain:
            err_console.print(f"[red]error:[/] ORDER_ID={order_id!r}: no such order in the log")
            raise typer.Exit(2)
        for env in chain:
            console.print(f"{iso(env.ts_ns)}  {env.type:<18} {env.sender:<32} msg {env.msg_id}")
    for problem in report.problems:
        console.print(f"[red]✗[/] {problem}")
    verdict = "clean" if report.ok else "TAMPERED OR DIVERGENT"
    checked = "hash chain and books" if all_ else "hash chain"
    console.print(f"log: {report.entries} entries, {checked}: {verdict}")
    raise typer.Exit(0 if report.ok else 1)
