"""One pass over the event log: every entry's leaf hash, hash-chain link and indexed
columns recomputed from its body."""

from __future__ import annotations

import hashlib
from typing import Any

import msgspec

from tradeswarm.crypto.merkle import hash_leaf
from tradeswarm.model.envelope import Envelope, decode_envelope
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
    leaf = hash_leaf(row.body)
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
        if row.seq != scan.report.entries:  # the tree indexes leaves by seq - 1
            scan.report.problems.append(
                f"event #{row.seq}: the {scan.report.entries}th entry (renumbered, or one "
                "deleted before it)"
            )
        scan.leaves.append(hash_leaf(row.body))
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
