"""`tradeswarm oversight …` and `tradeswarm killswitch …`: what only humans decide.

Decisions and kill-switch commands are signed with the human's own key: from a keystore
(`--keystore DIR`, passphrase in `--passphrase-env`), or, for the demo's stores only,
`--demo-key` (derived from the public demo seed: reproducible, protecting nothing).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from tradeswarm.bus.identity import Identity
from tradeswarm.bus.topics import Role
from tradeswarm.cli.common import cli_errors, console, existing_store
from tradeswarm.cli.human_key import (
    DemoKeyOption,
    KeystoreOption,
    PassEnvOption,
    human_key,
)
from tradeswarm.core.clock import iso
from tradeswarm.model.enums import OversightStatus

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


def _decide(
    db: Path,
    request_id: str,
    name: str,
    approve: bool,
    note: str,
    key: tuple[Path | None, str, bool],
) -> None:
    from tradeswarm.oversight.service import decide_request, find_request
    from tradeswarm.system.clockref import store_now_ns

    with existing_store(db) as store, cli_errors():
        who = Identity(name, Role.HUMAN)
        now = store_now_ns(store)
        find_request(store, request_id)  # a bad id is named before any key is asked for
        signer = human_key(store, who, now, *key)
        record = decide_request(store, request_id, who, approve, note, now, signer=signer)
    console.print(
        f"{record.status} {record.request.request_id} by {name}, signed with "
        f"{signer.algorithm} key {signer.key_id[:12]}…"
    )


@oversight_app.command()
def approve(
    request_id: str,
    name: AsOption,
    db: DbOption,
    note: Annotated[str, typer.Option(help="Why.")] = "",
    keystore: KeystoreOption = None,
    passphrase_env: PassEnvOption = "TRADESWARM_PASSPHRASE",
    demo_key: DemoKeyOption = False,
) -> None:
    """Approve a pending request (full id or unique prefix), signed with your key."""
    _decide(db, request_id, name, True, note, (keystore, passphrase_env, demo_key))


@oversight_app.command()
def deny(
    request_id: str,
    name: AsOption,
    db: DbOption,
    note: Annotated[str, typer.Option(help="Why.")] = "",
    keystore: KeystoreOption = None,
    passphrase_env: PassEnvOption = "TRADESWARM_PASSPHRASE",
    demo_key: DemoKeyOption = False,
) -> None:
    """Deny a pending request (full id or unique prefix), signed with your key."""
    _decide(db, request_id, name, False, note, (keystore, passphrase_env, demo_key))


@killswitch_app.command()
def activate(
    db: DbOption,
    name: AsOption,
    reason: Annotated[str, typer.Option(help="Why trading stops.")] = "manual",
    keystore: KeystoreOption = None,
    passphrase_env: PassEnvOption = "TRADESWARM_PASSPHRASE",
    demo_key: DemoKeyOption = False,
) -> None:
    """Stop trading: the execution agent cancels open orders and refuses new ones.

    Signed when a key is given; never blocked for want of one (stopping must always work)."""
    from tradeswarm.oversight.service import activate_killswitch
    from tradeswarm.system.clockref import store_now_ns

    with existing_store(db) as store, cli_errors():
        who = Identity(name, Role.HUMAN)
        now = store_now_ns(store)
        signing = keystore is not None or demo_key
        signer = human_key(store, who, now, keystore, passphrase_env, demo_key) if signing else None
        changed = activate_killswitch(store, who, reason, now, signer=signer)
    console.print("kill switch ACTIVE" if changed else "kill switch was already active")


@killswitch_app.command()
def resume(
    db: DbOption,
    name: AsOption,
    keystore: KeystoreOption = None,
    passphrase_env: PassEnvOption = "TRADESWARM_PASSPHRASE",
    demo_key: DemoKeyOption = False,
) -> None:
    """Resume trading (human only), signed with your key."""
    from tradeswarm.oversight.service import resume_trading
    from tradeswarm.system.clockref import store_now_ns

    with existing_store(db) as store, cli_errors():
        who = Identity(name, Role.HUMAN)
        now = store_now_ns(store)
        signer = human_key(store, who, now, keystore, passphrase_env, demo_key)
        changed = resume_trading(store, who, now, signer=signer)
    console.print("trading resumed" if changed else "kill switch was not active")
