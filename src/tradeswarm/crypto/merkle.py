"""RFC 9162 Merkle tree hashing: the one implementation the audit log and burst signatures share.

A leaf hash is SHA-256(0x00 || data), an interior node SHA-256(0x01 || left || right); the
tree over n leaves splits at the largest power of two below n (RFC 9162 section 2.1.1).
`tree_hash` and `tree_paths` build a whole tree from its leaf hashes (a burst of envelopes,
or a verifier that holds every entry); `root_from_inclusion_proof` is the verifier of
section 2.1.3.2. The log's stored tree (`audit/merkle.py`) and its consistency proofs build
on these.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()


class ProofError(ValueError):
    """A proof does not prove what it claims (or is malformed)."""


def hash_leaf(data: bytes) -> bytes:
    """The leaf hash of one entry: SHA-256(0x00 || data)."""
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def hash_node(left: bytes, right: bytes) -> bytes:
    """An interior node: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def split_point(n: int) -> int:
    """The largest power of two strictly smaller than n (n >= 2): RFC 9162's k."""
    return 1 << ((n - 1).bit_length() - 1)


def _levels(leaves: Sequence[bytes]) -> list[list[bytes]]:
    """Every level of the tree, leaves first. Pairing neighbours left to right and lifting
    an unpaired last node unchanged builds exactly RFC 9162's tree (its left subtrees are
    the perfect ones)."""
    sha256 = hashlib.sha256
    levels = [list(leaves)]
    level = levels[0]
    while len(level) > 1:
        up = [
            sha256(NODE_PREFIX + level[i] + level[i + 1]).digest()
            for i in range(0, len(level) - 1, 2)
        ]
        if len(level) & 1:
            up.append(level[-1])
        levels.append(up)
        level = up
    return levels


def tree_hash(leaves: Iterable[bytes]) -> bytes:
    """MTH over leaf hashes (the empty tree's root for none), in O(log n) memory: one
    perfect subtree root per set bit of the count so far, folded right to left at the end."""
    sha256 = hashlib.sha256
    stack: list[bytes] = []
    for count, leaf in enumerate(leaves):
        h, carry = leaf, count
        while carry & 1:
            h = sha256(NODE_PREFIX + stack.pop() + h).digest()
            carry >>= 1
        stack.append(h)
    if not stack:
        return EMPTY_ROOT
    acc = stack[-1]
    for h in reversed(stack[:-1]):
        acc = hash_node(h, acc)
    return acc


def tree_paths(leaves: Sequence[bytes]) -> tuple[bytes, list[list[bytes]]]:
    """The root over leaf hashes and every leaf's PATH (leaf side first), in one pass."""
    if not leaves:
        raise ValueError("a tree needs at least one leaf")
    levels = _levels(leaves)
    paths: list[list[bytes]] = []
    for index in range(len(leaves)):
        path, i = [], index
        for level in levels[:-1]:
            sibling = i ^ 1
            if sibling < len(level):
                path.append(level[sibling])
            i >>= 1
        paths.append(path)
    return levels[-1][0], paths


def matching_paths(
    leaves: Sequence[bytes], paths: Sequence[Sequence[bytes]]
) -> tuple[bytes, list[bool]]:
    """The root over leaf hashes, and for each leaf whether the path given for it is its
    PATH in that tree: what recomputing each path's root would tell, for a verifier that
    holds every leaf (n - 1 hashes in all instead of about log2(n) per leaf)."""
    if not leaves or len(paths) != len(leaves):
        raise ValueError(f"{len(paths)} paths for {len(leaves)} leaves")
    levels = _levels(leaves)
    inner = levels[:-1]
    matches: list[bool] = []
    for index, path in enumerate(paths):
        i, depth, good = index, 0, True
        for level in inner:
            sibling = i ^ 1
            if sibling < len(level):
                if depth >= len(path) or path[depth] != level[sibling]:
                    good = False
                    break
                depth += 1
            i >>= 1
        matches.append(good and depth == len(path))
    return levels[-1][0], matches


def check_hash(name: str, value: object) -> bytes:
    """value if it is a hash (32 bytes); ProofError naming it otherwise."""
    if not isinstance(value, bytes | bytearray) or len(value) != HASH_SIZE:
        size = len(value) if isinstance(value, bytes | bytearray) else type(value).__name__
        raise ProofError(f"{name} must be {HASH_SIZE} bytes, got {size}")
    return bytes(value)


def check_proof(proof: Sequence[bytes] | None) -> list[bytes]:
    items = list(proof or ())
    for i, p in enumerate(items):
        if type(p) is not bytes or len(p) != HASH_SIZE:
            items[i] = check_hash(f"proof[{i}]", p)
    return items


def match(name: str, computed: bytes, expected: bytes) -> None:
    """ProofError unless computed equals expected (compared in constant time)."""
    if not hmac.compare_digest(computed, expected):
        raise ProofError(f"{name} mismatch: computed {computed.hex()}, expected {expected.hex()}")


def strip_zeros(fn: int, sn: int) -> tuple[int, int]:
    """Shift both indices right while fn is even and not zero (RFC 9162's verifier step)."""
    while not fn & 1 and fn != 0:
        fn >>= 1
        sn >>= 1
    return fn, sn


def root_from_inclusion_proof(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes] | None
) -> bytes:
    """The root a proof implies for leaf_hash at index in a tree of size (RFC 9162 2.1.3.2)."""
    r = check_hash("leaf_hash", leaf_hash)
    items = check_proof(proof)
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of size {size}")
    sha256 = hashlib.sha256
    fn, sn = index, size - 1
    for p in items:
        if sn == 0:
            raise ProofError(f"proof has {len(items)} hashes: too many for this tree")
        if fn & 1 or fn == sn:
            r = sha256(NODE_PREFIX + p + r).digest()  # hash_node(p, r), inlined
            while not fn & 1 and fn != 0:  # strip_zeros
                fn >>= 1
                sn >>= 1
        else:
            r = sha256(NODE_PREFIX + r + p).digest()
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError(f"proof has {len(items)} hashes: too few for this tree")
    return r


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes] | None, root: bytes
) -> None:
    """Check that leaf_hash sits at index in the tree of size with this root; raise if not."""
    check_hash("root", root)
    match("root", root_from_inclusion_proof(leaf_hash, index, size, proof), root)
