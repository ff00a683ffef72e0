"""What goes on the wire for an envelope: its canonical bytes, or for a confidential type
(`crypto.sealing.SealingPolicy`) those bytes in a sealed box (ML-KEM-768 + AES-256-GCM)
only the type's recipient roles can open.

A box is MessagePack (its first byte an array marker), an envelope canonical JSON (its
first byte `{`): `WireCodec.open` tells them apart. The receiving side refuses

- a box it cannot open (not a recipient, tampered, moved to another topic, ...);
- a box whose clear sender is not the sender of the envelope inside (a box lifted into
  another's name), and a box whose envelope is for another topic;
- an envelope of a sealed type sent in clear (a downgrade),

each as a `WireRefused` that the inlet logs as an `EnvelopeRejected`. The envelope inside
is then judged by the `VerifyingGate` like any other: sealing hides a payload from the
wire and the servers, the signature says who sent it.
"""

from __future__ import annotations

from tradeswarm.core.errors import TradeswarmError
from tradeswarm.crypto.registry import KeyRegistry
from tradeswarm.crypto.sealing import (
    KemKeyring,
    SealError,
    SealingPolicy,
    open_sealed,
    read_box,
    recipients_for,
    seal,
)
from tradeswarm.model.envelope import Envelope, decode_head, encode_envelope


class WireRefused(TradeswarmError):
    """Bytes off the wire the codec refuses before the gate sees them."""


class WireCodec:
    """Seals what the policy says on the way out; opens (with keyring) on the way in."""

    def __init__(
        self,
        policy: SealingPolicy,
        registry: KeyRegistry,
        keyring: KemKeyring | None = None,
    ) -> None:
        self.policy = policy
        self.registry = registry
        self.keyring = keyring

    def encode(self, env: Envelope) -> bytes:
        wire = encode_envelope(env)
        if not self.policy.seals(env.type):
            return wire
        roles = self.policy.recipients_of(env.type)
        recipients = recipients_for(self.registry, roles, env.ts_ns)
        return seal(wire, sender=env.sender, topic=env.topic, recipients=recipients)

    def open(self, wire: bytes, topic: str) -> bytes:
        """The envelope's canonical bytes, or WireRefused naming why."""
        if wire[:1] == b"{":
            head = decode_head(wire)
            if head is not None and self.policy.seals(head.type):
                raise WireRefused(f"{head.type} must be sealed, came in clear")
            return wire
        if self.keyring is None:
            raise WireRefused("a sealed box, and this process holds no KEM key")
        try:
            sender = read_box(wire).sender
            plain = open_sealed(wire, topic=topic, keyring=self.keyring, sender=sender)
        except SealError as err:
            raise WireRefused(f"sealed box refused: {err}") from None
        head = decode_head(plain)
        if head is None or head.sender != sender or head.topic != topic:
            raise WireRefused(f"sealed by {sender} for {topic}, the envelope inside disagrees")
        return plain
