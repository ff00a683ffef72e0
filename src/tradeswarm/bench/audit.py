"""Audit-log benchmark: durable appends, inclusion proofs and their verification.

Ours: envelopes go through `AuditLog.append_events` into a SQLite file (WAL,
synchronous=FULL), one unit of work per batch: the event rows, the completed Merkle
nodes, and a checkpoint signed with Ed25519 and ML-DSA-87 whenever the default policy
says so (every 1,000 entries). Proofs are read from the stored nodes and checked with
`tradeswarm.audit.verify_inclusion`.

Also measured: the same appends into the event log alone (no tree, no checkpoints), so
the Merkle layer's own cost shows apart from the envelope log's.

Peer, same run, same entries (the envelopes' canonical bytes): pymerkle's `SqliteTree`
on a file with the same pragmas, `append_entries` per batch plus its root (what a
checkpoint needs), `prove_inclusion` and `pymerkle.verify_inclusion`. Its roots are
compared with ours: both follow RFC 9162, so they must agree.
"""

from __future__ import annotations

import os
import random
import statistics
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pymerkle

from tradeswarm.audit import verify_inclusion
from tradeswarm.audit.keys import derived_signer
from tradeswarm.audit.log import AuditLog, CheckpointPolicy
from tradeswarm.audit.merkle import hash_leaf
from tradeswarm.core.clock import SimClock
from tradeswarm.core.ids import derived_id
from tradeswarm.crypto import Algorithm
from tradeswarm.model.enums import MessageIntent, TimeInForce
from tradeswarm.model.envelope import Envelope, encode_envelope
from tradeswarm.store import Store
from tradeswarm.testkit import make_envelope, make_intent

START = 1_700_000_000 * 1_000_000_000
PROOF_SAMPLES = 500


def _envelope(n: int) -> Envelope:
    ts = START + n * 1_000
    msg_id = derived_id(ts, "bench-audit", str(n))
    intent = make_intent(
        intent_id=derived_id(ts, "intent", str(n)),
        agent_id="bench-trader",
        symbol="BENCH",
        quantity=Decimal(1),
        time_in_force=TimeInForce.GTC,
        reference_price=Decimal(100),
        strategy="bench",
        rationale="synthetic",
        ts_event=ts,
    )
    return make_envelope(
        intent,
        topic="trading.intents",
        sender="trading-agent:bench-trader",
        ts_ns=ts,
        msg_id=msg_id,
        ttl_ms=0,
        intent=MessageIntent.EVENT,
        idempotency_key=str(n),
        nonce=uuid.UUID(int=n).bytes,
    )


def _ours(path: Path, envs: list[Envelope], batch: int) -> tuple[float, AuditLog, Store]:
    store = Store.open(path)
    signers = [derived_signer(a, "bench") for a in (Algorithm.ED25519, Algorithm.MLDSA87)]
    log = AuditLog(store, SimClock(START), signers, CheckpointPolicy())
    t0 = time.perf_counter()
    for i in range(0, len(envs), batch):
        log.append_events(envs[i : i + batch])
    return time.perf_counter() - t0, log, store


def _store_only(path: Path, envs: list[Envelope], batch: int) -> float:
    """The same appends into the event log alone: what the Merkle tree adds is the rest."""
    with Store.open(path) as store:
        t0 = time.perf_counter()
        for i in range(0, len(envs), batch):
            store.append_events(envs[i : i + batch])
        return time.perf_counter() - t0


def _open_pymerkle(path: Path) -> Any:
    tree = pymerkle.SqliteTree(str(path))
    tree.con.execute("PRAGMA journal_mode=WAL")
    tree.con.execute("PRAGMA synchronous=FULL")
    return tree


def _pymerkle(path: Path, envs: list[Envelope], batch: int) -> tuple[float, Any]:
    """pymerkle as the log: the same envelopes, canonically encoded (as ours does), each
    batch appended in one transaction, then its root (what a checkpoint signs)."""
    tree = _open_pymerkle(path)
    t0 = time.perf_counter()
    for i in range(0, len(envs), batch):
        tree.append_entries([encode_envelope(e) for e in envs[i : i + batch]])
        tree.get_root()
    return time.perf_counter() - t0, tree


def _pymerkle_from_bytes(path: Path, bodies: list[bytes], batch: int) -> float:
    """pymerkle handed the encoded bytes (the encoding left out of its time only)."""
    tree = _open_pymerkle(path)
    try:
        t0 = time.perf_counter()
        for i in range(0, len(bodies), batch):
            tree.append_entries(bodies[i : i + batch])
            tree.get_root()
        return time.perf_counter() - t0
    finally:
        tree.close()


def _p50_us(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1e6, 1)


def _timed(fn: Any, *args: Any) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0


