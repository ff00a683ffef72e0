"""Burst-signed envelopes for tests: a sender's intents, their burst signature block, and
the block rewritten the way an attacker would rewrite it."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

from tradeswarm.crypto import (
    AgentIdentity,
    Algorithm,
    BurstBlock,
    KeyRegistry,
    RejectReason,
    Signer,
    SigningPolicy,
    decode_signature,
    sign_burst,
)
from tradeswarm.crypto.burst import BURST_VERSION, burst_leaf, statement_bytes
from tradeswarm.crypto.contexts import NON_REPUDIABLE
from tradeswarm.crypto.merkle import tree_paths
from tradeswarm.model.envelope import Envelope
from tradeswarm.testkit import T0, make_decision, make_envelope, make_intent, make_oversight_request

SEED = b"burst-test-seed-0123456789"
INTENTS_TOPIC = "trading.intent.created"


def identity(name: str = "trading-agent-01", role: str = "trading-agent") -> AgentIdentity:
    return AgentIdentity.from_seed(name, role, SEED, created_ns=0)


def intents(
    n: int, sender: str = "trading-agent:trading-agent-01", ts: int = T0, first: int = 0
) -> list[Envelope]:
    """n unsigned intent envelopes from sender at ts, ids first, first + 1, ..."""
    agent = sender.split(":", 1)[1]
    out = []
    for i in range(first, first + n):
        intent = make_intent(intent_id=uuid.UUID(int=i + 1), agent_id=agent, ts_event=ts)
        out.append(
            make_envelope(
                intent,
                topic=INTENTS_TOPIC,
                sender=sender,
                ts_ns=ts,
                msg_id=uuid.UUID(int=10_000 + i),
                idempotency_key=f"k{i}",
                nonce=(i + 1).to_bytes(16, "big"),
            )
        )
    return out


def block_of(env: Envelope) -> BurstBlock:
    block = decode_signature(env.signature or b"")
    assert isinstance(block, BurstBlock), block
    return block


def reblocked(env: Envelope, **changes: Any) -> Envelope:
    """env with fields of its burst block replaced (and re-encoded), nothing else."""
    block = msgspec.structs.replace(block_of(env), **changes)
    return msgspec.structs.replace(env, signature=msgspec.msgpack.encode(block))


def with_block_of(env: Envelope, donor: Envelope) -> Envelope:
    """env carrying donor's whole signature slot."""
    return msgspec.structs.replace(env, signature=donor.signature)


def sign_burst_unchecked(envs: Sequence[Envelope], signer: Signer, sender: str) -> list[Envelope]:
    """What someone holding signer's key can build by hand: a burst of any envelopes,
    its statement naming sender (sign_burst refuses a burst of several senders)."""
    root, paths = tree_paths([burst_leaf(e) for e in envs])
    head = BurstBlock(
        version=BURST_VERSION,
        alg=str(signer.algorithm),
        key_id=signer.key_id,
        sig=b"",
        root=root,
        size=len(envs),
        index=0,
        path=[],
        types=sorted({e.type for e in envs}),
        first_ns=min(e.ts_ns for e in envs),
        last_ns=max(e.ts_ns for e in envs),
    )
    sig = signer.sign(statement_bytes(sender, head))
    return [
        msgspec.structs.replace(
            env,
            signature=msgspec.msgpack.encode(
                msgspec.structs.replace(head, sig=sig, index=i, path=paths[i])
            ),
        )
        for i, env in enumerate(envs)
    ]


# -- the attacks: each makes one envelope to present, refused with one reason ------------


@dataclass
class Scene:
    """What an attacker works with: a sender's bursts, another registered identity's
    envelopes, and the registry the verifier will judge them against."""

    sender: AgentIdentity
    other: AgentIdentity
    registry: KeyRegistry
    ts: int  # the time the members claim
    members: Callable[[int, int], list[Envelope]]  # n unsigned envelopes, numbered from first
    other_type: Callable[[], Envelope]  # unsigned, the sender's, of another type
    foreign: Callable[[], Envelope]  # unsigned, the other identity's
    alter: Callable[[Envelope], Envelope]  # the envelope with its payload changed

    def burst(self, n: int = 4, first: int = 0, signer: Signer | None = None) -> list[Envelope]:
        return sign_burst(self.members(n, first), signer or self.sender.ed25519)


