"""The swarm's audit log: its checkpoint keys, its witness, and the registry it records.

The demo's checkpoint keys (Ed25519 and ML-DSA-87) and its witness's key derive from a
public seed, like the demo identities: reproducible, protecting nothing. A swarm whose
identities come from a keystore signs checkpoints with its `audit-log` identity's keys and
cosigns with its `witness` identity (see `SwarmIdentities.audit_keys`); a witness run by
another party plugs in behind the same `Witness` protocol.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from tradeswarm.audit.demo_keys import (
    DEMO_LOG_NAME,
    DEMO_ORIGIN,
    DEMO_WITNESS,
    demo_log_signers,
    demo_witness_signer,
)
from tradeswarm.audit.keys import VerifierKey
from tradeswarm.audit.log import AuditLog, CheckpointPolicy
from tradeswarm.audit.witness import FileWitness, LocalWitness, Witness
from tradeswarm.bus.topics import Role
from tradeswarm.core.clock import NS_PER_SECOND, Clock
from tradeswarm.core.dburl import is_url, state_path
from tradeswarm.crypto import Signer
from tradeswarm.model.messages import SwarmCharter
from tradeswarm.store import Store

WITNESS_SUFFIX = ".witness.json"


class AuditKeys(NamedTuple):
    """The audit log's identity name, its checkpoint signers (Ed25519 and ML-DSA-87), and
    its witness's Ed25519 signer."""

    log_name: str
    log: list[Signer]
    witness: Signer


def witness_path_for(db: str | Path) -> Path | None:
    """The file witness keeps its state beside the store: DB -> DB.witness.json; for a
    store at a PostgreSQL URL, in a local directory: $TRADESWARM_STATE_DIR (default
    ./.tradeswarm)/HOST_PORT_DB.witness.json."""
    if is_url(db):
        return state_path(str(db), WITNESS_SUFFIX)
    return None if str(db) == ":memory:" else Path(f"{db}{WITNESS_SUFFIX}")


def file_witness(
    db: str | Path,
    clock: Clock,
    policy: CheckpointPolicy,
    signer: Signer,
    log_signers: list[Signer],
) -> Witness:
    """A witness keeping its state beside the store (in memory for a :memory: store)."""
    log_keys = [VerifierKey.for_signer(policy.origin, s) for s in log_signers]
    path = witness_path_for(db)

    def now_s() -> int:
        return clock.now_ns() // NS_PER_SECOND

    if path is None:
        return LocalWitness(DEMO_WITNESS, signer, policy.origin, log_keys, now_s)
    path.parent.mkdir(parents=True, exist_ok=True)
    return FileWitness(path, DEMO_WITNESS, signer, policy.origin, log_keys, now_s)


def build_audit_log(
    store: Store,
    clock: Clock,
    db: str | Path,
    charter: SwarmCharter,
    keys: AuditKeys | None = None,
    policy: CheckpointPolicy | None = None,
) -> AuditLog:
    """The audit log the bus appends to, its charter recorded (when it changed). keys:
    the swarm's keystore's audit-log and witness keys; None for the demo's public-seed
    keys. policy: when to checkpoint (default: the seed's, every 1,000 entries or five
    minutes of the clock's time)."""
    policy = policy or CheckpointPolicy(origin=DEMO_ORIGIN)
    keys = keys or AuditKeys(DEMO_LOG_NAME, demo_log_signers(), demo_witness_signer())
    witness = file_witness(db, clock, policy, keys.witness, keys.log)
    log = AuditLog(store, clock, keys.log, policy, [witness])
    log.catch_up()
    log.record_charter(charter, f"{Role.AUDIT_LOG}:{keys.log_name}")
    return log
