"""The append-only event log: one row per envelope, hash-chained (RFC 9162 leaf hashes)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence

import msgspec
from sqlalchemy import Connection, bindparam, func, select
from sqlalchemy.exc import IntegrityError

from tradeswarm.core.errors import StoreError
from tradeswarm.core.fastsql import FastStatement, savepoint
from tradeswarm.model.envelope import Envelope, encode_envelope
from tradeswarm.store.schema import events

GENESIS_HASH = b"\x00" * 32


class EventRow(msgspec.Struct, frozen=True, kw_only=True):
    """One stored event; body is the canonical envelope encoding (the record: topic,
    sender, correlation and causation ids are read from it), msg_id its UUID text."""

    seq: int
    msg_id: str
    type: str
    ts_ns: int
    body: bytes
    leaf_hash: bytes
    chain_hash: bytes


class ChainHead(msgspec.Struct, frozen=True):
    """The last row's seq and chain hash (seq 0 and the zero hash for an empty log)."""

    seq: int
    chain_hash: bytes


def leaf_hash(body: bytes) -> bytes:
    """RFC 9162 leaf hash: SHA-256 over 0x00 || body."""
    return hashlib.sha256(b"\x00" + body).digest()


def chain_hash(prev: bytes, leaf: bytes) -> bytes:
    """Chain link: SHA-256 over the previous chain hash || this leaf hash."""
    return hashlib.sha256(prev + leaf).digest()


def load_head(conn: Connection) -> ChainHead:
    row = conn.execute(
        select(events.c.seq, events.c.chain_hash).order_by(events.c.seq.desc()).limit(1)
    ).first()
    if row is None:
        return ChainHead(0, GENESIS_HASH)
    return ChainHead(int(row[0]), bytes(row[1]))


_ID_WIDTH = 250  # msg_ids per lookup; unused slots hold NULL, which matches nothing
_ID_NAMES = tuple(f"m{i}" for i in range(_ID_WIDTH))
_EXISTING_IDS = FastStatement(
    select(events.c.msg_id).where(events.c.msg_id.in_([bindparam(n) for n in _ID_NAMES]))
)
_COLUMNS = tuple(c.key for c in events.columns)
_INSERT = FastStatement(events.insert())
_LEAVES_BETWEEN = FastStatement(
    select(events.c.leaf_hash)
    .where(events.c.seq >= bindparam("first"), events.c.seq <= bindparam("last"))
    .order_by(events.c.seq)
)
_READ_AFTER = FastStatement(
    select(*[events.c[k] for k in _COLUMNS])
    .where(events.c.seq > bindparam("after"))
    .order_by(events.c.seq)
    .limit(bindparam("limit"))
)


def _existing_ids(conn: Connection, ids: list[bytes]) -> set[bytes]:
    found: set[bytes] = set()
    for i in range(0, len(ids), _ID_WIDTH):
        chunk: list[bytes | None] = list(ids[i : i + _ID_WIDTH])
        chunk += [None] * (_ID_WIDTH - len(chunk))
        params = dict(zip(_ID_NAMES, chunk, strict=True))
        found.update(bytes(r[0]) for r in _EXISTING_IDS.rows(conn, params))
    return found


_Row = tuple[int, bytes, str, int, bytes, bytes, bytes]


def _rows(
    head: ChainHead,
    envs: Sequence[Envelope],
    bodies: list[bytes],
    ids: list[bytes],
    seen: set[bytes],
) -> tuple[list[_Row], list[int | None]]:
    """One pass over the encoded envelopes: leaf hash and chain hash over those bytes."""
    sha256 = hashlib.sha256
    seq, prev = head.seq, head.chain_hash
    rows: list[_Row] = []
    result: list[int | None] = []
    for env, body, msg_id in zip(envs, bodies, ids, strict=True):
        if msg_id in seen:
            result.append(None)
            continue
        seen.add(msg_id)
        leaf = sha256(b"\x00" + body).digest()
        prev = sha256(prev + leaf).digest()
        seq += 1
        result.append(seq)
        rows.append((seq, msg_id, env.type, env.ts_ns, body, leaf, prev))
    return rows, result