@dataclass(frozen=True)
class Attack:
    """forge(scene) is what the attacker presents; the verifier judges it under policy,
    after change(scene) has changed the registry (a rotation, a revocation)."""

    name: str
    forge: Callable[[Scene], Envelope]
    reason: RejectReason
    policy: SigningPolicy = field(default_factory=SigningPolicy)
    change: Callable[[Scene], None] | None = None

    def __str__(self) -> str:
        return self.name


def _altered_member(s: Scene) -> Envelope:
    return s.alter(s.burst()[2])


def _paths_swapped(s: Scene) -> Envelope:
    burst = s.burst()
    return reblocked(burst[1], path=block_of(burst[2]).path)


def _index_and_path_swapped(s: Scene) -> Envelope:
    burst, donor = s.burst(), block_of(s.burst()[2])
    return reblocked(burst[1], index=donor.index, path=donor.path)


def _moved_to_another_root(s: Scene) -> Envelope:
    mine, theirs = s.burst(), s.burst(4, first=100)
    return with_block_of(mine[1], theirs[1])


def _signed_by_another_identity(s: Scene) -> Envelope:
    return s.burst(signer=s.other.ed25519)[0]


def _rotate(s: Scene) -> None:
    fresh = AgentIdentity.from_seed(s.sender.name, s.sender.role, b"rotated-" + SEED, s.ts)
    s.registry.rotate(s.sender.name, fresh.public_keys(s.ts), at_ns=s.ts)


def _revoke(s: Scene) -> None:
    s.registry.revoke(s.sender.name, at_ns=s.ts)


def _reused_for_another_sender(s: Scene) -> Envelope:
    return with_block_of(s.foreign(), s.burst()[0])


def _reused_for_another_type(s: Scene) -> Envelope:
    return with_block_of(s.other_type(), s.burst()[0])


def _reused_with_its_type_added(s: Scene) -> Envelope:
    env, donor = s.other_type(), s.burst()[0]
    added = reblocked(donor, types=sorted({*block_of(donor).types, env.type}))
    return with_block_of(env, added)


def _types_rewritten(s: Scene) -> Envelope:
    env = s.burst()[0]
    return reblocked(env, types=sorted({*block_of(env).types, s.other_type().type}))


def _truncated_path(s: Scene) -> Envelope:
    env = s.burst()[1]
    return reblocked(env, path=block_of(env).path[:-1])


def _extended_path(s: Scene) -> Envelope:
    env = s.burst()[1]
    return reblocked(env, path=[*block_of(env).path, bytes(32)])


def _wrong_size(s: Scene) -> Envelope:
    env = s.burst(5)[1]
    return reblocked(env, size=4)


def _wrong_index(s: Scene) -> Envelope:
    env = s.burst()[1]
    return reblocked(env, index=0)


def _span_widened(s: Scene) -> Envelope:
    env = s.burst()[1]
    return reblocked(env, last_ns=block_of(env).last_ns + 1)


def _forged_member(s: Scene) -> Envelope:
    """A new envelope, never signed, carrying a genuine member's block."""
    return with_block_of(s.members(1, 50)[0], s.burst()[1])


def _foreign_leaf_in_a_signed_tree(s: Scene) -> Envelope:
    """The sender's key signs a tree holding an envelope that claims the other identity."""
    envs = [*s.members(2, 0), s.foreign()]
    return sign_burst_unchecked(envs, s.sender.ed25519, s.sender.principal)[2]


def _foreign_leaf_signed_in_its_name(s: Scene) -> Envelope:
    """The same, the statement naming the other identity as the burst's sender."""
    envs = [*s.members(2, 0), s.foreign()]
    return sign_burst_unchecked(envs, s.sender.ed25519, s.other.principal)[2]


def _root_signature_from_another_key(s: Scene) -> Envelope:
    """The statement, unchanged, signed by another identity's key: the block still names
    the sender's key."""
    env = s.burst()[1]
    return reblocked(
        env, sig=s.other.ed25519.sign(statement_bytes(s.sender.principal, block_of(env)))
    )


def _root_signature_of_another_burst(s: Scene) -> Envelope:
    """The sender's own, genuine root signature of another burst, replayed on this root."""
    return reblocked(s.burst()[1], sig=block_of(s.burst(4, first=100)[1]).sig)


def _a_burst_of_one(s: Scene) -> Envelope:
    return reblocked(s.burst(2)[0], size=1)


def _fine(s: Scene) -> Envelope:
    return s.burst()[1]


