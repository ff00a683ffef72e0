"""Every entry's signature, judged by the charter in force where the entry stands.

The walk goes through the log in order. A charter entry must be signed by one of the
anchor's log keys; it then says, for the entries after it, which public keys exist (the
registry) and which message types must be signed in which algorithm (the signing policy).
Every entry of a type the policy marks as non-repudiable must carry a valid signature by
a key of its sender, valid at its time, in the policy's algorithm, and its sender's role
must be allowed on its topic; an unsigned or foreign-signed one is tampering, as is any
signature that does not verify. A human's own signature on an oversight answer is held to
the same registry and algorithm. An explicit registry (`--registry FILE`) replaces the
charters' registries.

A burst-signed entry (`crypto.burst`) is a signed entry like any other: it must meet the
same key, sender and algorithm rules, be of a type the charter's policy lets a burst sign,
and its inclusion path must lead to a root its sender's key signed. The walk checks each
root's signature once (a `RootCache` over the whole walk) and counts the burst-signed
entries and the roots it checked. An envelope is logged once: an entry whose msg_id an
earlier entry holds is a replay (of a genuine signature or burst member), whatever its
signature says.
"""

from __future__ import annotations

import uuid
from typing import Any

import msgspec

from tradeswarm.audit.charter import (
    CHARTER_TOPIC,
    CHARTER_TYPE,
    check_charter,
    policy_of,
    registry_of_charter,
)
from tradeswarm.bus.topics import ALL_TOPICS, HUMAN_COMMANDS, REJECTIONS, Topic
from tradeswarm.crypto import (
    KeyRegistry,
    RootCache,
    SignatureInvalid,
    VerifiedSignature,
    verify_bytes,
    verify_envelope,
)
from tradeswarm.crypto.contexts import NON_REPUDIABLE, SigningPolicy
from tradeswarm.model.envelope import Envelope
from tradeswarm.model.messages import (
    HUMAN_DECISION_CONTEXT,
    OversightDecided,
    SwarmCharter,
)

_KNOWN: tuple[Topic[Any], ...] = (*ALL_TOPICS, REJECTIONS, *HUMAN_COMMANDS)
_TOPICS: dict[str, Topic[Any]] = {t.name: t for t in _KNOWN}


class Verdict(msgspec.Struct, kw_only=True):
    """One entry's signature verdict (text for people) and its human signature, if any."""

    text: str
    ok: bool
    human: str | None = None
    human_ok: bool = True
    burst: bool = False  # valid by its burst's root signature


class SignatureWalk(msgspec.Struct, kw_only=True):
    problems: list[str] = []
    verdicts: dict[int, Verdict] = {}  # by seq
    charters: list[SwarmCharter] = []
    registry: KeyRegistry | None = None  # the last one in force
    policy: SigningPolicy | None = None
    burst_signed: int = 0  # entries whose valid signature is their burst's root signature
    roots_checked: int = 0  # burst root signatures verified (each once)


def _acl_problem(env: Envelope) -> str | None:
    topic = _TOPICS.get(env.topic)
    if topic is None:
        return f"unknown topic {env.topic!r}"
    role = env.sender.split(":", 1)[0]
    if role not in {str(r) for r in topic.publishers}:
        return f"{env.sender} may not publish on {env.topic}"
    if type(env.payload).__name__ != env.type or not isinstance(env.payload, topic.message_type):
        return f"a {type(env.payload).__name__} body under type {env.type} on {env.topic}"
    return None


def human_verdict(
    decided: OversightDecided, registry: KeyRegistry | None, policy: SigningPolicy | None
) -> tuple[str, bool]:
    """The human's own signature on an oversight answer: ('valid ed25519, key … of
    human:…', True), or why not. An auto-denial carries none and needs none."""
    answer = decided.answer()
    if answer is None:
        return "none (auto-denied by the desk)", True
    if registry is None:
        return "not checked: no charter before it", False
    try:
        v = verify_bytes(
            HUMAN_DECISION_CONTEXT,
            answer.signing_bytes(),
            decided.human_signature,
            registry,
            principal=f"human:{decided.approver}",
            signed_ns=decided.decided_ns,
            min_algorithm=None if policy is None else policy.algorithm_for("OversightDecided"),
        )
    except SignatureInvalid as err:
        return f"INVALID ({err})", False
    return f"valid {v.algorithm}, key {v.key_id[:12]}… of {v.principal}", True


