"""The swarm's charter in the log: the registry, the signing policy, the opening cash and
the kill switch's quorum rule, signed with the log's own key.

A verifier pins the log's keys (its trust state, or explicit flags) and nothing else: the
charter entries, signed by those keys, tell it which public keys may sign which envelopes
and which message types must be signed in which algorithm, so neither the registry nor
the policy is taken from the store being checked. `AuditLog.record_charter` appends a new
charter whenever one of them differs from the last one logged.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal

import msgspec

from tradeswarm.core.ids import derived_id
from tradeswarm.crypto import (
    Algorithm,
    KeyRegistry,
    SignatureInvalid,
    Signer,
    sign_envelope,
    verify_envelope,
)
from tradeswarm.crypto.contexts import SigningPolicy
from tradeswarm.crypto.identity import PublicIdentity, PublicKey
from tradeswarm.crypto.keys import key_id_of, signing_algorithm
from tradeswarm.model.enums import MessageIntent
from tradeswarm.model.envelope import Envelope
from tradeswarm.model.killswitch import DEFAULT_QUORUM, KillSwitchQuorum
from tradeswarm.model.messages import SwarmCharter
from tradeswarm.store import Store

CHARTER_TOPIC = "audit.charter"
CHARTER_TYPE = "SwarmCharter"
LOG_ROLE_NAME = "audit-log"


def make_charter(
    registry: KeyRegistry,
    policy: SigningPolicy,
    initial_cash: Decimal,
    ts_ns: int,
    killswitch: KillSwitchQuorum = DEFAULT_QUORUM,
) -> SwarmCharter:
    """The charter of a swarm; killswitch: its quorum rule, left out when the default."""
    return SwarmCharter(
        registry=registry.to_json().decode(),
        signed_types=sorted(policy.signed_types),
        default_algorithm=str(policy.default_algorithm),
        algorithms={k: str(v) for k, v in sorted(policy.algorithms.items())},
        initial_cash=initial_cash,
        ts_event=ts_ns,
        per_message_types=sorted(policy.per_message_types),
        killswitch=None if killswitch.is_default else killswitch,
    )


def _terms(charter: SwarmCharter) -> tuple[object, ...]:
    terms: tuple[object, ...] = (
        charter.registry,
        charter.signed_types,
        charter.default_algorithm,
        charter.algorithms,
        charter.initial_cash,
    )
    # only when set: a charter without per-message types or a quorum keeps its digest
    # (and msg_id)
    if charter.per_message_types:
        terms = (*terms, charter.per_message_types)
    if charter.killswitch is not None:
        terms = (*terms, {"killswitch": charter.killswitch})
    return terms


def charter_envelope(charter: SwarmCharter, sender: str, signer: Signer) -> Envelope:
    """The charter as a log entry from sender (``audit-log:NAME``), signed by signer."""
    digest = hashlib.sha256(msgspec.json.encode(_terms(charter))).hexdigest()
    msg_id = derived_id(charter.ts_event, CHARTER_TOPIC, sender, digest)
    env = Envelope(
        msg_id=msg_id,
        type=CHARTER_TYPE,
        topic=CHARTER_TOPIC,
        correlation_id=msg_id,
        causation_id=None,
        ttl_ms=0,
        sender=sender,
        intent=MessageIntent.EVENT,
        idempotency_key=digest,
        ts_ns=charter.ts_event,
        nonce=hashlib.sha256(msg_id.bytes).digest()[:16],
        payload=charter,
    )
    return sign_envelope(env, signer)


def policy_of(charter: SwarmCharter) -> SigningPolicy:
    """The signing policy a charter records."""
    return SigningPolicy(
        signed_types=frozenset(charter.signed_types),
        default_algorithm=signing_algorithm(charter.default_algorithm, "charter"),
        algorithms={k: signing_algorithm(v, "charter") for k, v in charter.algorithms.items()},
        per_message_types=frozenset(charter.per_message_types),
    )


def quorum_of(charter: SwarmCharter) -> KillSwitchQuorum:
    """The kill switch's quorum rule a charter records (the default when it records none)."""
    return charter.killswitch if charter.killswitch is not None else DEFAULT_QUORUM


def registry_of_charter(charter: SwarmCharter) -> KeyRegistry:
    return KeyRegistry.from_json(charter.registry, "the charter's registry")


def needs_recording(last: Envelope | None, charter: SwarmCharter) -> bool:
    """Whether charter differs from the last one logged (or none is)."""
    if last is None or not isinstance(last.payload, SwarmCharter):
        return True
    return _terms(last.payload) != _terms(charter)


def log_key_registry(sender_name: str, public_keys: list[tuple[str, bytes]]) -> KeyRegistry:
    """A registry holding only the log's own (trusted) keys under the charter's sender, to
    verify charter signatures with: [(algorithm, raw public key), ...]."""
    keys = tuple(
        PublicKey(key_id=key_id_of(pub), algorithm=Algorithm(alg), public_key=pub, valid_from_ns=0)
        for alg, pub in public_keys
    )
    identity = PublicIdentity(name=sender_name, role=LOG_ROLE_NAME, keys=keys, valid_from_ns=0)
    return KeyRegistry([identity])


def check_charter(env: Envelope, public_keys: list[tuple[str, bytes]]) -> str | None:
    """Why env is not a charter signed by one of the trusted log keys (None if it is)."""
    role, _, name = env.sender.partition(":")
    if role != LOG_ROLE_NAME or not isinstance(env.payload, SwarmCharter):
        return f"a charter must come from the audit log, not {env.sender}"
    try:
        verify_envelope(env, log_key_registry(name, public_keys))
    except SignatureInvalid as err:
        return f"charter signature: {err} (not signed by a trusted log key)"
    except Exception as err:  # a malformed registry name or key
        return f"charter signature: {err}"
    return None


def latest_charter(store: Store) -> SwarmCharter | None:
    """The newest charter the store's log holds (as the store says: for a CLI's
    convenience checks, not for verification, which takes charters from the log it
    checked against trusted keys)."""
    env = store.last_event_of_type(CHARTER_TYPE)
    return env.payload if env is not None and isinstance(env.payload, SwarmCharter) else None
