"""`tradeswarm oversight …` and `tradeswarm killswitch …`: what only humans decide."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from tradeswarm.bus.identity import Identity
from tradeswarm.bus.topics import Role
from tradeswarm.cli.common import cli_errors, console, existing_store
from tradeswarm.core.clock import iso
from tradeswarm.model.enums import OversightStatus
from tradeswarm.oversight.service import activate_killswitch, decide_request, resume_trading
from tradeswarm.system.clockref import store_now_ns

oversight_app = typer.Typer(help="Human oversight of high-value trades.", no_args_is_help=True)
killswitch_app = typer.Typer(help="Stop all trading; only a human resumes.", no_args_is_help=True)

DbOption = Annotated[Path, typer.Option("--db", help="The swarm's SQLite store.")]
AsOption = Annotated[str, typer.Option("--as", help="Your name; decisions are recorded under it.")]


@oversight_app.command("list")
def list_requests(
    db: DbOption,
    status: Annotated[OversightStatus | None, typer.Option(help="Only this status.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List oversight requests (all, or one status)."""
    with existing_store(db) as store:
        rows = [
            {
                "request_id": str(r.request.request_id),
                "status": str(r.status),
                "symbol": r.request.intent.symbol,
                "side": str(r.request.intent.side),
                "quantity": str(r.request.intent.quantity),
                "trade_amount": str(r.request.trade_amount),
                "created": iso(r.request.created_ns),
                "timeout": iso(r.request.timeout_ns),
                "approver": r.approver,
                "notes": r.notes,
            }
            for r in store.list_oversight(status)
        ]
    if as_json:
        console.print_json(json.dumps(rows))
        return
    if not rows:
        console.print("no oversight requests")
    for r in rows:
        console.print(
            f"{r['request_id']}  {r['status']:<8} {r['side']} {r['quantity']} {r['symbol']} "
            f"${r['trade_amount']}  created {r['created']}  timeout {r['timeout']}"
            + (f"  by {r['approver']}" if r["approver"] else "")
        )


def _decide(db: Path, request_id: str, name: str, approve: bool, note: str) -> None:
    with existing_store(db) as store, cli_errors():
        who = Identity(name, Role.HUMAN)
        record = decide_request(store, request_id, who, approve, note, store_now_ns(store))
    console.print(f"{record.status} {record.request.request_id} by {name}")


@oversight_app.command()
def approve(
    request_id: str,
    name: AsOption,
    db: DbOption,
    note: Annotated[str, typer.Option(help="Why.")] = "",
) -> None:
    """Approve a pending request (full id or unique prefix)."""
    _decide(db, request_id, name, True, note)


@oversight_app.command()
def deny(
    request_id: str,
    name: AsOption,
    db: DbOption,
    note: Annotated[str, typer.Option(help="Why.")] = "",
) -> None:
    """Deny a pending request (full id or unique prefix)."""
    _decide(db, request_id, name, False, note)


@killswitch_app.command()
def activate(
    db: DbOption,
    name: AsOption,
    reason: Annotated[str, typer.Option(help="Why trading stops.")] = "manual",
) -> None:
    """Stop trading: the execution agent cancels open orders and refuses new ones."""
    with existing_store(db) as store, cli_errors():
        changed = activate_killswitch(
            store, Identity(name, Role.HUMAN), reason, store_now_ns(store)
        )
    console.print("kill switch ACTIVE" if changed else "kill switch was already active")


@killswitch_app.command()
def resume(db: DbOption, name: AsOption) -> None:
    """Resume trading (human only)."""
    with existing_store(db) as store, cli_errors():
        changed = resume_trading(store, Identity(name, Role.HUMAN), store_now_ns(store))
    console.print("trading resumed" if changed else "kill switch was not active")
