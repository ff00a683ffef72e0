"""Why a signature is refused, who a verified one names, and the key checks every kind of
signature block goes through (per message or per burst)."""

from __future__ import annotations

from enum import StrEnum

import msgspec

from tradeswarm.core.errors import TradeswarmError
from tradeswarm.crypto.keys import Algorithm
from tradeswarm.crypto.registry import KeyRegistry, KeyState, RegisteredKey


class RejectReason(StrEnum):
    """Why a signature (or an envelope at the gate) was refused."""

    UNSIGNED = "unsigned"
    MALFORMED = "malformed signature block"
    UNKNOWN_KEY = "unknown key"
    NOT_YET_VALID = "key not yet valid"
    RETIRED = "key retired"
    REVOKED = "identity revoked"
    WRONG_SENDER = "key belongs to another identity"
    WRONG_ALGORITHM = "algorithm weaker than policy or not the key's"
    WRONG_CONTEXT = "signature made for another message type"
    BAD_SIGNATURE = "signature does not verify"
    BAD_PROOF = "inclusion proof does not lead to the signed burst root"
    NOT_BURSTABLE = "type must be signed per message, not in a burst"
    EXPIRED = "expired (ttl)"
    STALE = "older than the replay window"
    FUTURE = "timestamp ahead of the receiver's clock"
    REPLAYED = "replayed (msg_id or nonce seen)"
    ACL = "sender's role may not publish on this topic"
    SEALING = "sealed box refused, or a sealed type sent in clear"


STATE_REASON = {
    KeyState.UNKNOWN: RejectReason.UNKNOWN_KEY,
    KeyState.NOT_YET_VALID: RejectReason.NOT_YET_VALID,
    KeyState.RETIRED: RejectReason.RETIRED,
    KeyState.REVOKED: RejectReason.REVOKED,
}


class SignatureInvalid(TradeswarmError):
    """A signature was refused; reason says why (a business rejection at the gate)."""

    def __init__(self, reason: RejectReason, detail: str) -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}")


class VerifiedSignature(msgspec.Struct, frozen=True, kw_only=True):
    """Who signed, with which key and algorithm, and the time the signature claims;
    burst_size is the size of the burst whose root was signed (None: signed alone)."""

    principal: str
    name: str
    role: str
    key_id: str
    algorithm: Algorithm
    signed_ns: int
    burst_size: int | None = None

    @classmethod
    def of(
        cls, found: RegisteredKey, signed_ns: int, burst_size: int | None = None
    ) -> VerifiedSignature:
        owner, key = found
        return cls(
            principal=owner.principal,
            name=owner.name,
            role=owner.role,
            key_id=key.key_id,
            algorithm=key.algorithm,
            signed_ns=signed_ns,
            burst_size=burst_size,
        )


def check_key(
    registry: KeyRegistry,
    key_id: str,
    alg: str,
    *,
    principal: str,
    signed_ns: int,
    min_algorithm: Algorithm | None,
) -> RegisteredKey:
    """The registered key key_id, when it may vouch for principal's signature made at
    signed_ns in alg (the key's own algorithm and the policy's, if one is given)."""
    state, found = registry.state_at(key_id, signed_ns)
    if found is None or state is not KeyState.VALID:
        raise SignatureInvalid(STATE_REASON[state], f"key {key_id} of {principal}")
    owner, key = found
    if owner.principal != principal:
        raise SignatureInvalid(
            RejectReason.WRONG_SENDER, f"key {key_id} is {owner.principal}'s, not {principal}'s"
        )
    if alg != key.algorithm or (min_algorithm is not None and alg != min_algorithm):
        raise SignatureInvalid(
            RejectReason.WRONG_ALGORITHM, f"{alg} (key {key.algorithm}, policy {min_algorithm})"
        )
    return found
