"""Burst signatures: one signature over the Merkle root of the envelopes a publisher
publishes at once, each envelope carrying what it takes to verify it on its own.

The leaves. Envelope i of a burst of n (n >= 2, one sender) is the leaf
`SHA-256(0x00 || context(env.type) || signing_bytes(env))`: its type's signing context and
its canonical bytes with the signature slot empty, exactly what a per-message signature
covers. The tree over the n leaves, in publishing order, is RFC 9162's
(`crypto.merkle`); its root is `root`.

The signed statement. The sender signs, once per burst and algorithm,

    context("burst-root") || msgpack([sender, alg, key_id, types, size, first_ns, last_ns, root])

(`b"tradeswarm/v1/burst-root\\x00"`: "burst-root" is no message type's name, so a root
signature never verifies as a message's, nor the other way round). `types` are the
message type names in the burst, sorted; `first_ns` / `last_ns` the smallest and largest
`ts_ns` among its envelopes. So the signature says who published how many envelopes of
which types between which times, and the root pins every one of them.

The block. Each envelope's `signature` slot holds the MessagePack array

    [2, alg, key_id, sig, root, size, index, path, types, first_ns, last_ns]

(`BurstBlock`): the root signature and what it signed, the envelope's leaf index and its
inclusion path (RFC 9162 PATH, leaf side first: 32 bytes times about log2(size)). Version 1
(`crypto.signing.SignatureBlock`, `[1, alg, key_id, sig]`) stays the per-message block; a
burst of one is signed with it, byte for byte as before bursts existed.

Verifying one envelope (`verify_burst`), with nothing but the envelope and the registry:
the key must be the sender's, valid at the envelope's `ts_ns`, in the policy's algorithm
for its type (no downgrade), and the type must be one the policy lets a burst sign; the
type must be among the signed `types`, `ts_ns` within the signed span, the leaf recomputed
from the envelope must lead by the path to `root`, and the signature over the statement
must verify. A `RootCache` remembers the statements whose signature it has seen verify,
so a verifier checks each root signature once, however many of its envelopes it meets.
"""

from __future__ import annotations

import collections
from collections.abc import Sequence

import msgspec

from tradeswarm.core.errors import InvalidInput, TradeswarmError
from tradeswarm.crypto.contexts import context
from tradeswarm.crypto.keys import Algorithm, Signer, verify
from tradeswarm.crypto.merkle import (
    ProofError,
    check_hash,
    hash_leaf,
    matching_paths,
    root_from_inclusion_proof,
    tree_paths,
)
from tradeswarm.crypto.reasons import RejectReason, SignatureInvalid, VerifiedSignature, check_key
from tradeswarm.crypto.registry import KeyRegistry
from tradeswarm.model.envelope import Envelope, signing_bytes

BURST_VERSION = 2
ROOT_CONTEXT = context("burst-root")
MAX_PATH = 64  # a path longer than this proves nothing a 2**64-leaf tree could hold


class BurstBlock(msgspec.Struct, frozen=True, array_like=True):
    """An envelope's burst signature block (see the module docstring)."""

    version: int
    alg: str
    key_id: str
    sig: bytes
    root: bytes
    size: int
    index: int
    path: list[bytes]
    types: list[str]
    first_ns: int
    last_ns: int


class RootStatement(msgspec.Struct, frozen=True, array_like=True):
    """What a burst's root signature covers, after ROOT_CONTEXT."""

    sender: str
    alg: str
    key_id: str
    types: list[str]
    size: int
    first_ns: int
    last_ns: int
    root: bytes


_encoder = msgspec.msgpack.Encoder()
_block_decoder = msgspec.msgpack.Decoder(BurstBlock)


def burst_leaf(env: Envelope) -> bytes:
    """The leaf hash env is in its burst's tree: its context and its signing bytes."""
    return hash_leaf(context(env.type) + signing_bytes(env))


def statement_bytes(sender: str, block: BurstBlock) -> bytes:
    """The bytes the root signature of block, made by sender, is over."""
    statement = RootStatement(
        sender=sender,
        alg=block.alg,
        key_id=block.key_id,
        types=block.types,
        size=block.size,
        first_ns=block.first_ns,
        last_ns=block.last_ns,
        root=block.root,
    )
    return ROOT_CONTEXT + _encoder.encode(statement)


def sign_burst(envs: Sequence[Envelope], signer: Signer) -> list[Envelope]:
    """The envelopes of one sender's burst (two or more), in order, each carrying the one
    root signature and its own inclusion path."""
    if len(envs) < 2:
        raise InvalidInput("burst", len(envs), "needs two envelopes or more; sign one alone")
    sender = envs[0].sender
    for env in envs:
        if env.sender != sender:
            raise InvalidInput("burst.sender", env.sender, f"a burst is one sender's ({sender})")
    root, paths = tree_paths([burst_leaf(env) for env in envs])
    times = [env.ts_ns for env in envs]
    alg, key_id = str(signer.algorithm), signer.key_id
    head = BurstBlock(
        version=BURST_VERSION,
        alg=alg,
        key_id=key_id,
        sig=b"",
        root=root,
        size=len(envs),
        index=0,
        path=[],
        types=sorted({env.type for env in envs}),
        first_ns=min(times),
        last_ns=max(times),
    )
    sig = signer.sign(statement_bytes(sender, head))
    replace = msgspec.structs.replace
    return [
        replace(env, signature=_encoder.encode(replace(head, sig=sig, index=i, path=paths[i])))
        for i, env in enumerate(envs)
    ]


