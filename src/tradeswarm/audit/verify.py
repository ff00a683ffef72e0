"""Re-verify the whole log, or show the chain of events behind one order."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any

import msgspec

from tradeswarm.model.envelope import Envelope, decode_envelope
from tradeswarm.model.messages import FillReceived, OrderUpdated
from tradeswarm.model.portfolio import Position
from tradeswarm.store import Store

GENESIS = bytes(32)


class VerifyReport(msgspec.Struct, kw_only=True):
    entries: int = 0
    problems: list[str] = []

    @property
    def ok(self) -> bool:
        return not self.problems


def _check_row(row: Any, prev: bytes, report: VerifyReport) -> Envelope | None:
    where = f"event #{row.seq}"
    leaf = hashlib.sha256(b"\x00" + row.body).digest()
    if leaf != row.leaf_hash:
        report.problems.append(f"{where}: body does not match its leaf hash (altered entry)")
    if hashlib.sha256(prev + row.leaf_hash).digest() != row.chain_hash:
        report.problems.append(f"{where}: chain hash broken (entry deleted, inserted or reordered)")
    try:
        env = decode_envelope(row.body)
    except msgspec.DecodeError as err:
        report.problems.append(f"{where}: body is not a valid envelope: {err}")
        return None
    columns = (row.msg_id, row.type, row.ts_ns)
    if columns != (str(env.msg_id), env.type, env.ts_ns):
        report.problems.append(f"{where}: indexed columns differ from the envelope body")
    return env


class LogScan(msgspec.Struct, kw_only=True):
    """One pass over the log: the report, the decoded envelopes with their seqs, and every
    entry's leaf hash recomputed from its body."""

    report: VerifyReport
    envelopes: list[Envelope]
    seqs: list[int]
    leaves: list[bytes]


def scan_log(store: Store) -> LogScan:
    """Check every entry's hashes and columns, keeping what later checks need."""
    scan = LogScan(report=VerifyReport(), envelopes=[], seqs=[], leaves=[])
    prev = GENESIS
    for row in store.iter_events():
        scan.report.entries += 1
        scan.leaves.append(hashlib.sha256(b"\x00" + row.body).digest())
        env = _check_row(row, prev, scan.report)
        if env is not None:
            scan.envelopes.append(env)
            scan.seqs.append(row.seq)
        prev = row.chain_hash
    return scan


def verify_log(store: Store) -> tuple[VerifyReport, list[Envelope]]:
    """Check every entry's hashes and columns; return the decoded envelopes in order."""
    scan = scan_log(store)
    return scan.report, scan.envelopes


def _project(envelopes: list[Envelope]) -> tuple[dict[str, OrderUpdated], dict[str, FillReceived]]:
    orders: dict[str, OrderUpdated] = {}
    fills: dict[str, FillReceived] = {}
    for env in envelopes:
        if isinstance(env.payload, OrderUpdated):
            orders[env.payload.client_order_id] = env.payload
        elif isinstance(env.payload, FillReceived):
            fills[env.payload.fill_id] = env.payload
    return orders, fills


def _compare_orders(store: Store, implied: dict[str, OrderUpdated], report: VerifyReport) -> None:
    table = {o.client_order_id: o for o in store.list_orders()}
    for cid in sorted(set(table) | set(implied)):
        have, want = table.get(cid), implied.get(cid)
        if have is None or want is None:
            side = "orders table" if have is None else "log"
            report.problems.append(f"order {cid}: missing from the {side}")
        elif (have.state, have.filled_qty) != (want.state, want.filled_qty):
            report.problems.append(
                f"order {cid}: table says {have.state}/{have.filled_qty}, "
                f"log says {want.state}/{want.filled_qty}"
            )


def _compare_fills(store: Store, implied: dict[str, FillReceived], report: VerifyReport) -> None:
    table = {f.fill_id: f for f in store.list_trades()}
    for fid in sorted(set(table) | set(implied)):
        have, want = table.get(fid), implied.get(fid)
        if have is None or want is None:
            side = "trades table" if have is None else "log"
            report.problems.append(f"fill {fid}: missing from the {side}")
        elif (have.quantity, have.price, have.fee, have.side) != (
            want.quantity,
            want.price,
            want.fee,
            want.side,
        ):
            report.problems.append(f"fill {fid}: trades table differs from the log")


def _compare_positions(store: Store, fills: dict[str, FillReceived], report: VerifyReport) -> None:
    implied: dict[str, Position] = {}
    for f in sorted(fills.values(), key=lambda f: (f.ts_event, f.fill_id)):
        pos = implied.get(f.symbol, Position(symbol=f.symbol))
        implied[f.symbol] = pos.apply(f.side, f.quantity, f.price)
    want = {s: p.quantity for s, p in implied.items() if p.quantity != 0}
    have = {s: p.quantity for s, p in store.get_positions().items() if p.quantity != 0}
    if want != have:
        report.problems.append(f"positions table {have} differs from the log's {want}")
    spent = sum((f.quantity * f.price * f.side.sign + f.fee for f in fills.values()), Decimal(0))
    initial = store.get_initial_cash()
    if initial is not None and store.get_cash() != initial - spent:
        report.problems.append(f"cash {store.get_cash()} differs from the log's {initial - spent}")


def verify_books(store: Store, envelopes: list[Envelope], report: VerifyReport) -> None:
    """The orders, trades and positions tables (and the cash) against the log."""
    orders, fills = _project(envelopes)
    _compare_orders(store, orders, report)
    _compare_fills(store, fills, report)
    _compare_positions(store, fills, report)


def verify_all(store: Store) -> tuple[VerifyReport, list[Envelope]]:
    """The whole log, then the orders, trades and positions tables against it."""
    report, envelopes = verify_log(store)
    verify_books(store, envelopes, report)
    return report, envelopes
