"""RFC 9162 Merkle tree arithmetic for the stored log: compact ranges, and which nodes a
proof needs. The hashing itself (leaf, node, a whole tree, inclusion) is
`tradeswarm.crypto.merkle`, shared with burst signatures.

Pure functions, no storage. A *node* is a perfect subtree, named by `(level, index)`: it
covers the leaves `[index * 2**level, (index + 1) * 2**level)`; level 0 is a leaf. The
log stores the perfect nodes of even level >= 2 as they complete (a third as many rows
as entries); an odd-level node is one hash of its two stored children (`stored_ids`).
So any root, inclusion proof or consistency proof is O(log n) node reads.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence

from tradeswarm.crypto.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    LEAF_PREFIX,
    NODE_PREFIX,
    hash_leaf,
    hash_node,
    split_point,
    tree_hash,
)

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "LEAF_PREFIX",
    "NODE_PREFIX",
    "CompactRange",
    "NodeId",
    "Range",
    "combine",
    "consistency_ranges",
    "fold_right",
    "hash_leaf",
    "hash_node",
    "inclusion_ranges",
    "is_stored",
    "nodes_for",
    "nodes_of_range",
    "range_hash",
    "root_of_leaves",
    "split_point",
    "stored_ids",
]

NodeId = tuple[int, int]
Range = tuple[int, int]


def nodes_of_range(start: int, end: int) -> list[NodeId]:
    """The maximal perfect nodes that tile [start, end), left to right."""
    if not 0 <= start <= end:
        raise ValueError(f"range [{start}, {end}) is not a valid leaf range")
    out: list[NodeId] = []
    while start < end:
        level = (start & -start).bit_length() - 1 if start else (end - start).bit_length() - 1
        while start + (1 << level) > end:
            level -= 1
        out.append((level, start >> level))
        start += 1 << level
    return out


def fold_right(hashes: Sequence[bytes]) -> bytes:
    """The root over consecutive perfect subtrees of a right-edge range (largest first)."""
    if not hashes:
        return EMPTY_ROOT
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = hash_node(h, acc)
    return acc


def range_hash(start: int, end: int, nodes: Mapping[NodeId, bytes]) -> bytes:
    """MTH(D[start:end]) from the node hashes of `nodes_of_range(start, end)`."""
    return fold_right([nodes[n] for n in nodes_of_range(start, end)])


def root_of_leaves(leaves: Sequence[bytes]) -> bytes:
    """MTH over a full list of leaf hashes (O(n); for verifiers that hold every entry)."""
    return tree_hash(leaves)


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """The subtrees whose roots form PATH(index, D[0:size]), leaf side first."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is outside a tree of size {size}")
    path: list[Range] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = split_point(hi - lo)
        if index < lo + k:
            path.append((lo + k, hi))
            hi = lo + k
        else:
            path.append((lo, lo + k))
            lo += k
    path.reverse()
    return path


def consistency_ranges(size1: int, size2: int) -> list[Range]:
    """The subtrees whose roots form PROOF(size1, D[0:size2]) (RFC 9162, 2.1.4.1)."""
    if not 0 < size1 <= size2:
        raise ValueError(f"no consistency proof from size {size1} to size {size2}")
    out: list[Range] = []
    lo, hi, whole = 0, size2, True
    while size1 - lo != hi - lo:
        k = split_point(hi - lo)
        if size1 - lo <= k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            lo += k
            whole = False
    if not whole:
        out.append((lo, hi))
    out.reverse()
    return out


def is_stored(level: int) -> bool:
    """Whether the log stores nodes of this level (leaves live in the events table)."""
    return level % 2 == 0


def stored_ids(node: NodeId) -> list[NodeId]:
    """The stored nodes node is read from: itself, or its two children (odd level)."""
    level, index = node
    if is_stored(level):
        return [node]
    return [(level - 1, 2 * index), (level - 1, 2 * index + 1)]


def combine(needed: Iterable[NodeId], stored: Mapping[NodeId, bytes]) -> dict[NodeId, bytes]:
    """The hashes of needed nodes from the stored ones (KeyError names one missing)."""
    out: dict[NodeId, bytes] = {}
    for node in needed:
        parts = stored_ids(node)
        if len(parts) == 1:
            out[node] = stored[node]
        else:
            out[node] = hash_node(stored[parts[0]], stored[parts[1]])
    return out


def nodes_for(ranges: Iterable[Range]) -> set[NodeId]:
    """Every node a list of ranges needs."""
    return {n for start, end in ranges for n in nodes_of_range(start, end)}


class CompactRange:
    """The frontier of [0, size): one perfect subtree root per set bit of size.

    `extend` appends leaf hashes and reports each perfect node (level >= 1) it
    completes, so a store can persist exactly those.
    """

    __slots__ = ("hashes", "size")

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        if len(hashes) != size.bit_count():
            raise ValueError(f"a frontier of size {size} has {size.bit_count()} hashes")
        self.size = size
        self.hashes = list(hashes)

    def extend(
        self, leaves: Iterable[bytes], stored_only: bool = False
    ) -> list[tuple[int, int, bytes]]:
        """Append leaf hashes; return the completed nodes as (level, index, hash), or only
        those the log stores (`is_stored`) when stored_only."""
        sha256 = hashlib.sha256
        completed: list[tuple[int, int, bytes]] = []
        keep = completed.append
        step = 2 if stored_only else 1  # stored levels are the even ones
        hashes, size = self.hashes, self.size
        for leaf in leaves:
            h, level, index = leaf, 0, size
            while index & 1:
                h = sha256(NODE_PREFIX + hashes.pop() + h).digest()  # hash_node, inlined
                level += 1
                index >>= 1
                if level % step == 0:
                    keep((level, index, h))
            hashes.append(h)
            size += 1
        self.size = size
        return completed

    def root(self) -> bytes:
        """MTH(D[0:size])."""
        return fold_right(self.hashes)

    def copy(self) -> CompactRange:
        return CompactRange(self.size, list(self.hashes))
