"""crypto.merkle, the one RFC 9162 implementation: whole trees and every leaf's path against
pymerkle (an outside implementation), the RFC's definitions as written, and the
transparency-dev inclusion vectors."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pymerkle
import pytest

from shared_data import MERKLE_DATA
from tradeswarm.audit import merkle as audit_merkle
from tradeswarm.audit import proofs as audit_proofs
from tradeswarm.crypto.merkle import (
    EMPTY_ROOT,
    ProofError,
    hash_leaf,
    root_from_inclusion_proof,
    tree_hash,
    tree_paths,
    verify_inclusion,
)

SIZES = [*range(1, 34), 63, 64, 65, 100, 127, 128, 129, 1000]


def _entries(n: int) -> list[bytes]:
    return [f"entry {i}".encode() for i in range(n)]


def _rfc_mth(d: list[bytes]) -> bytes:
    """RFC 9162 2.1.1, as written: MTH over entries (not leaf hashes)."""
    if len(d) == 1:
        return hashlib.sha256(b"\x00" + d[0]).digest()
    k = 1
    while k * 2 < len(d):
        k *= 2
    return hashlib.sha256(b"\x01" + _rfc_mth(d[:k]) + _rfc_mth(d[k:])).digest()


def _pymerkle(entries: list[bytes]) -> pymerkle.InmemoryTree:
    tree = pymerkle.InmemoryTree(algorithm="sha256")
    for e in entries:
        tree.append_entry(e)
    return tree


@pytest.mark.parametrize("n", SIZES)
def test_the_root_and_every_path_agree_with_pymerkle(n: int) -> None:
    entries = _entries(n)
    peer = _pymerkle(entries)
    leaves = [hash_leaf(e) for e in entries]
    root, paths = tree_paths(leaves)
    assert root == peer.get_root(n) == tree_hash(leaves) == _rfc_mth(entries)
    for i in range(n):
        theirs = [bytes.fromhex(h) for h in peer.prove_inclusion(i + 1, n).serialize()["path"]]
        assert theirs[0] == leaves[i]  # pymerkle's path starts with the leaf itself
        assert paths[i] == theirs[1:], i
        assert root_from_inclusion_proof(leaves[i], i, n, paths[i]) == root


def test_the_empty_tree_hash_is_sha256_of_nothing() -> None:
    assert tree_hash([]) == EMPTY_ROOT == hashlib.sha256(b"").digest()
    with pytest.raises(ValueError, match="at least one leaf"):
        tree_paths([])


def test_tree_hash_takes_any_iterable_in_bounded_memory() -> None:
    leaves = [hash_leaf(e) for e in _entries(37)]
    assert tree_hash(iter(leaves)) == tree_paths(leaves)[0]


def test_the_audit_log_uses_the_same_functions() -> None:
    assert audit_merkle.hash_leaf is hash_leaf
    assert audit_proofs.verify_inclusion is verify_inclusion
    assert audit_proofs.ProofError is ProofError
    leaves = [hash_leaf(e) for e in _entries(300)]
    frontier = audit_merkle.CompactRange()
    frontier.extend(leaves)
    assert audit_merkle.root_of_leaves(leaves) == frontier.root() == tree_hash(leaves)


def _inclusion_vectors() -> list[Path]:
    files = sorted((MERKLE_DATA / "inclusion").glob("*/*.json"))
    assert files, f"no inclusion vectors under {MERKLE_DATA}"
    return files


@pytest.mark.parametrize("path", _inclusion_vectors(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_root_from_inclusion_proof_on_the_rfc_vectors(path: Path) -> None:
    v = json.loads(path.read_text())
    leaf, root = base64.b64decode(v["leafHash"] or ""), base64.b64decode(v["root"] or "")
    proof = None if v["proof"] is None else [base64.b64decode(p) for p in v["proof"]]
    if v["wantErr"]:
        with pytest.raises(ProofError):
            verify_inclusion(leaf, v["leafIdx"], v["treeSize"], proof, root)
    else:
        assert root_from_inclusion_proof(leaf, v["leafIdx"], v["treeSize"], proof) == root


@pytest.mark.parametrize(
    ("index", "size", "cut", "says"),
    [
        (2, 5, -1, "too few"),
        (2, 5, 1, "too many"),
        (5, 5, 0, "outside a tree of size 5"),
        (-1, 5, 0, "outside a tree of size 5"),
    ],
)
def test_a_wrong_path_length_or_index_is_a_proof_error(
    index: int, size: int, cut: int, says: str
) -> None:
    leaves = [hash_leaf(e) for e in _entries(size)]
    _, paths = tree_paths(leaves)
    path = paths[min(max(index, 0), size - 1)]
    path = path[:cut] if cut < 0 else path + [bytes(32)] * cut
    with pytest.raises(ProofError, match=says):
        root_from_inclusion_proof(leaves[0], index, size, path)
