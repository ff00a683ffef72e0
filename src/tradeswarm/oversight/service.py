"""What a human does, from the CLI or in process: answer oversight requests, stop and
resume trading, each as an envelope the human signs.

Nothing here changes the swarm's state. Each function checks what it can (a request is
pending and not timed out; only a human may decide or resume), builds the message, signs
the envelope with the human's own key (and an oversight answer's `HumanApproval` too, a
detached signature the risk manager and the auditor check) and puts it in the store's
inbox. The swarm takes it from there through its VerifyingGate, which logs it, and its
agents apply it in the same unit of work: the tables never say what the log does not.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from typing import Any

from tradeswarm.bus.identity import Identity
from tradeswarm.bus.topics import KILLSWITCH, OVERSIGHT_DECISIONS, RESUME, Topic
from tradeswarm.core.clock import iso
from tradeswarm.core.errors import AccessDenied, InvalidInput
from tradeswarm.core.ids import derived_id
from tradeswarm.crypto import Signer, sign_bytes, sign_envelope
from tradeswarm.model.enums import MessageIntent, OversightStatus
from tradeswarm.model.envelope import Envelope, encode_envelope
from tradeswarm.model.messages import (
    HUMAN_DECISION_CONTEXT,
    AnyMessage,
    HumanApproval,
    KillSwitchActivated,
    OversightDecided,
    TradingResumed,
)
from tradeswarm.store import OversightRecord, Store


def _require_human(who: Identity, act: str) -> None:
    if not who.is_human:
        raise AccessDenied(f"{who} may not {act}: only a human identity may")


def find_request(store: Store, request_id: str) -> OversightRecord:
    """Look a request up by full id or unique prefix; name the id when it is unknown."""
    try:
        record = store.find_oversight(request_id)
    except ValueError as err:
        raise InvalidInput("request_id", request_id, str(err)) from err
    if record is None:
        raise InvalidInput("request_id", request_id, "no such oversight request")
    return record


def human_envelope(
    payload: AnyMessage,
    topic: Topic[Any],
    who: Identity,
    now_ns: int,
    signer: Signer,
    key: str,
    nonce: bytes | None = None,
) -> Envelope:
    """payload in an envelope from who, signed by signer. nonce: random unless given (the
    demo's scripted human derives it, for a reproducible log)."""
    msg_id = derived_id(now_ns, topic.name, who.name, key)
    env = Envelope(
        msg_id=msg_id,
        type=type(payload).__name__,
        topic=topic.name,
        correlation_id=msg_id,
        causation_id=None,
        ttl_ms=topic.ttl_ms,
        sender=str(who),
        intent=MessageIntent.COMMAND,
        idempotency_key=key,
        ts_ns=now_ns,
        nonce=nonce if nonce is not None else os.urandom(16),
        payload=payload,
    )
    return sign_envelope(env, signer)


def derived_nonce(key: str) -> bytes:
    """A reproducible nonce for an in-process human (never for one across processes)."""
    return hashlib.sha256(key.encode()).digest()[:16]


def answer_request(
    store: Store,
    request_id: str,
    who: Identity,
    approve: bool,
    note: str,
    now_ns: int,
    *,
    signer: Signer,
    nonce: bytes | None = None,
) -> Envelope:
    """A human's signed answer to a pending request; InvalidInput (nothing queued) for a
    request that is unknown, decided or timed out."""
    _require_human(who, "decide oversight requests")
    record = find_request(store, request_id)
    rid = record.request.request_id
    if record.status is not OversightStatus.PENDING:
        raise InvalidInput("request_id", str(rid), f"already {record.status} by {record.approver}")
    if now_ns >= record.request.timeout_ns:
        raise InvalidInput(
            "request_id",
            str(rid),
            f"timed out at {iso(record.request.timeout_ns)}; it is auto-denied",
        )
    status = OversightStatus.APPROVED if approve else OversightStatus.DENIED
    answer = HumanApproval(
        request_id=rid, approver=who.name, approved=approve, decided_ns=now_ns, notes=note
    )
    decided = OversightDecided(
        request_id=rid,
        intent_id=record.request.intent.intent_id,
        status=status,
        approver=who.name,
        notes=note,
        decided_ns=now_ns,
        human_signature=sign_bytes(HUMAN_DECISION_CONTEXT, answer.signing_bytes(), signer),
    )
    key = f"{rid}:{status}"
    return human_envelope(decided, OVERSIGHT_DECISIONS, who, now_ns, signer, key, nonce)


def stop_trading(
    who: Identity, reason: str, now_ns: int, *, signer: Signer, nonce: bytes | None = None
) -> Envelope:
    """A signed kill-switch activation. Any identity may stop trading."""
    command = KillSwitchActivated(reason=reason, triggered_by=str(who), ts_event=now_ns)
    return human_envelope(command, KILLSWITCH, who, now_ns, signer, f"stop:{now_ns}", nonce)


def resume_trading(
    who: Identity, now_ns: int, *, signer: Signer, nonce: bytes | None = None
) -> Envelope:
    """A signed resume; human-only."""
    _require_human(who, "resume trading")
    command = TradingResumed(resumed_by=str(who), ts_event=now_ns)
    return human_envelope(command, RESUME, who, now_ns, signer, f"resume:{now_ns}", nonce)


def submit(store: Store, env: Envelope) -> int:
    """Hand a signed envelope to the swarm: its inbox, drained through its VerifyingGate
    at the start of its next unit of work. Returns its place in the queue."""
    return store.put_inbox(encode_envelope(env), env.ts_ns)


def request_uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError as err:
        raise InvalidInput("request_id", value, "not a UUID") from err
