"""The Merkle tree as stored: roots and proofs in O(log n) node reads."""

from __future__ import annotations

from tradeswarm.audit.merkle import (
    CompactRange,
    NodeId,
    Range,
    combine,
    consistency_ranges,
    inclusion_ranges,
    nodes_for,
    nodes_of_range,
    range_hash,
    stored_ids,
)
from tradeswarm.core.errors import InvariantViolation
from tradeswarm.store.audit_repo import AuditRepository


class StoredTree:
    """Reads the perfect nodes the log stored and combines them into roots and proofs."""

    def __init__(self, repo: AuditRepository) -> None:
        self._repo = repo

    @property
    def size(self) -> int:
        return self._repo.tree_size()

    def _check(self, size: int) -> None:
        have = self._repo.tree_size()
        if not 0 <= size <= have:
            raise ValueError(f"tree size {size} is outside the stored tree (size {have})")

    def _read(self, needed: set[NodeId] | list[NodeId]) -> dict[NodeId, bytes]:
        stored = self._repo.nodes({s for n in needed for s in stored_ids(n)})
        return combine(needed, stored)

    def _hashes(self, size: int, ranges: list[Range]) -> list[bytes]:
        try:
            nodes = self._read(nodes_for(ranges))
            return [range_hash(a, b, nodes) for a, b in ranges]
        except KeyError as err:
            self._check(size)
            raise InvariantViolation(
                f"merkle node {err.args[0]} is missing from the store"
            ) from err

    def root(self, size: int) -> bytes:
        """MTH of the first size entries."""
        if size == 0:
            return CompactRange().root()
        return self._hashes(size, [(0, size)])[0]

    def frontier(self, size: int) -> CompactRange:
        """The compact range [0, size), to go on appending from."""
        ids = nodes_of_range(0, size)
        try:
            nodes = self._read(ids)
        except KeyError as err:
            self._check(size)
            raise InvariantViolation(
                f"merkle node {err.args[0]} is missing from the store"
            ) from err
        return CompactRange(size, [nodes[n] for n in ids])

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """PATH(index, D[0:size])."""
        return self._hashes(size, inclusion_ranges(index, size))

    def consistency_proof(self, size1: int, size2: int) -> list[bytes]:
        """PROOF(size1, D[0:size2]); empty when size1 is 0 or equals size2."""
        if size1 in (0, size2):
            self._check(size2)
            return []
        return self._hashes(size2, consistency_ranges(size1, size2))
