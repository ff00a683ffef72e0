"""The kernel's calls and its agents' answers sealed end to end (ML-KEM-768 + AES-256-GCM,
`crypto.sealing`): what crosses the server is a box only its two ends and the audit
log's key can open. A call is sealed to the agent's own KEM key (by name: another
agent of the same role cannot read it), an answer to the kernel's (the risk manager's,
whose keys the kernel holds); both also to the audit log's, so `trace record` can read a
day back. The box's topic is `rpc.<channel>.call` or `.answer`, its sender the sealing
end's principal: a box moved to another channel or direction, or sealed by anyone but
the other end, does not open (`SealError`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from tradeswarm.bus.topics import Role
from tradeswarm.crypto.identity import AgentIdentity
from tradeswarm.crypto.registry import KeyRegistry
from tradeswarm.crypto.sealing import (
    AUDIT_LOG_ROLE,
    KemKeyring,
    KemRecipient,
    SealError,
    SealReason,
    open_sealed,
    seal,
)
from tradeswarm.system.agents import AGENT_NAMES

Direction = Literal["call", "answer"]
#: The kernel's sealing identity, (name, role): the risk manager's, whose keys it holds.
KERNEL = (AGENT_NAMES["risk"], str(Role.RISK))


def topic_of(channel: str, direction: Direction) -> str:
    return f"rpc.{channel}.{direction}"


def recipients(registry: KeyRegistry, name: str, role: str, at_ns: int) -> list[KemRecipient]:
    """name's ML-KEM-768 keys valid at at_ns, and the audit log's (to read it back)."""
    found = [
        KemRecipient(owner.principal, key)
        for owner, key in registry.current_kem_keys(role, at_ns)
        if owner.name == name
    ]
    if not found:
        raise SealError(SealReason.NO_RECIPIENTS, f"{role}:{name} holds no KEM key at {at_ns}")
    audit = [
        KemRecipient(o.principal, k) for o, k in registry.current_kem_keys(AUDIT_LOG_ROLE, at_ns)
    ]
    return [*found, *audit]


class ChannelSeal:
    """One end of a channel: seals what it sends to the other end, opens what it gets."""

    def __init__(
        self,
        channel: str,
        me: AgentIdentity,
        peer: tuple[str, str],
        registry: KeyRegistry,
        now: Callable[[], int],
    ) -> None:
        """me: this end's identity (its KEM key opens what is sealed to it); peer: the
        other end's (name, role); registry: where the peer's public KEM keys are."""
        self.channel, self.me, self.peer = channel, me, peer
        self.registry, self.now = registry, now
        self.keyring = KemKeyring.of(me, 0)

    def seal(self, body: bytes, direction: Direction) -> bytes:
        to = recipients(self.registry, *self.peer, self.now())
        return seal(
            body, sender=self.me.principal, topic=topic_of(self.channel, direction), recipients=to
        )

    def open(self, box: bytes, direction: Direction) -> bytes:
        name, role = self.peer
        return open_sealed(
            box,
            topic=topic_of(self.channel, direction),
            keyring=self.keyring,
            sender=f"{role}:{name}",
        )
