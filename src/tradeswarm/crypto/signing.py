"""Sign and verify envelopes (and detached records) against the key registry.

`Envelope.signature` holds a MessagePack array whose first element is its version:

- version 1, per message: `[1, alg, key_id, sig]` (the algorithm's name, the signing key's
  id in hex, the raw signature), i.e. `SignatureBlock` below, over `context(env.type) +
  signing_bytes(env)`: the envelope's canonical JSON with the signature slot empty.
  Detached records (a human's approval) use this block only.
- version 2, a burst: `[2, alg, key_id, sig, root, size, index, path, types, first_ns,
  last_ns]`, one signature over the Merkle root of the envelopes one sender published at
  once, and this envelope's inclusion path (`crypto.burst`, where the format is defined).

`verify_envelope` takes either; `EnvelopeVerifier` is the same check with a memory of the
burst roots it has verified, so each root signature is checked once.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from tradeswarm.crypto.burst import (
    BURST_VERSION,
    BurstBlock,
    RootCache,
    decode_burst_block,
    sign_burst,
    verify_burst,
    whole_bursts,
)
from tradeswarm.crypto.contexts import MESSAGE_TYPES, SigningPolicy, context
from tradeswarm.crypto.keys import Algorithm, Signer, verify
from tradeswarm.crypto.reasons import (
    RejectReason,
    SignatureInvalid,
    VerifiedSignature,
    check_key,
)
from tradeswarm.crypto.registry import KeyRegistry
from tradeswarm.model.envelope import Envelope, signing_bytes

__all__ = [
    "BLOCK_VERSION",
    "BURST_VERSION",
    "BurstBlock",
    "EnvelopeVerifier",
    "RejectReason",
    "RootCache",
    "SignatureBlock",
    "SignatureInvalid",
    "VerifiedSignature",
    "block_version",
    "decode_block",
    "decode_signature",
    "encode_block",
    "sign_burst",
    "sign_bytes",
    "sign_envelope",
    "verify_bytes",
    "verify_envelope",
]

BLOCK_VERSION = 1


class SignatureBlock(msgspec.Struct, frozen=True, array_like=True):
    version: int
    alg: str
    key_id: str
    sig: bytes


_block_encoder = msgspec.msgpack.Encoder()
_block_decoder = msgspec.msgpack.Decoder(SignatureBlock)


def encode_block(block: SignatureBlock) -> bytes:
    return _block_encoder.encode(block)


def block_version(data: bytes) -> int | None:
    """The version a signature slot claims (its array's first element), None if it claims
    none: a MessagePack fixarray whose first element is a small positive integer."""
    if len(data) >= 2 and data[0] & 0xF0 == 0x90 and data[1] < 0x80:
        return data[1]
    return None


def decode_block(data: bytes) -> SignatureBlock:
    """Parse a per-message (version 1) signature slot; SignatureInvalid(MALFORMED) on
    anything else."""
    try:
        block = _block_decoder.decode(data)
    except msgspec.DecodeError as err:
        raise SignatureInvalid(RejectReason.MALFORMED, str(err)) from err
    if block.version != BLOCK_VERSION:
        raise SignatureInvalid(RejectReason.MALFORMED, f"block version {block.version}")
    return block


def decode_signature(data: bytes) -> SignatureBlock | BurstBlock:
    """Parse an envelope's signature slot of either version."""
    if block_version(data) == BURST_VERSION:
        return decode_burst_block(data)
    return decode_block(data)


def sign_bytes(type_name: str, data: bytes, signer: Signer) -> bytes:
    """A detached signature block over context(type_name) + data."""
    sig = signer.sign(context(type_name) + data)
    return encode_block(SignatureBlock(BLOCK_VERSION, str(signer.algorithm), signer.key_id, sig))


def sign_envelope(env: Envelope, signer: Signer) -> Envelope:
    """The envelope with its signature slot filled by signer (one signature of its own)."""
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
    return _verify_block(
        type_name, data, decode_block(block_bytes), registry, principal, signed_ns, min_algorithm
    )


def _verify_block(
    type_name: str,
    data: bytes,
    block: SignatureBlock,
    registry: KeyRegistry,
    principal: str,
    signed_ns: int,
    min_algorithm: Algorithm | None,
) -> VerifiedSignature:
    found = check_key(
        registry,
        block.key_id,
        block.alg,
        principal=principal,
        signed_ns=signed_ns,
        min_algorithm=min_algorithm,
    )
    key = found.key
    if not verify(key.algorithm, key.public_key, block.sig, context(type_name) + data):
        reason = _why_bad(type_name, data, key.algorithm, key.public_key, block)
        raise SignatureInvalid(reason, f"{type_name} from {principal}, key {key.key_id}")
    return VerifiedSignature.of(found, signed_ns)


def verify_envelope(
    env: Envelope,
    registry: KeyRegistry,
    policy: SigningPolicy | None = None,
    *,
    roots: RootCache | None = None,
) -> VerifiedSignature:
    """Check env's signature: made by env.sender's key, valid at env.ts_ns, over env, on
    its own or as one of a burst whose root that key signed.

    With a policy, also demand the algorithm the policy names for env.type, and refuse a
    burst signature on a type the policy wants signed per message. roots: the burst root
    signatures already verified (checked once, then remembered there).
    Raises SignatureInvalid with the reason.
    """
    return _verify_envelope(env, registry, policy, roots, None)


def _verify_envelope(
    env: Envelope,
    registry: KeyRegistry,
    policy: SigningPolicy | None,
    roots: RootCache | None,
    known: tuple[BurstBlock, bytes | None] | None,
) -> VerifiedSignature:
    """verify_envelope; known: env's burst block already decoded, and the root its path
    was found to lead to with its whole burst (`whole_bursts`), if it was."""
    if not env.signature:
        raise SignatureInvalid(RejectReason.UNSIGNED, f"{env.type} from {env.sender}")
    min_algorithm = policy.algorithm_for(env.type) if policy is not None else None
    if known is not None or block_version(env.signature) == BURST_VERSION:
        burst, implied = known or (decode_burst_block(env.signature), None)
        return verify_burst(
            env,
            burst,
            registry,
            min_algorithm=min_algorithm,
            may_burst=policy is None or policy.may_burst(env.type),
            roots=roots,
            known=implied,
        )
    block = decode_block(env.signature)
    return _verify_block(
        env.type, signing_bytes(env), block, registry, env.sender, env.ts_ns, min_algorithm
    )


class EnvelopeVerifier:
    """`verify_envelope` against one registry and policy, remembering the burst roots whose
    signature it has verified (at most max_roots, the least recently used forgotten first):
    each root signature is checked once however many of its envelopes arrive. Every other
    check (key state at the envelope's time, sender, algorithm, per-message types, the
    envelope's inclusion path) is made for every envelope."""

    def __init__(
        self, registry: KeyRegistry, policy: SigningPolicy | None = None, *, max_roots: int = 4096
    ) -> None:
        self.registry = registry
        self.policy = policy
        self.roots = RootCache(max_roots)

    def verify(self, env: Envelope) -> VerifiedSignature:
        """verify_envelope(env, registry, policy) with the remembered roots; raises
        SignatureInvalid."""
        return verify_envelope(env, self.registry, self.policy, roots=self.roots)

    def verify_many(self, envs: Sequence[Envelope]) -> list[VerifiedSignature | SignatureInvalid]:
        """Each envelope's verdict, in order: who signed it, or why it is refused; exactly
        what `verify` says of each, with one shortcut: the members of a burst present
        whole are placed in their tree at once (n - 1 hashes for the burst, not a path
        of about log2(n) per member)."""
        known = self._whole_bursts(envs)
        out: list[VerifiedSignature | SignatureInvalid] = []
        for env, membership in zip(envs, known, strict=True):
            try:
                out.append(
                    _verify_envelope(env, self.registry, self.policy, self.roots, membership)
                )
            except SignatureInvalid as err:
                out.append(err)
        return out

    __call__ = verify_many

    @staticmethod
    def _whole_bursts(envs: Sequence[Envelope]) -> list[tuple[BurstBlock, bytes | None] | None]:
        """Per envelope: its decoded burst block and the root `whole_bursts` found its path
        leads to, or None (not burst-signed, or its block does not decode)."""
        members: list[tuple[Envelope, BurstBlock]] = []
        where: list[int] = []
        for i, env in enumerate(envs):
            if env.signature and block_version(env.signature) == BURST_VERSION:
                try:
                    members.append((env, decode_burst_block(env.signature)))
                except SignatureInvalid:
                    continue
                where.append(i)
        out: list[tuple[BurstBlock, bytes | None] | None] = [None] * len(envs)
        for i, (_, block), root in zip(where, members, whole_bursts(members), strict=True):
            out[i] = (block, root)
        return out


def _why_bad(
    type_name: str, data: bytes, alg: Algorithm, public_key: bytes, block: SignatureBlock
) -> RejectReason:
    """Tell a signature made under another type's context from a plain bad one."""
    for other in MESSAGE_TYPES - {type_name}:
        if verify(alg, public_key, block.sig, context(other) + data):
            return RejectReason.WRONG_CONTEXT
    return RejectReason.BAD_SIGNATURE
