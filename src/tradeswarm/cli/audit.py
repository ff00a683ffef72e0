"""`tradeswarm audit`: verify an order or the whole log, export an offline bundle, report.

Every verification trusts only its anchor (cli.trust): a trust state, explicit keys, the
demo's keys, or, announced, the checked store's own keys. Exit codes: 0 clean, 1 tampered
or divergent, 2 cannot run (no trust anchor, bad arguments, missing file).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tradeswarm.cli.common import (
    DB_HELP,
    EXIT_CANNOT_RUN,
    cli_errors,
    console,
    err_console,
    existing_store,
)
from tradeswarm.cli.trust import (
    DemoKeysOption,
    LogKeyOption,
    TofuOption,
    TrustOption,
    TrustSource,
    WitnessKeyOption,
)
from tradeswarm.core.clock import iso
from tradeswarm.core.dburl import shown

if TYPE_CHECKING:  # the audit modules load the store (SQLAlchemy): imported per command
    from tradeswarm.audit.keys import VerifierKey
    from tradeswarm.audit.order_check import FullCheck
    from tradeswarm.audit.witness import WitnessState
    from tradeswarm.crypto import KeyRegistry
    from tradeswarm.store import Store

audit_app = typer.Typer(help="Verify, export and report on the audit log.", no_args_is_help=True)


def _fail(message: str) -> typer.Exit:
    err_console.print(f"[red]error:[/] {message}")
    return typer.Exit(EXIT_CANNOT_RUN)


def _witness_state(db: str, given: Path | None) -> WitnessState | None:
    """The witness's state: what it says it cosigned (its keys are never trusted)."""
    from tradeswarm.audit.trust import TrustError, load_witness_state
    from tradeswarm.system.audit_wiring import witness_path_for

    path = given or witness_path_for(db)
    if path is None:
        return None
    if given is not None and not given.exists():
        raise _fail(f"--witness-state {given}: no such file")
    try:
        return load_witness_state(path)
    except TrustError as err:
        raise _fail(str(err)) from err


def _store_keys(store: Store) -> tuple[list[VerifierKey], list[VerifierKey]]:
    from tradeswarm.audit.keys import VerifierKey

    rows = store.audit.verifier_keys()
    return (
        [VerifierKey.parse(k.vkey) for k in rows if k.role == "log"],
        [VerifierKey.parse(k.vkey) for k in rows if k.role == "witness"],
    )


def _print_order(check: FullCheck, store: Store, order_id: str) -> bool:
    from tradeswarm.audit.order_check import check_order, decision_text

    entries = check_order(store, check, order_id)
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
    db: Annotated[str | None, typer.Option("--db", help=DB_HELP)] = None,
    order_id: Annotated[
        str | None, typer.Argument(help="Order id or client order id (prefix).")
    ] = None,
    all_: Annotated[
        bool, typer.Option("--all", help="Check the whole log and every table.")
    ] = False,
    bundle: Annotated[
        Path | None, typer.Option("--bundle", help="Verify an exported bundle, no database.")
    ] = None,
    trust_state: TrustOption = None,
    log_key: LogKeyOption = None,
    witness_key: WitnessKeyOption = None,
    demo_keys: DemoKeysOption = False,
    trust_on_first_use: TofuOption = False,
    witness_state: Annotated[
        Path | None,
        typer.Option(
            "--witness-state",
            help="What the witness cosigned (default DB.witness.json; for a URL store "
            "./.tradeswarm/HOST_PORT_DB.witness.json).",
        ),
    ] = None,
    registry: Annotated[
        Path | None,
        typer.Option("--registry", help="A public-key registry JSON to use instead of the log's."),
    ] = None,
) -> None:
    """Exit 0 clean, 1 tampered or divergent, 2 cannot run (no trust anchor, bad arguments)."""
    from tradeswarm.audit.order_check import check_all

    trust = TrustSource(trust_state, log_key, witness_key, demo_keys, trust_on_first_use)
    if bundle is not None:
        if db is not None or order_id is not None or all_:
            raise _fail("--bundle takes no --db, ORDER_ID or --all")
        raise typer.Exit(_verify_bundle(bundle, trust))
    if db is None:
        raise _fail("give --db DB (or --bundle FILE)")
    if (order_id is None) == (not all_):
        raise _fail("give ORDER_ID or --all (one of them)")
    with existing_store(db) as store, cli_errors():
        anchor = trust.anchor(_store_keys(store), f"the store {shown(db)}")
        keys = _registry(registry)
        check = check_all(store, anchor, _witness_state(db, witness_state), all_, keys)
        entries_ok = _print_order(check, store, order_id) if order_id else True
        for problem in check.problems:
            console.print(f"[red]✗[/] {problem}")
        _print_checkpoint(check)
        _print_bursts(check.walk.burst_signed, check.walk.roots_checked)
        ok = check.scan.report.ok and entries_ok
        latest = check.facts.latest
        if ok and latest is not None:
            note = trust.remember(anchor, latest.size, latest.root, check.facts.cosigned())
            if note:
                console.print(note)
    verdict = "clean" if ok else "TAMPERED OR DIVERGENT"
    checked = "hash chain, signatures, Merkle tree, checkpoints" + (
        " and every table" if all_ else ""
    )
    console.print(f"log: {check.scan.report.entries} entries, {checked}: {verdict}")
    raise typer.Exit(0 if ok else 1)