def _proofs(log: AuditLog, tree: Any, bodies: list[bytes], rng: random.Random) -> dict[str, float]:
    n = len(bodies)
    root = log.tree.root(n)
    ours, ours_v, peer, peer_v = [], [], [], []
    for _ in range(PROOF_SAMPLES):
        i = rng.randrange(n)
        proof, dt = _timed(log.tree.inclusion_proof, i, n)
        ours.append(dt)
        _, dt = _timed(verify_inclusion, hash_leaf(bodies[i]), i, n, proof, root)
        ours_v.append(dt)
        pproof, dt = _timed(tree.prove_inclusion, i + 1, n)
        peer.append(dt)
        _, dt = _timed(pymerkle.verify_inclusion, tree.get_leaf(i + 1), tree.get_root(n), pproof)
        peer_v.append(dt)
    return {
        "inclusion_proof_us_p50": _p50_us(ours),
        "verify_us_p50": _p50_us(ours_v),
        "pymerkle_inclusion_proof_us_p50": _p50_us(peer),
        "pymerkle_verify_us_p50": _p50_us(peer_v),
    }


OURS_STORES = (
    "per entry: canonical envelope bytes, leaf hash, chain hash, msg_id (16 bytes, unique "
    "index: appends idempotent), type, ts_ns; merkle nodes of even level; a checkpoint "
    "signed ed25519 + ml-dsa-87 per batch or 1,000 entries"
)
PYMERKLE_STORES = "per entry: canonical envelope bytes, leaf hash (pymerkle SqliteTree)"


class _Rounds:
    """Seconds per round for each contender; the median is reported (fsync times vary)."""

    def __init__(self) -> None:
        self.ours: list[float] = []
        self.peer: list[float] = []
        self.peer_bytes: list[float] = []
        self.plain: list[float] = []

    def rates(self, entries: int) -> dict[str, float]:
        med = statistics.median
        return {
            "ours": entries / med(self.ours),
            "peer": entries / med(self.peer),
            "peer_bytes": entries / med(self.peer_bytes),
            "plain": entries / med(self.plain),
        }


def _round(tmp: Path, k: int, envs: list[Envelope], batch: int, times: _Rounds) -> tuple[Any, ...]:
    """One round, each contender on a fresh file; returns the round's (log, store, tree)."""
    bodies = [encode_envelope(e) for e in envs]
    peer_s, tree = _pymerkle(tmp / f"pymerkle-{k}.sqlite", envs, batch)
    ours_s, log, store = _ours(tmp / f"audit-{k}.sqlite", envs, batch)
    times.peer.append(peer_s)
    times.ours.append(ours_s)
    times.peer_bytes.append(_pymerkle_from_bytes(tmp / f"pymerkle-b-{k}.sqlite", bodies, batch))
    times.plain.append(_store_only(tmp / f"events-only-{k}.sqlite", envs, batch))
    return log, store, tree


def run_audit_bench(entries: int = 50_000, batch: int = 5_000, rounds: int = 3) -> dict[str, Any]:
    """Append `entries` envelopes in batches to both logs, `rounds` times on fresh files
    (median rates); measure proofs on the last round's logs."""
    if entries <= 0 or batch <= 0 or rounds <= 0:
        raise ValueError(f"entries ({entries}), batch ({batch}), rounds ({rounds}) must be > 0")
    envs = [_envelope(n) for n in range(entries)]
    bodies = [encode_envelope(e) for e in envs]
    times = _Rounds()
    with tempfile.TemporaryDirectory(prefix="tradeswarm-bench-audit-") as tmp:
        for k in range(rounds):
            log, store, tree = _round(Path(tmp), k, envs, batch, times)
            try:
                if log.tree.root(entries) != tree.get_root(entries):
                    raise AssertionError("tradeswarm and pymerkle disagree on the RFC 9162 root")
                proofs = _proofs(log, tree, bodies, random.Random(7)) if k == rounds - 1 else {}
                checkpoints = store.audit.checkpoint_count()
            finally:
                store.close()
                tree.close()
    rate = times.rates(entries)
    return {
        "bench": "audit",
        "entries": entries,
        "batch": batch,
        "rounds": rounds,
        "loadavg_1m": os.getloadavg()[0],
        "durable": "sqlite WAL, synchronous=FULL, one commit per batch (both)",
        "input": "Envelope objects; each side encodes them canonically (same bytes)",
        "ours_stores": OURS_STORES,
        "pymerkle_stores": PYMERKLE_STORES,
        "checkpoints_signed": checkpoints,
        "checkpoint_signatures": "ed25519 + ml-dsa-87",
        "appends_per_sec": round(rate["ours"]),
        "pymerkle_appends_per_sec": round(rate["peer"]),
        "speedup_vs_pymerkle": round(rate["ours"] / rate["peer"], 2),
        "pymerkle_from_bytes_appends_per_sec": round(rate["peer_bytes"]),
        "speedup_vs_pymerkle_from_bytes": round(rate["ours"] / rate["peer_bytes"], 2),
        "event_log_only_appends_per_sec": round(rate["plain"]),
        "merkle_and_checkpoints_cost_pct": round(100 * (rate["plain"] / rate["ours"] - 1), 1),
        **proofs,
        "roots_agree_with_pymerkle": True,
    }
