"""The swarm's audit log: its checkpoint keys, its witness, and the registry it records.

The demo's checkpoint keys (Ed25519 and ML-DSA-87) and its witness's key derive from a
public seed, like the demo identities: reproducible, protecting nothing. A swarm whose
identities come from a keystore signs checkpoints with its `audit-log` identity's keys and
cosigns with its `witness` identity (see `SwarmIdentities.audit_keys`); a witness run by
another party plugs in behind the same `Witness` protocol.
"""

from __future__ import annotations

from pathlib import Path

from tradeswarm.audit.keys import VerifierKey, derived_signer
from tradeswarm.audit.log import AuditLog, CheckpointPolicy
from tradeswarm.audit.order_check import REGISTRY_META_KEY
from tradeswarm.audit.witness import FileWitness, LocalWitness, Witness
from tradeswarm.core.clock import NS_PER_SECOND, Clock
from tradeswarm.crypto import Algorithm, KeyRegistry, Signer
from tradeswarm.store import Store

DEMO_ORIGIN = "tradeswarm.local/log"
DEMO_WITNESS = "witness.tradeswarm.local/w1"
DEMO_SEED = "tradeswarm demo audit keys (public, not secret)"


def witness_path_for(db: str | Path) -> Path | None:
    """The file witness keeps its state beside the store: DB -> DB.witness.json."""
    return None if str(db) == ":memory:" else Path(f"{db}.witness.json")


def demo_log_signers() -> list[Signer]:
    return [derived_signer(a, DEMO_SEED, "log") for a in (Algorithm.ED25519, Algorithm.MLDSA87)]


def demo_witness_signer() -> Signer:
    return derived_signer(Algorithm.ED25519, DEMO_SEED, "witness")


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
    return FileWitness(path, DEMO_WITNESS, signer, policy.origin, log_keys, now_s)


def build_audit_log(
    store: Store,
    clock: Clock,
    db: str | Path,
    registry: KeyRegistry,
    keys: tuple[list[Signer], Signer] | None = None,
) -> AuditLog:
    """The audit log the bus appends to. keys: (checkpoint signers, witness signer) from
    the swarm's keystore; None for the demo's public-seed keys."""
    policy = CheckpointPolicy(origin=DEMO_ORIGIN)
    log_signers, witness_signer = keys or (demo_log_signers(), demo_witness_signer())
    store.set_meta(REGISTRY_META_KEY, registry.to_json().decode())
    witness = file_witness(db, clock, policy, witness_signer, log_signers)
    log = AuditLog(store, clock, log_signers, policy, [witness])
    log.catch_up()
    return log
