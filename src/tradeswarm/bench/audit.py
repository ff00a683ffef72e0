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
from tradeswarm.model.enums import MessageIntent, OrderType, Side, TimeInForce
from tradeswarm.model.envelope import Envelope, encode_envelope
from tradeswarm.model.messages import TradeIntent
from tradeswarm.store import Store

START = 1_700_000_000 * 1_000_000_000
PROOF_SAMPLES = 500


def _envelope(n: int) -> Envelope:
    ts = START + n * 1_000
    msg_id = derived_id(ts, "bench-audit", str(n))
    intent = TradeIntent(
        intent_id=derived_id(ts, "intent", str(n)),
        signal_id=None,
        agent_id="bench-trader",
        symbol="BENCH",
        side=Side.BUY,
        quantity=Decimal(1),
        order_type=OrderType.MARKET,
        time_in_force=TimeInForce.GTC,
        reference_price=Decimal(100),
        strategy="bench",
        rationale="synthetic",
        confidence=0.5,
        ts_event=ts,
    )
    return Envelope(
        msg_id=msg_id,
        type="TradeIntent",
        topic="trading.intents",
        correlation_id=msg_id,
        causation_id=None,
        ttl_ms=0,
        sender="trading-agent:bench-trader",
        intent=MessageIntent.EVENT,
        idempotency_key=str(n),
        ts_ns=ts,
        nonce=uuid.UUID(int=n).bytes,
        payload=intent,
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


def _pymerkle(path: Path, bodies: list[bytes], batch: int) -> tuple[float, Any]:
    tree = pymerkle.SqliteTree(str(path))
    tree.con.execute("PRAGMA journal_mode=WAL")
    tree.con.execute("PRAGMA synchronous=FULL")
    t0 = time.perf_counter()
    for i in range(0, len(bodies), batch):
        tree.append_entries(bodies[i : i + batch])
        tree.get_root()
    return time.perf_counter() - t0, tree


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


def run_audit_bench(entries: int = 50_000, batch: int = 5_000) -> dict[str, Any]:
    """Append `entries` envelopes in batches to both logs; measure proofs on the result."""
    if entries <= 0 or batch <= 0:
        raise ValueError(f"entries ({entries}) and batch ({batch}) must be > 0")
    envs = [_envelope(n) for n in range(entries)]
    bodies = [encode_envelope(e) for e in envs]
    with tempfile.TemporaryDirectory(prefix="tradeswarm-bench-audit-") as tmp:
        ours_s, log, store = _ours(Path(tmp) / "audit.sqlite", envs, batch)
        peer_s, tree = _pymerkle(Path(tmp) / "pymerkle.sqlite", bodies, batch)
        plain_s = _store_only(Path(tmp) / "events-only.sqlite", envs, batch)
        try:
            if log.tree.root(entries) != tree.get_root(entries):
                raise AssertionError("tradeswarm and pymerkle disagree on the RFC 9162 root")
            proofs = _proofs(log, tree, bodies, random.Random(7))
            checkpoints = store.audit.checkpoint_count()
        finally:
            store.close()
            tree.close()
    ours_rate, peer_rate = entries / ours_s, entries / peer_s
    return {
        "bench": "audit",
        "entries": entries,
        "batch": batch,
        "durable": "sqlite WAL, synchronous=FULL, one commit per batch",
        "checkpoints_signed": checkpoints,
        "checkpoint_signatures": "ed25519 + ml-dsa-87",
        "appends_per_sec": round(ours_rate),
        "pymerkle_appends_per_sec": round(peer_rate),
        "speedup_vs_pymerkle": round(ours_rate / peer_rate, 2),
        "event_log_only_appends_per_sec": round(entries / plain_s),
        "merkle_and_checkpoints_cost_pct": round(100 * (ours_s - plain_s) / plain_s, 1),
        **proofs,
        "roots_agree_with_pymerkle": True,
    }
