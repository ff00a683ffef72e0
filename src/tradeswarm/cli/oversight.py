"""`tradeswarm oversight …` and `tradeswarm killswitch …`: what only humans decide.

Answers and kill-switch commands are envelopes signed with the human's own key (in the
algorithm the swarm's recorded signing policy asks for): from a keystore (`--keystore
DIR`, passphrase in `--passphrase-env`), or, for the demo's stores only, `--demo-key`
(derived from the public demo seed: reproducible, protecting nothing). The CLI changes
nothing itself: it puts the envelope in the swarm's inbox, and the swarm's VerifyingGate
checks and logs it when the swarm next runs a bar.

When the swarm's charter (the newest the store's log holds) asks for a quorum
(`[killswitch]`: approvers, activate_quorum, resume_quorum), `killswitch activate` and
`resume` say how many approvers' votes the command needs and which are already cast: a
human's command is a vote, and takes effect once enough distinct approvers agree.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tradeswarm.bus.identity import Identity
from tradeswarm.bus.topics import Role
from tradeswarm.cli.common import DB_HELP, cli_errors, console, existing_store
from tradeswarm.cli.human_key import (
    DemoKeyOption,
    KeystoreOption,
    PassEnvOption,
    human_key,
)
from tradeswarm.core.clock import iso
from tradeswarm.model.enums import OversightStatus

if TYPE_CHECKING:
    from tradeswarm.crypto import Signer
    from tradeswarm.store import Store

oversight_app = typer.Typer(help="Human oversight of high-value trades.", no_args_is_help=True)
killswitch_app = typer.Typer(help="Stop all trading; only a human resumes.", no_args_is_help=True)

DbOption = Annotated[str, typer.Option("--db", help=DB_HELP)]
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


def _queued(env_type: str, what: str, signer: Signer, place: int) -> None:
    console.print(
        f"{what}: a signed {env_type} ({signer.algorithm} key {signer.key_id[:12]}…) is in "
        f"the swarm's inbox (#{place}); its gate checks and logs it at the next bar"
    )


def _decide(
    db: str,
    request_id: str,
    name: str,
    approve: bool,
    note: str,
    key: tuple[Path | None, str, bool],
) -> None:
    from tradeswarm.oversight.service import answer_request, find_request, submit
    from tradeswarm.system.clockref import store_now_ns

    with existing_store(db) as store, cli_errors():
        who = Identity(name, Role.HUMAN)
        now = store_now_ns(store)
        record = find_request(store, request_id)  # a bad id is named before a key is asked for
        signer = human_key(store, who, now, *key, signs="OversightDecided")
        env = answer_request(store, request_id, who, approve, note, now, signer=signer)
        place = submit(store, env)
    verb = "APPROVED" if approve else "DENIED"
    _queued("OversightDecided", f"{verb} {record.request.request_id} by {name}", signer, place)


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


def _quorum_note(store: Store, name: str, activate: bool) -> str | None:
    """What the charter's quorum asks of this vote (None when any one human suffices)."""
    from tradeswarm.audit.charter import latest_charter, quorum_of
    from tradeswarm.system.killswitch import pending_votes

    charter = latest_charter(store)
    if charter is None:
        return None
    rule = quorum_of(charter)
    if rule.is_default:
        return None
    need, listed = rule.quorum(activate), ", ".join(rule.approvers) or "any human"
    if rule.approver_of(f"{Role.HUMAN}:{name}") is None:
        return f"quorum: {name} is not an approver ({listed}): this vote will change nothing"
    cast = pending_votes(store).of(activate)
    already = "" if name not in cast else f" ({name} has voted already: this changes nothing)"
    return (
        f"quorum: takes effect with {need} approvers' votes (of {listed}); "
        f"cast so far: {', '.join(cast) or 'none'}{already}"
    )


@killswitch_app.command()
def activate(
    db: DbOption,
    name: AsOption,
    reason: Annotated[str, typer.Option(help="Why trading stops.")] = "manual",
    keystore: KeystoreOption = None,
    passphrase_env: PassEnvOption = "TRADESWARM_PASSPHRASE",
    demo_key: DemoKeyOption = False,
) -> None:
    """Stop trading, signed with your key: at the next bar the swarm logs it, the risk
    manager denies every new trade and the execution agent cancels open orders."""
    from tradeswarm.oversight.service import stop_trading, submit
    from tradeswarm.system.clockref import store_now_ns

    with existing_store(db) as store, cli_errors():
        who = Identity(name, Role.HUMAN)
        now = store_now_ns(store)
        signer = human_key(
            store, who, now, keystore, passphrase_env, demo_key, signs="KillSwitchActivated"
        )
        place = submit(store, stop_trading(who, reason, now, signer=signer))
        note = _quorum_note(store, name, True)
    _queued("KillSwitchActivated", "kill switch", signer, place)
    if note is not None:
        console.print(note)


@killswitch_app.command()
def resume(
    db: DbOption,
    name: AsOption,
    keystore: KeystoreOption = None,
    passphrase_env: PassEnvOption = "TRADESWARM_PASSPHRASE",
    demo_key: DemoKeyOption = False,
) -> None:
    """Resume trading (human only), signed with your key."""
    from tradeswarm.oversight.service import resume_trading, submit
    from tradeswarm.system.clockref import store_now_ns

    with existing_store(db) as store, cli_errors():
        who = Identity(name, Role.HUMAN)
        now = store_now_ns(store)
        signer = human_key(
            store, who, now, keystore, passphrase_env, demo_key, signs="TradingResumed"
        )
        place = submit(store, resume_trading(who, now, signer=signer))
        note = _quorum_note(store, name, False)
    _queued("TradingResumed", "resume", signer, place)
    if note is not None:
        console.print(note)
