"""A burst of intent envelopes sorted into what each needs, before anything is decided.

For every envelope, as the one-at-a-time path would see it in its turn: the decision the
store (or an earlier envelope of the same burst) already holds for its intent id; a
replay of that very intent (it meets its decision again), or a decision of its own; the
principal its signature names, or why it names none; the id its decision will have and
whether that id is new. Signatures are checked through a `BurstVerifier`, one call per
burst: `VerifyBursts` (the risk manager's default) checks each burst root's signature
once (`crypto.EnvelopeVerifier`, every other check per envelope); `VerifyEach` checks
each envelope with `verify_envelope` on its own (the reference).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import msgspec

from tradeswarm.bus.topics import Role
from tradeswarm.core.ids import derived_id
from tradeswarm.crypto import KeyRegistry, SignatureInvalid, VerifiedSignature, verify_envelope
from tradeswarm.crypto.contexts import SigningPolicy
from tradeswarm.crypto.signing import EnvelopeVerifier
from tradeswarm.model.enums import DecisionKind
from tradeswarm.model.envelope import Envelope
from tradeswarm.model.messages import RiskDecision, TradeIntent
from tradeswarm.store import Store

Verified = VerifiedSignature | SignatureInvalid


class BurstVerifier(Protocol):
    """Checks the signatures of a burst of envelopes: per envelope, who signed it or why
    its signature is refused."""

    def __call__(self, envs: Sequence[Envelope]) -> list[Verified]: ...


class VerifyBursts:
    """`EnvelopeVerifier.verify_many`: each envelope's verdict as `verify_envelope` gives
    it, each burst root's signature checked once (the verified roots remembered, least
    recently used forgotten first)."""

    def __init__(self, registry: KeyRegistry, policy: SigningPolicy | None) -> None:
        self._verifier = EnvelopeVerifier(registry, policy)

    def __call__(self, envs: Sequence[Envelope]) -> list[Verified]:
        return self._verifier.verify_many(envs)


class VerifyEach:
    """The verifier of one envelope at a time (`verify_envelope`, in the policy's
    algorithm)."""

    def __init__(self, registry: KeyRegistry, policy: SigningPolicy | None) -> None:
        self.registry = registry
        self.policy = policy

    def __call__(self, envs: Sequence[Envelope]) -> list[Verified]:
        out: list[Verified] = []
        for env in envs:
            try:
                out.append(verify_envelope(env, self.registry, self.policy))
            except SignatureInvalid as err:
                out.append(err)
        return out


def principal_of(env: Envelope, verified: Verified) -> tuple[str, str | None]:
    """(the trading agent whose valid signature env carries, None), or ("", why not) /
    (name, why not) when the signature, the sender's role or the body's agent_id fail."""
    if isinstance(verified, SignatureInvalid):
        return "", f"identity: the intent's envelope from {env.sender} is refused: {verified}"
    if verified.role != str(Role.TRADER):
        return "", f"identity: {verified.principal} is not a trading agent"
    intent = env.payload
    assert isinstance(intent, TradeIntent)
    if intent.agent_id != verified.name:
        return verified.name, (
            f"identity: the intent names agent {intent.agent_id!r} but is signed by "
            f"{verified.name!r}; an agent trades only under its own name"
        )
    return verified.name, None


def conflict_reason(intent: TradeIntent, known: RiskDecision) -> str:
    return (
        f"intent_id_reused: intent {intent.intent_id} was already decided "
        f"({known.verdict}) and this one differs from it"
    )


@dataclass
class Row:
    """One envelope of the burst. known: the decision already held for its intent id (in
    the store); earlier: else the index of the row of this burst that decides that id
    first. A replay meets that decision; any other row gets a decision of its own,
    refused (a DENY before the gate) when its signature, or its reuse of an intent id,
    refuses it."""

    env: Envelope
    intent: TradeIntent
    replay: bool
    known: RiskDecision | None = None
    earlier: int | None = None
    principal: str = ""
    refused: str | None = None
    conflict: bool = False
    decision_id: uuid.UUID | None = None
    recorded: bool = False  # its decision id is new in the store
    decision: RiskDecision | None = None  # set once decided (a replay: what it meets)


def classify(
    envs: Sequence[Envelope], store: Store, verify: BurstVerifier, now_ns: int
) -> list[Row]:
    """The burst's rows, each as the one-at-a-time path finds it in its turn."""
    intents = [_intent(env) for env in envs]
    stored = store.get_decisions_for_intents([i.intent_id for i in intents])
    first: dict[uuid.UUID, int] = {}
    rows: list[Row] = []
    for env, intent in zip(envs, intents, strict=True):
        known = stored.get(intent.intent_id)
        earlier = first.get(intent.intent_id) if known is None else None
        body = known.intent if known is not None else None
        if earlier is not None:
            body = rows[earlier].intent
        rows.append(Row(env, intent, replay=body == intent, known=known, earlier=earlier))
        if body is None:
            first[intent.intent_id] = len(rows) - 1
    _sign_in(rows, verify)
    _key(rows, store, now_ns)
    return rows


def _intent(env: Envelope) -> TradeIntent:
    assert isinstance(env.payload, TradeIntent)
    return env.payload


def _sign_in(rows: list[Row], verify: BurstVerifier) -> None:
    deciding = [r for r in rows if not r.replay]
    for row, verified in zip(deciding, verify([r.env for r in deciding]), strict=True):
        row.principal, row.refused = principal_of(row.env, verified)
        row.conflict = row.known is not None or row.earlier is not None
        if row.refused is None and row.known is not None:
            row.refused = conflict_reason(row.intent, row.known)


def _key(rows: list[Row], store: Store, now_ns: int) -> None:
    for row in rows:
        if row.replay:
            continue
        intent_id = str(row.intent.intent_id)
        if row.conflict:
            row.decision_id = derived_id(
                now_ns, "decision", intent_id, "conflict", str(row.env.msg_id)
            )
        else:
            row.decision_id = derived_id(now_ns, "decision", intent_id, "initial")
    ids = [r.decision_id for r in rows if r.decision_id is not None]
    taken = store.decision_ids_stored(ids)
    for row in rows:
        if row.decision_id is not None:
            row.recorded = row.decision_id not in taken
            taken.add(row.decision_id)


def rekeyed(decision: RiskDecision, row: Row) -> RiskDecision:
    """A second decision on one intent id: its own id and kind."""
    assert row.decision_id is not None
    return msgspec.structs.replace(
        decision, decision_id=row.decision_id, phase=DecisionKind.CONFLICT
    )
