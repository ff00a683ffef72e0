"""Signing for tests that drive agents on a bus: the demo's public-seed identities, a bus
that signs what they publish, and the registry verifiers check against.

The risk manager takes an intent's principal from the envelope's signature, so a test
that publishes intents needs its trader's envelopes signed, exactly as in a swarm.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from tradeswarm.bus.identity import Identity
from tradeswarm.bus.inproc import EnvelopeSink, InProcessBus
from tradeswarm.bus.signing import BusSigning
from tradeswarm.bus.topics import Role
from tradeswarm.core.clock import Clock
from tradeswarm.crypto.contexts import SigningPolicy
from tradeswarm.crypto.identity import AgentIdentity
from tradeswarm.crypto.provision import demo_identities
from tradeswarm.crypto.registry import KeyRegistry
from tradeswarm.model.envelope import Envelope
from tradeswarm.model.messages import EnvelopeRejected

#: Who the agent-room tests publish as.
TRADER = Identity("trading-agent-01", Role.TRADER)
RISK = Identity("risk-manager-01", Role.RISK)
EXECUTION = Identity("order-executor-01", Role.EXECUTION)
COMPLIANCE = Identity("compliance-agent-01", Role.COMPLIANCE)
DESK = Identity("oversight-desk-01", Role.OVERSIGHT)
HUMAN = Identity("jane.doe@desk", Role.HUMAN)
MEMBERS = (TRADER, RISK, EXECUTION, COMPLIANCE, DESK, HUMAN)


def keys_for(members: Iterable[Identity] = MEMBERS) -> dict[str, AgentIdentity]:
    """The demo's public-seed identity of each member, by principal (role:name)."""
    made = demo_identities([(m.name, str(m.role)) for m in members])
    return {i.principal: i for i in made}


def signed_bus(
    clock: Clock,
    sink: EnvelopeSink | None = None,
    members: Iterable[Identity] = MEMBERS,
    policy: SigningPolicy | None = None,
) -> tuple[InProcessBus, KeyRegistry, dict[str, AgentIdentity]]:
    """A bus that signs the policy's types (default: every non-repudiable one) for each
    member; the registry of their public keys; their identities by principal."""
    identities = keys_for(members)
    registry = KeyRegistry(i.public() for i in identities.values())
    signing = BusSigning(policy or SigningPolicy(), identities.values())
    return InProcessBus(clock, sink=sink, signing=signing), registry, identities


class Recorder:
    """A bus sink that keeps what was logged, in order."""

    def __init__(self) -> None:
        self.logged: list[Envelope] = []

    def append_events(self, envs: Sequence[Envelope]) -> list[int | None]:
        self.logged.extend(envs)
        return [None] * len(envs)

    def rejections(self) -> list[EnvelopeRejected]:
        return [e.payload for e in self.logged if isinstance(e.payload, EnvelopeRejected)]