def decode_burst_block(data: bytes) -> BurstBlock:
    """Parse a version-2 signature slot; SignatureInvalid(MALFORMED) on anything else."""
    try:
        block = _block_decoder.decode(data)
    except msgspec.DecodeError as err:
        raise SignatureInvalid(RejectReason.MALFORMED, str(err)) from err
    if block.version != BURST_VERSION:
        raise SignatureInvalid(RejectReason.MALFORMED, f"block version {block.version}")
    if block.size < 2 or len(block.path) > MAX_PATH:
        raise SignatureInvalid(
            RejectReason.MALFORMED, f"a burst of {block.size} with a path of {len(block.path)}"
        )
    if not block.types or block.types != sorted(set(block.types)):
        raise SignatureInvalid(RejectReason.MALFORMED, f"burst types {block.types}")
    return block


class RootCache:
    """The burst root signatures seen to verify: at most max_roots of them, the least
    recently used forgotten first. An entry is the whole verification (the algorithm, the
    public key, the signed statement and the signature), so a hit stands for exactly the
    check it saves."""

    def __init__(self, max_roots: int = 4096) -> None:
        if not isinstance(max_roots, int) or max_roots < 1:
            raise InvalidInput("max_roots", max_roots, "must be a whole number of 1 or more")
        self.max_roots = max_roots
        self._seen: collections.OrderedDict[tuple[Algorithm, bytes, bytes, bytes], None] = (
            collections.OrderedDict()
        )
        self.checked = 0  # root signatures verified (each one once while remembered)
        self.hits = 0  # envelopes whose root signature was already known good

    def __len__(self) -> int:
        return len(self._seen)

    def verify(self, alg: Algorithm, public_key: bytes, message: bytes, sig: bytes) -> bool:
        """Whether sig verifies over message under public_key, remembering a success."""
        key = (alg, public_key, message, sig)
        if key in self._seen:
            self._seen.move_to_end(key)
            self.hits += 1
            return True
        if not verify(alg, public_key, sig, message):
            return False
        self.checked += 1
        self._seen[key] = None
        if len(self._seen) > self.max_roots:
            self._seen.popitem(last=False)
        return True


def whole_bursts(members: Sequence[tuple[Envelope, BurstBlock]]) -> list[bytes | None]:
    """For the members of each burst present whole (every leaf index of one signed root
    once), the root their paths lead to, from one tree per burst (n - 1 hashes, not n
    paths); None for every other member (and for one whose path is not its path in that
    tree): those are checked alone."""
    out: list[bytes | None] = [None] * len(members)
    groups: dict[tuple[str, str, str, bytes, bytes, int], list[int]] = {}
    for pos, (env, b) in enumerate(members):
        groups.setdefault((env.sender, b.alg, b.key_id, b.sig, b.root, b.size), []).append(pos)
    for (*_, signed_root, size), positions in groups.items():
        by_index = sorted(positions, key=lambda p: members[p][1].index)
        if [members[p][1].index for p in by_index] != list(range(size)):
            continue
        try:
            leaves = [burst_leaf(members[p][0]) for p in by_index]
        except TradeswarmError:  # a type no context can name: each is refused alone
            continue
        root, matches = matching_paths(leaves, [members[p][1].path for p in by_index])
        if root != signed_root:  # a member is not what was signed: each is checked alone
            continue
        for p, good in zip(by_index, matches, strict=True):
            if good:
                out[p] = root
    return out


def _check_membership(env: Envelope, block: BurstBlock, known: bytes | None) -> None:
    """env is one of the burst's envelopes: its type signed, its time in the signed span,
    its leaf on the path to the signed root (known: the root its path was found to lead
    to with its whole burst)."""
    if env.type not in block.types:
        raise SignatureInvalid(
            RejectReason.WRONG_CONTEXT,
            f"a burst root signed for {block.types} carried by a {env.type}",
        )
    if not block.first_ns <= env.ts_ns <= block.last_ns:
        raise SignatureInvalid(
            RejectReason.BAD_PROOF,
            f"ts {env.ts_ns} outside the burst's [{block.first_ns}, {block.last_ns}]",
        )
    try:
        root = check_hash("root", block.root)
        implied = known or root_from_inclusion_proof(
            burst_leaf(env), block.index, block.size, block.path
        )
    except ProofError as err:
        raise SignatureInvalid(
            RejectReason.BAD_PROOF, f"{env.type} from {env.sender}: {err}"
        ) from err
    if implied != root:
        raise SignatureInvalid(
            RejectReason.BAD_PROOF,
            f"{env.type} from {env.sender}: leaf {block.index} of {block.size} leads to "
            f"{implied.hex()[:16]}…, not the signed root {root.hex()[:16]}…",
        )


def verify_burst(
    env: Envelope,
    block: BurstBlock,
    registry: KeyRegistry,
    *,
    min_algorithm: Algorithm | None,
    may_burst: bool,
    roots: RootCache | None = None,
    known: bytes | None = None,
) -> VerifiedSignature:
    """Check env's burst signature block (see the module docstring); raise SignatureInvalid.
    known: what `whole_bursts` proved of env's membership (else its path is followed)."""
    found = check_key(
        registry,
        block.key_id,
        block.alg,
        principal=env.sender,
        signed_ns=env.ts_ns,
        min_algorithm=min_algorithm,
    )
    if not may_burst:
        raise SignatureInvalid(
            RejectReason.NOT_BURSTABLE, f"{env.type} from {env.sender} in a burst of {block.size}"
        )
    _check_membership(env, block, known)
    key = found.key
    message = statement_bytes(env.sender, block)
    if roots is not None:
        good = roots.verify(key.algorithm, key.public_key, message, block.sig)
    else:
        good = verify(key.algorithm, key.public_key, block.sig, message)
    if not good:
        raise SignatureInvalid(
            RejectReason.BAD_SIGNATURE,
            f"burst root of {block.size} from {env.sender}, key {key.key_id}",
        )
    return VerifiedSignature.of(found, env.ts_ns, block.size)
