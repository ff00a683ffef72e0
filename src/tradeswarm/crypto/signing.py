"""Sign and verify envelopes (and detached records) against the key registry.

Encoding of `Envelope.signature`: the MessagePack array `[1, alg, key_id, sig]`
(version 1, the algorithm's name, the signing key's id in hex, the raw signature),
i.e. `SignatureBlock` below. The signature is over `context(env.type) +
signing_bytes(env)`: the envelope's canonical JSON with the signature slot empty.
"""

from __future__ import annotations

from enum import StrEnum

import msgspec

from tradeswarm.core.errors import TradeswarmError
from tradeswarm.crypto.contexts import MESSAGE_TYPES, SigningPolicy, context
from tradeswarm.crypto.keys import Algorithm, Signer, verify
from tradeswarm.crypto.registry import KeyRegistry, KeyState
from tradeswarm.model.envelope import Envelope, signing_bytes

BLOCK_VERSION = 1


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
    EXPIRED = "expired (ttl)"
    STALE = "older than the replay window"
    FUTURE = "timestamp ahead of the receiver's clock"
    REPLAYED = "replayed (msg_id or nonce seen)"
    ACL = "sender's role may not publish on this topic"


_STATE_REASON = {
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


class SignatureBlock(msgspec.Struct, frozen=True, array_like=True):
    version: int
    alg: str
    key_id: str
    sig: bytes


class VerifiedSignature(msgspec.Struct, frozen=True, kw_only=True):
    """Who signed, with which key and algorithm, and the time the signature claims."""

    principal: str
    name: str
    role: str
    key_id: str
    algorithm: Algorithm
    signed_ns: int


_block_encoder = msgspec.msgpack.Encoder()
_block_decoder = msgspec.msgpack.Decoder(SignatureBlock)


def encode_block(block: SignatureBlock) -> bytes:
    return _block_encoder.encode(block)


def decode_block(data: bytes) -> SignatureBlock:
    """Parse the signature slot; SignatureInvalid(MALFORMED) on anything else."""
    try:
        block = _block_decoder.decode(data)
    except msgspec.DecodeError as err:
        raise SignatureInvalid(RejectReason.MALFORMED, str(err)) from err
    if block.version != BLOCK_VERSION:
        raise SignatureInvalid(RejectReason.MALFORMED, f"block version {block.version}")
    return block


def sign_bytes(type_name: str, data: bytes, signer: Signer) -> bytes:
    """A detached signature block over context(type_name) + data."""
    sig = signer.sign(context(type_name) + data)
    return encode_block(SignatureBlock(BLOCK_VERSION, str(signer.algorithm), signer.key_id, sig))


def sign_envelope(env: Envelope, signer: Signer) -> Envelope:
    """The envelope with its signature slot filled by signer."""
    return msgspec.structs.replace(env, signature=sign_bytes(env.type, signing_bytes(env), signer))


def verify_bytes(
    type_name: str,
    data: bytes,
    block_bytes: bytes | None,
    registry: KeyRegistry,
    *,
    principal: str,
    signed_ns: int,
    min_algorithm: Algorithm | None = None,
) -> VerifiedSignature:
    """Check a detached signature block made by principal at signed_ns over data."""
    if not block_bytes:
        raise SignatureInvalid(RejectReason.UNSIGNED, f"{type_name} from {principal}")
    block = decode_block(block_bytes)
    state, found = registry.state_at(block.key_id, signed_ns)
    if found is None or state is not KeyState.VALID:
        raise SignatureInvalid(_STATE_REASON[state], f"key {block.key_id} of {principal}")
    owner, key = found
    if owner.principal != principal:
        raise SignatureInvalid(
            RejectReason.WRONG_SENDER,
            f"key {block.key_id} is {owner.principal}'s, not {principal}'s",
        )
    if block.alg != key.algorithm or (min_algorithm is not None and block.alg != min_algorithm):
        raise SignatureInvalid(
            RejectReason.WRONG_ALGORITHM,
            f"{block.alg} (key {key.algorithm}, policy {min_algorithm})",
        )
    if not verify(key.algorithm, key.public_key, block.sig, context(type_name) + data):
        reason = _why_bad(type_name, data, key.algorithm, key.public_key, block)
        raise SignatureInvalid(reason, f"{type_name} from {principal}, key {key.key_id}")
    return VerifiedSignature(
        principal=owner.principal,
        name=owner.name,
        role=owner.role,
        key_id=key.key_id,
        algorithm=key.algorithm,
        signed_ns=signed_ns,
    )


def verify_envelope(
    env: Envelope, registry: KeyRegistry, policy: SigningPolicy | None = None
) -> VerifiedSignature:
    """Check env's signature: made by env.sender's key, valid at env.ts_ns, over env.

    With a policy, also demand the algorithm the policy names for env.type.
    Raises SignatureInvalid with the reason.
    """
    return verify_bytes(
        env.type,
        signing_bytes(env),
        env.signature,
        registry,
        principal=env.sender,
        signed_ns=env.ts_ns,
        min_algorithm=policy.algorithm_for(env.type) if policy is not None else None,
    )


def _why_bad(
    type_name: str, data: bytes, alg: Algorithm, public_key: bytes, block: SignatureBlock
) -> RejectReason:
    """Tell a signature made under another type's context from a plain bad one."""
    for other in MESSAGE_TYPES - {type_name}:
        if verify(alg, public_key, block.sig, context(other) + data):
            return RejectReason.WRONG_CONTEXT
    return RejectReason.BAD_SIGNATURE