def _insert_new(conn: Connection, rows: list[_Row]) -> bool:
    """Insert rows in a savepoint; False (nothing left behind) if one is already there."""
    try:
        with savepoint(conn, "event_append"):
            _INSERT.executemany_tuples(conn, _COLUMNS, rows)
    except IntegrityError:
        return False
    return True


def append(
    conn: Connection, head: ChainHead, envs: Sequence[Envelope]
) -> tuple[ChainHead, list[int | None], list[bytes]]:
    """Insert the envelopes not yet logged; return the new head, each one's seq or None,
    and the leaf hashes of the rows inserted (seq head.seq + 1 onwards).

    Each envelope is encoded once. Logged msg_ids are rare (a crash replay), so the rows
    are first inserted as if none were; when the unique msg_id index (or a seq taken by
    another writer) refuses them, the savepoint is rolled back and the batch is redone
    without the msg_ids already logged."""
    encode = encode_envelope
    bodies = [encode(env) for env in envs]
    ids = [env.msg_id.bytes for env in envs]
    rows, result = _rows(head, envs, bodies, ids, set())
    if not _insert_new(conn, rows):
        rows, result = _rows(head, envs, bodies, ids, _existing_ids(conn, ids))
        if rows and not _insert_new(conn, rows):
            raise StoreError(
                f"event log moved under this store (another writer?) at seq {head.seq + 1}"
            )
    if not rows:
        return head, result, []
    return ChainHead(rows[-1][0], rows[-1][-1]), result, [r[5] for r in rows]


def _msg_id_text(value: object) -> str:
    """The stored msg_id as UUID text; anything else (a tampered row) as a marker that
    matches no envelope, so the verifier reports it instead of failing."""
    if isinstance(value, bytes) and len(value) == 16:
        return str(uuid.UUID(bytes=value))
    return f"<not a 16-byte msg_id: {value!r}>"


def read_after(conn: Connection, after_seq: int, limit: int) -> list[EventRow]:
    return [
        EventRow(
            seq=r[0],
            msg_id=_msg_id_text(r[1]),
            type=r[2],
            ts_ns=r[3],
            body=bytes(r[4]),
            leaf_hash=bytes(r[5]),
            chain_hash=bytes(r[6]),
        )
        for r in _READ_AFTER.rows(conn, {"after": after_seq, "limit": limit})
    ]


def count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(events)).scalar_one())


def count_of_type(conn: Connection, type_: str, start_ns: int, end_ns: int) -> int:
    stmt = (
        select(func.count())
        .select_from(events)
        .where(events.c.type == type_, events.c.ts_ns >= start_ns, events.c.ts_ns < end_ns)
    )
    return int(conn.execute(stmt).scalar_one())


def leaf_hashes_between(conn: Connection, first_seq: int, last_seq: int) -> list[bytes]:
    """The leaf hashes of seq first_seq..last_seq inclusive, in seq order."""
    rows = _LEAVES_BETWEEN.rows(conn, {"first": first_seq, "last": last_seq})
    return [bytes(r[0]) for r in rows]


def head_seq(conn: Connection) -> int:
    return int(conn.execute(select(func.coalesce(func.max(events.c.seq), 0))).scalar_one())


_BY_ID = FastStatement(select(events.c.seq).where(events.c.msg_id == bindparam("id")))
_LAST_OF_TYPE = FastStatement(
    select(events.c.body)
    .where(events.c.type == bindparam("type"))
    .order_by(events.c.seq.desc())
    .limit(1)
)


def has_msg_id(conn: Connection, msg_id: uuid.UUID) -> bool:
    """Whether an envelope with msg_id is logged."""
    return _BY_ID.scalar(conn, {"id": msg_id.bytes}) is not None


_LEAF_BY_ID = FastStatement(select(events.c.leaf_hash).where(events.c.msg_id == bindparam("id")))


def leaf_hash_of(conn: Connection, msg_id: uuid.UUID) -> bytes | None:
    """The leaf hash of the logged envelope with msg_id, or None."""
    found = _LEAF_BY_ID.scalar(conn, {"id": msg_id.bytes})
    return None if found is None else bytes(found)


def last_body_of_type(conn: Connection, type_: str) -> bytes | None:
    """The body of the newest logged envelope of one message type."""
    found = _LAST_OF_TYPE.scalar(conn, {"type": type_})
    return None if found is None else bytes(found)