def _print_bursts(burst_signed: int, roots_checked: int) -> None:
    """How many entries were valid by their burst's root signature (none: no line)."""
    if burst_signed:
        console.print(
            f"signatures: {burst_signed} entries signed by a burst's Merkle root "
            f"({roots_checked} root signatures, each checked once)"
        )


def _registry(path: Path | None) -> KeyRegistry | None:
    from tradeswarm.crypto import KeyRegistry

    if path is None:
        return None
    if not path.exists():
        raise _fail(f"--registry {path}: no such file")
    return KeyRegistry.load(path)


def _verify_bundle(path: Path, trust: TrustSource) -> int:
    from tradeswarm.audit.bundle import bundle_keys, read_bundle, trust_after, verify_bundle
    from tradeswarm.audit.trust import default_trust_path, save_trust

    if not path.exists():
        raise _fail(f"--bundle {path}: no such file")
    try:
        b = read_bundle(path)
        own = bundle_keys(b)
    except ValueError as err:
        raise _fail(str(err)) from err
    trust.trust_state = trust.trust_state or default_trust_path(b.origin)
    anchor = trust.anchor(own, f"the bundle {path}")
    result = verify_bundle(b, anchor)
    for problem in result.problems:
        console.print(f"[red]✗[/] {problem}")
    _print_bursts(result.burst_signed, result.roots_checked)
    witnessed = ", ".join(result.witnessed) or "pending"
    console.print(
        f"bundle: {result.entries} entries, latest checkpoint {result.latest_size} "
        f"(keys from {result.key_source}; witnessed: {witnessed})"
    )
    if result.problems:
        console.print("bundle: TAMPERED OR DIVERGENT")
        return 1
    save_trust(trust.trust_state, trust_after(anchor, result))
    console.print(
        f"bundle: clean; trusted checkpoint now size {result.latest_size} ({trust.trust_state})"
    )
    return 0


@audit_app.command()
def export(
    db: Annotated[str, typer.Option("--db", help=DB_HELP)],
    out: Annotated[Path, typer.Option("--out", help="Bundle file to write (JSON).")],
) -> None:
    """Write a self-contained bundle: entries, proofs, checkpoints, public keys."""
    from tradeswarm.audit.bundle import export_bundle, write_bundle

    with existing_store(db) as store, cli_errors():
        bundle = export_bundle(store)
    if not bundle.checkpoints:
        raise _fail(f"--db {shown(db)}: the log has no checkpoint yet; nothing to prove")
    write_bundle(bundle, out)
    console.print(
        f"wrote {out}: {len(bundle.entries)} entries, {len(bundle.checkpoints)} checkpoints"
    )


@audit_app.command()
def report(
    db: Annotated[str, typer.Option("--db", help=DB_HELP)],
    date: Annotated[str, typer.Option("--date", help="The trading day, YYYY-MM-DD (UTC).")],
    out: Annotated[Path, typer.Option("--out", help="Report file to write.")],
    fmt: Annotated[str, typer.Option("--format", help="html or pdf.")] = "html",
    trust_state: TrustOption = None,
    log_key: LogKeyOption = None,
    witness_key: WitnessKeyOption = None,
    demo_keys: DemoKeysOption = False,
    trust_on_first_use: TofuOption = False,
) -> None:
    """The daily compliance summary, every integrity claim re-verified against the trust
    anchor. Exit 1 if the audit trail does not verify (the report is still written,
    saying so)."""
    from tradeswarm.audit.report import build_report, render_html, write_pdf

    if fmt not in ("html", "pdf"):
        raise _fail(f"--format {fmt!r}: use html or pdf")
    trust = TrustSource(trust_state, log_key, witness_key, demo_keys, trust_on_first_use)
    with existing_store(db) as store, cli_errors():
        anchor = trust.anchor(_store_keys(store), f"the store {shown(db)}")
        summary = build_report(store, date, anchor, _witness_state(db, None))
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