ATTACKS = [
    Attack("altered_member", _altered_member, RejectReason.BAD_PROOF),
    Attack("paths_swapped", _paths_swapped, RejectReason.BAD_PROOF),
    Attack("index_and_path_swapped", _index_and_path_swapped, RejectReason.BAD_PROOF),
    Attack("moved_to_another_root", _moved_to_another_root, RejectReason.BAD_PROOF),
    Attack("signed_by_another_identity", _signed_by_another_identity, RejectReason.WRONG_SENDER),
    Attack("signed_by_a_retired_key", _fine, RejectReason.RETIRED, change=_rotate),
    Attack("signed_by_a_revoked_key", _fine, RejectReason.REVOKED, change=_revoke),
    Attack("reused_for_another_sender", _reused_for_another_sender, RejectReason.WRONG_SENDER),
    Attack("reused_for_another_type", _reused_for_another_type, RejectReason.WRONG_CONTEXT),
    Attack("reused_with_its_type_added", _reused_with_its_type_added, RejectReason.BAD_PROOF),
    Attack("types_rewritten", _types_rewritten, RejectReason.BAD_SIGNATURE),
    Attack("truncated_path", _truncated_path, RejectReason.BAD_PROOF),
    Attack("extended_path", _extended_path, RejectReason.BAD_PROOF),
    Attack("wrong_size", _wrong_size, RejectReason.BAD_PROOF),
    Attack("wrong_index", _wrong_index, RejectReason.BAD_PROOF),
    Attack("span_widened", _span_widened, RejectReason.BAD_SIGNATURE),
    Attack("forged_member", _forged_member, RejectReason.BAD_PROOF),
    Attack(
        "foreign_leaf_in_a_signed_tree", _foreign_leaf_in_a_signed_tree, RejectReason.WRONG_SENDER
    ),
    Attack(
        "foreign_leaf_signed_in_its_name",
        _foreign_leaf_signed_in_its_name,
        RejectReason.WRONG_SENDER,
    ),
    Attack(
        "root_signature_from_another_key",
        _root_signature_from_another_key,
        RejectReason.BAD_SIGNATURE,
    ),
    Attack(
        "root_signature_of_another_burst",
        _root_signature_of_another_burst,
        RejectReason.BAD_SIGNATURE,
    ),
    Attack("a_burst_of_one", _a_burst_of_one, RejectReason.MALFORMED),
    Attack(
        "below_the_policys_algorithm",
        _fine,
        RejectReason.WRONG_ALGORITHM,
        policy=SigningPolicy(algorithms=dict.fromkeys(NON_REPUDIABLE, Algorithm.MLDSA87)),
    ),
    Attack(
        "a_type_the_policy_signs_per_message",
        _fine,
        RejectReason.NOT_BURSTABLE,
        policy=SigningPolicy(per_message_types=NON_REPUDIABLE),
    ),
]


def _scene_envelope(payload: Any, topic: str, who: AgentIdentity, n: int, ts: int) -> Envelope:
    return make_envelope(
        payload,
        topic=topic,
        sender=who.principal,
        ts_ns=ts,
        msg_id=uuid.UUID(int=20_000 + n),
        idempotency_key=f"{topic}:{n}",
        nonce=(20_000 + n).to_bytes(16, "big"),
    )


def _alter_reasons(env: Envelope) -> Envelope:
    payload = msgspec.structs.replace(env.payload, reasons=["forged"])
    return msgspec.structs.replace(env, payload=payload)


def risk_scene(sender: AgentIdentity, other: AgentIdentity, ts: int = T0) -> Scene:
    """The risk manager's decisions as bursts; its oversight requests as its other type;
    a trader's intents as another identity's envelopes."""

    def decisions(n: int, first: int) -> list[Envelope]:
        return [
            _scene_envelope(
                make_decision(
                    decision_id=uuid.UUID(int=30_000 + i),
                    intent=make_intent(intent_id=uuid.UUID(int=40_000 + i), ts_event=ts),
                ),
                "trading.risk.decision",
                sender,
                i,
                ts,
            )
            for i in range(first, first + n)
        ]

    def request() -> Envelope:
        payload = make_oversight_request(created_ns=ts)
        return _scene_envelope(payload, "oversight.requested", sender, 900, ts)

    def intent() -> Envelope:
        payload = make_intent(intent_id=uuid.UUID(int=901), agent_id=other.name, ts_event=ts)
        return _scene_envelope(payload, INTENTS_TOPIC, other, 901, ts)

    registry = KeyRegistry([sender.public(), other.public()])
    return Scene(sender, other, registry, ts, decisions, request, intent, _alter_reasons)
