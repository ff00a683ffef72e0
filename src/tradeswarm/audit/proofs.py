"""Verify RFC 9162 inclusion and consistency proofs; a bad proof raises `ProofError`.

Inclusion (and the hashing under both) is `tradeswarm.crypto.merkle`, shared with burst
signatures; consistency proofs are the log's alone.

These are the public verifiers (`tradeswarm.audit.verify_inclusion`,
`tradeswarm.audit.verify_consistency`): they need nothing but the proof and the roots,
so an auditor can run them with no access to the operator's database.
"""

from __future__ import annotations

from collections.abc import Sequence

from tradeswarm.crypto.merkle import (
    EMPTY_ROOT,
    ProofError,
    check_hash,
    check_proof,
    hash_node,
    match,
    root_from_inclusion_proof,
    strip_zeros,
    verify_inclusion,
)

__all__ = ["ProofError", "root_from_inclusion_proof", "verify_consistency", "verify_inclusion"]


def _trivial_consistency(
    size1: int, size2: int, items: list[bytes], root1: bytes, root2: bytes
) -> bool:
    if size1 < 0 or size2 < size1:
        raise ProofError(f"size1 {size1} must be between 0 and size2 {size2}")
    if size1 == size2:
        if items:
            raise ProofError("sizes are equal, so the proof must be empty")
        match("root2", root2, root1)
        return True
    if size1 == 0:
        if items:
            raise ProofError("the empty tree needs an empty consistency proof")
        match("root1", root1, EMPTY_ROOT)
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
    check_hash("root1", root1)
    check_hash("root2", root2)
    items = check_proof(proof)
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
            fn, sn = strip_zeros(fn, sn)
        else:
            sr = hash_node(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError(f"proof has {len(items)} hashes: too few for these sizes")
    match("root1", fr, root1)
    match("root2", sr, root2)
