"""Verify RFC 9162 inclusion and consistency proofs; a bad proof raises `ProofError`.

These are the public verifiers (`tradeswarm.audit.verify_inclusion`,
`tradeswarm.audit.verify_consistency`): they need nothing but the proof and the roots,
so an auditor can run them with no access to the operator's database.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from tradeswarm.audit.merkle import EMPTY_ROOT, HASH_SIZE, hash_node


class ProofError(ValueError):
    """A proof does not prove what it claims (or is malformed)."""


def _check_hash(name: str, value: bytes) -> None:
    if not isinstance(value, bytes | bytearray) or len(value) != HASH_SIZE:
        size = len(value) if isinstance(value, bytes | bytearray) else type(value).__name__
        raise ProofError(f"{name} must be {HASH_SIZE} bytes, got {size}")


def _check_proof(proof: Sequence[bytes] | None) -> list[bytes]:
    items = list(proof or ())
    for i, p in enumerate(items):
        _check_hash(f"proof[{i}]", p)
    return items


def _match(name: str, computed: bytes, expected: bytes) -> None:
    if not hmac.compare_digest(computed, expected):
        raise ProofError(f"{name} mismatch: computed {computed.hex()}, expected {expected.hex()}")


def _strip_zeros(fn: int, sn: int) -> tuple[int, int]:
    while not fn & 1 and fn != 0:
        fn >>= 1
        sn >>= 1
    return fn, sn


def root_from_inclusion_proof(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes] | None
) -> bytes:
    """The root a proof implies for leaf_hash at index in a tree of size (RFC 9162 2.1.3.2)."""
    _check_hash("leaf_hash", leaf_hash)
    items = _check_proof(proof)
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of size {size}")
    fn, sn, r = index, size - 1, bytes(leaf_hash)
    for p in items:
        if sn == 0:
            raise ProofError(f"proof has {len(items)} hashes: too many for this tree")
        if fn & 1 or fn == sn:
            r = hash_node(p, r)
            fn, sn = _strip_zeros(fn, sn)
        else:
            r = hash_node(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError(f"proof has {len(items)} hashes: too few for this tree")
    return r


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes] | None, root: bytes
) -> None:
    """Check that leaf_hash sits at index in the tree of size with this root; raise if not."""
    _check_hash("root", root)
    _match("root", root_from_inclusion_proof(leaf_hash, index, size, proof), root)


def _trivial_consistency(
    size1: int, size2: int, items: list[bytes], root1: bytes, root2: bytes
) -> bool:
    if size1 < 0 or size2 < size1:
        raise ProofError(f"size1 {size1} must be between 0 and size2 {size2}")
    if size1 == size2:
        if items:
            raise ProofError("sizes are equal, so the proof must be empty")
        _match("root2", root2, root1)
        return True
    if size1 == 0:
        if items:
            raise ProofError("the empty tree needs an empty consistency proof")
        _match("root1", root1, EMPTY_ROOT)
        return True
    if not items:
        raise ProofError("empty consistency proof between different sizes")
    return False


def verify_consistency(
    size1: int,
    size2: int,
    proof: Sequence[bytes] | None,
    root1: bytes,
    root2: bytes,
) -> None:
    """Check that the tree of size2 and root2 extends the one of size1 and root1 (RFC 9162
    2.1.4.2); raise ProofError if the proof fails (a fork, or a malformed proof)."""
    _check_hash("root1", root1)
    _check_hash("root2", root2)
    items = _check_proof(proof)
    if _trivial_consistency(size1, size2, items, root1, root2):
        return
    if size1 & (size1 - 1) == 0:  # an exact power of two: its root starts the chain
        items = [bytes(root1), *items]
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = items[0]
    for c in items[1:]:
        if sn == 0:
            raise ProofError(f"proof has {len(items)} hashes: too many for these sizes")
        if fn & 1 or fn == sn:
            fr = hash_node(c, fr)
            sr = hash_node(c, sr)
            fn, sn = _strip_zeros(fn, sn)
        else:
            sr = hash_node(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError(f"proof has {len(items)} hashes: too few for these sizes")
    _match("root1", fr, root1)
    _match("root2", sr, root2)
