"""The audit log's tables: Merkle nodes, checkpoints, cosignatures, verifier keys.

Plain SQLAlchemy Core (portable to PostgreSQL). The Merkle arithmetic lives in
`tradeswarm.audit`; this repository stores and fetches what it computes, inside the
Store's unit of work so the tree commits with the events it covers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import msgspec
from sqlalchemy import ClauseElement, Connection, bindparam, func, select, union_all
from sqlalchemy.dialects import postgresql, sqlite

from tradeswarm.core.errors import InvariantViolation
from tradeswarm.core.fastsql import FastStatement
from tradeswarm.store import events as ev
from tradeswarm.store.schema import (
    audit_keys,
    checkpoints,
    cosignatures,
    events,
    merkle_nodes,
    meta,
)

TREE_SIZE_KEY = "merkle.size"
_CHUNK = 400

ConnScope = Callable[[], AbstractContextManager[Connection]]


class CheckpointRow(msgspec.Struct, frozen=True):
    size: int
    root: bytes
    note: str
    ts_ns: int


class CosignatureRow(msgspec.Struct, frozen=True):
    size: int
    witness: str
    line: str
    ts_s: int


class KeyRow(msgspec.Struct, frozen=True):
    vkey: str
    role: str
    name: str
    algorithm: str


def _checkpoint(r: Any) -> CheckpointRow:
    return CheckpointRow(int(r[0]), bytes(r[1]), str(r[2]), int(r[3]))


LEVEL_SHIFT = 56


def node_key(level: int, index: int) -> int:
    """The merkle_nodes primary key of node (level, index)."""
    return (level << LEVEL_SHIFT) | index


_WIDTH = 64  # ids per lookup; unused slots hold -1, which matches nothing
_NODES_BY_KEY = FastStatement(
    union_all(
        select((events.c.seq - 1).label("id"), events.c.leaf_hash.label("hash")).where(
            events.c.seq.in_([bindparam(f"s{i}") for i in range(_WIDTH)])
        ),
        select(merkle_nodes.c.id, merkle_nodes.c.hash).where(
            merkle_nodes.c.id.in_([bindparam(f"k{i}") for i in range(_WIDTH)])
        ),
    )
)
_INSERT_NODE = FastStatement(
    merkle_nodes.insert().values(id=bindparam("id"), hash=bindparam("hash"))
)
_MASK = (1 << LEVEL_SHIFT) - 1
_NODE_COLUMNS = ("id", "hash")
# Read and written once per logged batch: prepared, like the event appends.
_GET_SIZE = FastStatement(select(meta.c.value).where(meta.c.key == TREE_SIZE_KEY))
_HEAD_SEQ = FastStatement(select(func.coalesce(func.max(events.c.seq), 0)))
_CHECKPOINT_OF_SIZE = FastStatement(
    select(checkpoints).where(checkpoints.c.size == bindparam("size"))
)
_INSERT_CHECKPOINT = FastStatement(checkpoints.insert())
_LATEST_CHECKPOINT = FastStatement(select(checkpoints).order_by(checkpoints.c.size.desc()).limit(1))


def _set_size_statement(dialect: str) -> ClauseElement:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(meta).values(key=TREE_SIZE_KEY, value=bindparam("size"))
    return stmt.on_conflict_do_update(
        index_elements=[meta.c.key], set_={"value": stmt.excluded.value}
    )


_SET_SIZE = FastStatement(_set_size_statement)


def _padded(prefix: str, values: list[int]) -> dict[str, int]:
    return {f"{prefix}{i}": values[i] if i < len(values) else -1 for i in range(_WIDTH)}


class AuditRepository:
    """Reads and writes the audit tables through the Store's transactions."""

    def __init__(self, tx: ConnScope, read: ConnScope) -> None:
        self._tx = tx
        self._read = read

    # -- the tree -----------------------------------------------------------------------

    def tree_size(self) -> int:
        """How many log entries the Merkle tree covers."""
        with self._read() as conn:
            return int(_GET_SIZE.scalar(conn) or 0)

    def event_head(self) -> int:
        """The log's last seq (= how many entries it holds)."""
        with self._read() as conn:
            return int(_HEAD_SEQ.scalar(conn))

    def extend_tree(self, new_size: int, nodes: list[tuple[int, int, bytes]]) -> None:
        """Store completed nodes (level, index, hash) and the new tree size, in one unit."""
        with self._tx() as conn:
            if nodes:
                _INSERT_NODE.executemany_tuples(
                    conn, _NODE_COLUMNS, [((lv << LEVEL_SHIFT) | i, h) for lv, i, h in nodes]
                )
            _SET_SIZE.run(conn, {"size": str(new_size)})

    def leaves(self, start: int, end: int) -> list[bytes]:
        """Leaf hashes of entries [start, end) (entry index = seq - 1)."""
        if end <= start:
            return []
        with self._read() as conn:
            return ev.leaf_hashes_between(conn, start + 1, end)

    def nodes(self, ids: Iterable[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        """The hashes of the given nodes (those stored); level 0 reads the events' leaf
        hashes. One indexed query per 64 leaves and 64 inner nodes."""
        wanted = set(ids)
        seqs = sorted(i + 1 for lv, i in wanted if lv == 0)
        keys = sorted(node_key(lv, i) for lv, i in wanted if lv > 0)
        out: dict[tuple[int, int], bytes] = {}
        with self._read() as conn:
            for k in range(0, max(len(seqs), len(keys)), _WIDTH):
                params = _padded("s", seqs[k : k + _WIDTH]) | _padded("k", keys[k : k + _WIDTH])
                for key, h in _NODES_BY_KEY.rows(conn, params):
                    out[(int(key) >> LEVEL_SHIFT, int(key) & _MASK)] = bytes(h)
        return out

    def iter_nodes(self) -> Iterator[tuple[int, int, bytes]]:
        """Every stored node (level >= 1) as (level, index, hash), by level then index."""
        with self._read() as conn:
            rows = conn.execute(
                select(merkle_nodes.c.id, merkle_nodes.c.hash).order_by(merkle_nodes.c.id)
            ).all()
        for key, h in rows:
            yield int(key) >> LEVEL_SHIFT, int(key) & _MASK, bytes(h)

    # -- checkpoints ----------------------------------------------------------------------

    def add_checkpoint(self, cp: CheckpointRow) -> bool:
        """Store a checkpoint; False if this very one is stored, InvariantViolation if a
        different checkpoint already holds its size (never two per size)."""
        with self._tx() as conn:
            found = _CHECKPOINT_OF_SIZE.first(conn, {"size": cp.size})
            if found is not None:
                if _checkpoint(found) != cp:
                    raise InvariantViolation(
                        f"a different checkpoint for tree size {cp.size} already exists"
                    )
                return False
            _INSERT_CHECKPOINT.run(conn, msgspec.structs.asdict(cp))
            return True

    def checkpoints(self) -> list[CheckpointRow]:
        """Every checkpoint, by size."""
        with self._read() as conn:
            rows = conn.execute(select(checkpoints).order_by(checkpoints.c.size))
            return [_checkpoint(r) for r in rows]

    def latest_checkpoint(self) -> CheckpointRow | None:
        """The checkpoint of the largest size, if any."""
        with self._read() as conn:
            row = _LATEST_CHECKPOINT.first(conn)
            return None if row is None else _checkpoint(row)

    def checkpoint_count(self) -> int:
        with self._read() as conn:
            return int(conn.execute(select(func.count()).select_from(checkpoints)).scalar_one())

    # -- cosignatures and keys ------------------------------------------------------------

    def add_cosignature(self, row: CosignatureRow) -> None:
        """Store a witness's cosignature line (a repeat of the same one is a no-op)."""
        with self._tx() as conn:
            found = conn.execute(
                select(cosignatures.c.line).where(
                    cosignatures.c.size == row.size, cosignatures.c.witness == row.witness
                )
            ).first()
            if found is None:
                conn.execute(cosignatures.insert().values(**msgspec.structs.asdict(row)))

    def last_cosigned(self, witness: str) -> int:
        """The largest size witness has cosigned (0: none). The primary key (size, witness)
        read backwards stops at the newest row of that witness: a checkpoint asks this each
        time, and read every cosignature ever stored before."""
        with self._read() as conn:
            found = conn.execute(
                select(cosignatures.c.size)
                .where(cosignatures.c.witness == witness)
                .order_by(cosignatures.c.size.desc())
                .limit(1)
            ).scalar_one_or_none()
            return 0 if found is None else int(found)

    def cosignatures(self) -> list[CosignatureRow]:
        """Every cosignature, by size then witness."""
        with self._read() as conn:
            rows = conn.execute(
                select(cosignatures).order_by(cosignatures.c.size, cosignatures.c.witness)
            )
            return [CosignatureRow(int(r[0]), str(r[1]), str(r[2]), int(r[3])) for r in rows]

    def add_key(self, key: KeyRow) -> None:
        """Record a verifier key (idempotent)."""
        with self._tx() as conn:
            found = conn.execute(select(audit_keys.c.vkey).where(audit_keys.c.vkey == key.vkey))
            if found.first() is None:
                conn.execute(audit_keys.insert().values(**msgspec.structs.asdict(key)))

    def verifier_keys(self) -> list[KeyRow]:
        """Every recorded verifier key."""
        with self._read() as conn:
            rows = conn.execute(select(audit_keys).order_by(audit_keys.c.role, audit_keys.c.vkey))
            return [KeyRow(str(a), str(b), str(c), str(d)) for a, b, c, d in rows]
