"""`tradeswarm audit`: verify an order or the whole log, export an offline bundle, report.

Exit codes: 0 clean, 1 tampered or divergent, 2 cannot run (bad arguments, missing file).
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tradeswarm.cli.common import EXIT_CANNOT_RUN, cli_errors, console, err_console, existing_store
from tradeswarm.core.clock import iso

if TYPE_CHECKING:  # the audit modules load the store (SQLAlchemy): imported per command
    from tradeswarm.audit.order_check import FullCheck
    from tradeswarm.audit.trust import TrustState
    from tradeswarm.audit.witness import WitnessState
    from tradeswarm.store import Store

audit_app = typer.Typer(help="Verify, export and report on the audit log.", no_args_is_help=True)

TrustOption = Annotated[
    Path | None,
    typer.Option("--trust-state", help="The verifier's memory: pinned keys, last checkpoint."),
]


def _fail(message: str) -> typer.Exit:
    err_console.print(f"[red]error:[/] {message}")
    return typer.Exit(EXIT_CANNOT_RUN)


def _witness_state(db: Path, given: Path | None) -> WitnessState | None:
    from tradeswarm.audit.trust import TrustError, load_witness_state

    path = given or Path(f"{db}.witness.json")
    if given is not None and not given.exists():
        raise _fail(f"--witness-state {given}: no such file")
    try:
        return load_witness_state(path)
    except TrustError as err:
        raise _fail(str(err)) from err


def _trust(path: Path | None) -> TrustState | None:
    from tradeswarm.audit.trust import TrustError, load_trust

    if path is None:
        return None
    try:
        return load_trust(path)
    except TrustError as err:
        raise _fail(str(err)) from err


def remember(path: Path | None, check: FullCheck, store: Store) -> str:
    """After a clean check, pin the keys and move the trusted checkpoint forward."""
    from tradeswarm.audit.trust import TrustState, save_trust

    latest = check.facts.latest
    if path is None or latest is None:
        return ""
    keys = store.audit.verifier_keys()
    save_trust(
        path,
        TrustState(
            origin=latest.note.split("\n", 1)[0],
            log_keys=sorted(k.vkey for k in keys if k.role == "log"),
            witness_keys=sorted(k.vkey for k in keys if k.role == "witness"),
            size=latest.size,
            root=base64.b64encode(latest.root).decode(),
        ),
    )
    return f"trusted checkpoint now size {latest.size} ({path})"


def _print_order(store: Store, check: FullCheck, order_id: str, registry_file: Path | None) -> bool:
    from tradeswarm.audit.order_check import check_order, decision_text, registry_of

    registry = registry_of(store, registry_file)
    entries = check_order(store, check, order_id, registry)
    if entries is None:
        raise _fail(f"ORDER_ID={order_id!r}: no such order in the log")
    for e in entries:
        env = e.env
        console.print(f"{iso(env.ts_ns)}  {env.type:<18} {env.sender:<32} msg {env.msg_id}")
        mark = "✓" if e.ok else "[red]✗[/]"
        console.print(f"    {mark} signature     : {e.signature}")
        if e.human is not None:
            hmark = "✓" if e.human_ok else "[red]✗[/]"
            console.print(f"    {hmark} human signed  : {e.human}")
        decision = decision_text(env)
        if decision is not None:
            console.print(f"    ✓ authorization : {decision} at {iso(env.ts_ns)}")
        console.print(f"    {mark} merkle proof  : {e.inclusion}")
    return all(e.ok for e in entries)


def _print_checkpoint(check: FullCheck) -> None:
    from tradeswarm.audit.order_check import witness_text

    latest = check.facts.latest
    if latest is None:
        console.print("checkpoint: none yet (every entry pending)")
        return
    algs = check.facts.verified.get(latest.size) or ["NOT VERIFIED"]
    console.print(
        f"checkpoint {latest.size}: signatures valid ({', '.join(algs)}) under keys from "
        f"{check.facts.key_source}; {witness_text(check.facts, latest.size)}"
    )


@audit_app.command()
def verify(
    db: Annotated[Path | None, typer.Option("--db", help="The swarm's SQLite store.")] = None,
    order_id: Annotated[
        str | None, typer.Argument(help="Order id or client order id (prefix).")
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Check the whole log and the books.")] = False,
    bundle: Annotated[
        Path | None, typer.Option("--bundle", help="Verify an exported bundle, no database.")
    ] = None,
    trust_state: TrustOption = None,
    witness_state: Annotated[
        Path | None, typer.Option("--witness-state", help="Default: DB.witness.json if present.")
    ] = None,
    registry: Annotated[
        Path | None, typer.Option("--registry", help="Public-key registry JSON file.")
    ] = None,
) -> None:
    """Exit 0 clean, 1 tampered or divergent, 2 cannot run."""
    from tradeswarm.audit.order_check import check_all

    if bundle is not None:
        if db is not None or order_id is not None or all_:
            raise _fail("--bundle takes no --db, ORDER_ID or --all")
        raise typer.Exit(_verify_bundle(bundle, trust_state))
    if db is None:
        raise _fail("give --db DB (or --bundle FILE)")
    if (order_id is None) == (not all_):
        raise _fail("give ORDER_ID or --all (one of them)")
    trust = _trust(trust_state)
    with existing_store(db) as store, cli_errors():
        check = check_all(store, trust, _witness_state(db, witness_state), books=all_)
        entries_ok = _print_order(store, check, order_id, registry) if order_id else True
        for problem in check.problems:
            console.print(f"[red]✗[/] {problem}")
        _print_checkpoint(check)
        ok = check.scan.report.ok and entries_ok
        if ok:
            note = remember(trust_state, check, store)
            if note:
                console.print(note)
    verdict = "clean" if ok else "TAMPERED OR DIVERGENT"
    checked = "hash chain, Merkle tree, checkpoints" + (" and books" if all_ else "")
    console.print(f"log: {check.scan.report.entries} entries, {checked}: {verdict}")
    raise typer.Exit(0 if ok else 1)


def _verify_bundle(path: Path, trust_state: Path | None) -> int:
    from tradeswarm.audit.bundle import read_bundle, trust_after, verify_bundle
    from tradeswarm.audit.trust import default_trust_path, save_trust

    if not path.exists():
        raise _fail(f"--bundle {path}: no such file")
    try:
        b = read_bundle(path)
    except ValueError as err:
        raise _fail(str(err)) from err
    trust_path = trust_state or default_trust_path(b.origin)
    result = verify_bundle(b, _trust(trust_path))
    for problem in result.problems:
        console.print(f"[red]✗[/] {problem}")
    witnessed = ", ".join(result.witnessed) or "pending"
    console.print(
        f"bundle: {result.entries} entries, latest checkpoint {result.latest_size} "
        f"(keys from {result.key_source}; witnessed: {witnessed})"
    )
    if result.problems:
        console.print("bundle: TAMPERED OR DIVERGENT")
        return 1
    save_trust(trust_path, trust_after(b, result))
    console.print(f"bundle: clean; trusted checkpoint now size {result.latest_size} ({trust_path})")
    return 0


@audit_app.command()
def export(
    db: Annotated[Path, typer.Option("--db", help="The swarm's SQLite store.")],
    out: Annotated[Path, typer.Option("--out", help="Bundle file to write (JSON).")],
) -> None:
    """Write a self-contained bundle: entries, proofs, checkpoints, public keys."""
    from tradeswarm.audit.bundle import export_bundle, write_bundle

    with existing_store(db) as store, cli_errors():
        bundle = export_bundle(store)
    if not bundle.checkpoints:
        raise _fail(f"--db {db}: the log has no checkpoint yet; nothing to prove")
    write_bundle(bundle, out)
    console.print(
        f"wrote {out}: {len(bundle.entries)} entries, {len(bundle.checkpoints)} checkpoints"
    )


@audit_app.command()
def report(
    db: Annotated[Path, typer.Option("--db", help="The swarm's SQLite store.")],
    date: Annotated[str, typer.Option("--date", help="The trading day, YYYY-MM-DD (UTC).")],
    out: Annotated[Path, typer.Option("--out", help="Report file to write.")],
    fmt: Annotated[str, typer.Option("--format", help="html or pdf.")] = "html",
) -> None:
    """The daily compliance summary, every integrity claim re-verified. Exit 1 if the audit
    trail does not verify (the report is still written, saying so)."""
    from tradeswarm.audit.report import build_report, render_html, write_pdf

    if fmt not in ("html", "pdf"):
        raise _fail(f"--format {fmt!r}: use html or pdf")
    with existing_store(db) as store, cli_errors():
        summary = build_report(store, date, _witness_state(db, None))
    if fmt == "html":
        out.write_text(render_html(summary), encoding="utf-8")
    else:
        write_pdf(summary, out)
    verdict = "audit trail intact" if summary.clean else "AUDIT TRAIL FAILED VERIFICATION"
    console.print(
        f"wrote {out}: {summary.trades} trades, ${summary.volume:,.2f} volume, "
        f"{summary.signatures_valid}/{summary.signed_entries} signatures verified, "
        f"{summary.checkpoints} checkpoints; {verdict}"
    )
    raise typer.Exit(0 if summary.clean else 1)
