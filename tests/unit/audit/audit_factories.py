"""Envelopes, keys and an audit log for the audit tests (imported by the test modules)."""

from __future__ import annotations

import hashlib
import uuid

from tradeswarm import testkit
from tradeswarm.audit.keys import VerifierKey, derived_signer
from tradeswarm.audit.log import AuditLog, CheckpointPolicy
from tradeswarm.audit.witness import LocalWitness
from tradeswarm.core.clock import NS_PER_SECOND, SimClock
from tradeswarm.crypto import Algorithm, Signer
from tradeswarm.model.enums import MessageIntent
from tradeswarm.model.envelope import Envelope
from tradeswarm.model.messages import KillSwitchActivated
from tradeswarm.store import Store

BASE_NS = 1_700_000_000 * NS_PER_SECOND
ORIGIN = "test.tradeswarm/log"


def make_envelope(n: int, tag: str = "") -> Envelope:
    msg_id = uuid.UUID(bytes=hashlib.sha256(f"{tag}{n}".encode()).digest()[:16])
    return testkit.make_envelope(
        KillSwitchActivated(reason=f"test {tag}{n}", triggered_by="ops", ts_event=BASE_NS),
        topic="control.kill",
        sender="risk:risk-gate",
        ts_ns=BASE_NS + n,
        msg_id=msg_id,
        ttl_ms=0,
        intent=MessageIntent.EVENT,
        idempotency_key=f"kill-{tag}{n}",
        nonce=n.to_bytes(8, "big"),
    )


def log_signers(tag: str = "log") -> list[Signer]:
    return [derived_signer(Algorithm.ED25519, tag), derived_signer(Algorithm.MLDSA87, tag)]


def log_keys(signers: list[Signer]) -> list[VerifierKey]:
    return [VerifierKey.for_signer(ORIGIN, s) for s in signers]


def make_witness(clock: SimClock, signers: list[Signer], name: str = "w1") -> LocalWitness:
    return LocalWitness(
        f"witness.test/{name}",
        derived_signer(Algorithm.ED25519, "witness", name),
        ORIGIN,
        log_keys(signers),
        lambda: clock.now_ns() // NS_PER_SECOND,
    )


def make_log(
    store: Store,
    clock: SimClock,
    every: int = 1_000_000,
    witnesses: list[LocalWitness] | None = None,
    signers: list[Signer] | None = None,
) -> AuditLog:
    policy = CheckpointPolicy(origin=ORIGIN, every_entries=every, every_ms=10**9)
    return AuditLog(store, clock, signers or log_signers(), policy, witnesses or [])