def _signed_text(v: VerifiedSignature) -> str:
    burst = "" if v.burst_size is None else f" (burst of {v.burst_size})"
    return f"valid {v.algorithm}{burst}, key {v.key_id[:12]}… of {v.principal}"


def _envelope_verdict(
    env: Envelope, registry: KeyRegistry | None, policy: SigningPolicy | None, roots: RootCache
) -> Verdict:
    acl = _acl_problem(env)  # signed or not: the body's type, the topic and the sender agree
    if acl is not None:
        return Verdict(text=f"INVALID ({acl})", ok=False)
    body = type(env.payload).__name__  # what the entry is, not what it says it is
    required = body in (policy.signed_types if policy is not None else NON_REPUDIABLE)
    if env.signature is None:
        if required:
            why = "the charter's signing policy" if policy is not None else "no charter yet"
            return Verdict(text=f"UNSIGNED, but {body} must be signed ({why})", ok=False)
        return Verdict(text="unsigned", ok=True)
    if registry is None:
        return Verdict(text="signed before any charter: no registry to check it", ok=False)
    try:
        v = verify_envelope(env, registry, policy if required else None, roots=roots)
    except SignatureInvalid as err:
        return Verdict(text=f"INVALID ({err})", ok=False)
    return Verdict(text=_signed_text(v), ok=True, burst=v.burst_size is not None)


def _charter(env: Envelope, walk: SignatureWalk, keys: list[tuple[str, bytes]]) -> Verdict:
    if env.topic != CHARTER_TOPIC:
        return Verdict(text=f"INVALID (a charter on topic {env.topic})", ok=False)
    why = check_charter(env, keys)
    if why is not None:
        return Verdict(text=f"INVALID ({why})", ok=False)
    charter = env.payload
    assert isinstance(charter, SwarmCharter)
    try:
        walk.policy, walk.registry = policy_of(charter), registry_of_charter(charter)
    except ValueError as err:
        return Verdict(text=f"INVALID (unreadable charter: {err})", ok=False)
    walk.charters.append(charter)
    return Verdict(text="valid charter, signed by a trusted log key", ok=True)


def walk_signatures(
    envelopes: list[Envelope],
    seqs: list[int],
    charter_keys: list[tuple[str, bytes]],
    registry: KeyRegistry | None = None,
) -> SignatureWalk:
    """Judge every entry's signature in log order; see the module docstring. registry:
    an explicit one, used instead of the charters'."""
    walk = SignatureWalk()
    roots = RootCache(max_roots=1 << 16)
    logged: dict[uuid.UUID, int] = {}  # msg_id -> the seq that first logged it
    for env, seq in zip(envelopes, seqs, strict=True):
        first = logged.setdefault(env.msg_id, seq)
        if first != seq:  # a genuine signature (its own, or its burst root's) replayed
            walk.problems.append(
                f"event #{seq} ({env.type}): msg_id {env.msg_id} replays event #{first}"
                " (an envelope is logged once)"
            )
        if env.type == CHARTER_TYPE:
            verdict = _charter(env, walk, charter_keys)
            if registry is not None:
                walk.registry = registry
        else:
            verdict = _envelope_verdict(env, registry or walk.registry, walk.policy, roots)
            walk.burst_signed += int(verdict.burst)
        if isinstance(env.payload, OversightDecided):
            verdict.human, verdict.human_ok = human_verdict(
                env.payload, registry or walk.registry, walk.policy
            )
        walk.verdicts[seq] = verdict
        if not verdict.ok:
            walk.problems.append(f"event #{seq} ({env.type}) signature: {verdict.text}")
    if not walk.charters:
        walk.problems.append("the log holds no charter signed by a trusted log key")
    walk.roots_checked = roots.checked
    return walk
