"""The append-only event log: one row per envelope, hash-chained (RFC 9162 leaf hashes)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import msgspec
from sqlalchemy import Connection, bindparam, func, select
from sqlalchemy.exc import IntegrityError

from tradeswarm.core.errors import StoreError
from tradeswarm.core.fastsql import FastStatement
from tradeswarm.model.envelope import Envelope, encode_envelope
from tradeswarm.store.schema import events

GENESIS_HASH = b"\x00" * 32


class EventRow(msgspec.Struct, frozen=True, kw_only=True):
    """One stored event; body is the canonical envelope encoding."""

    seq: int
    msg_id: str
    topic: str
    type: str
    sender: str
    correlation_id: str
    causation_id: str | None
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


def _existing_ids(conn: Connection, ids: list[str]) -> set[str]:
    found: set[str] = set()
    for i in range(0, len(ids), _ID_WIDTH):
        chunk: list[str | None] = list(ids[i : i + _ID_WIDTH])
        chunk += [None] * (_ID_WIDTH - len(chunk))
        params = dict(zip(_ID_NAMES, chunk, strict=True))
        found.update(str(r[0]) for r in _EXISTING_IDS.rows(conn, params))
    return found


_Row = tuple[int, str, str, str, str, str, str | None, int, bytes, bytes, bytes]


def _rows(
    head: ChainHead, envs: Sequence[Envelope], ids: list[str], seen: set[str]
) -> tuple[list[_Row], list[int | None]]:
    sha256 = hashlib.sha256
    seq, prev = head.seq, head.chain_hash
    rows: list[_Row] = []
    result: list[int | None] = []
    for env, msg_id in zip(envs, ids, strict=True):
        if msg_id in seen:
            result.append(None)
            continue
        seen.add(msg_id)
        body = encode_envelope(env)
        leaf = sha256(b"\x00" + body).digest()
        prev = sha256(prev + leaf).digest()
        seq += 1
        result.append(seq)
        cause = None if env.causation_id is None else str(env.causation_id)
        rows.append(
            (
                seq,
                msg_id,
                env.topic,
                env.type,
                env.sender,
                str(env.correlation_id),
                cause,
                env.ts_ns,
                body,
                leaf,
                prev,
            )
        )
    return rows, result


def append(
    conn: Connection, head: ChainHead, envs: Sequence[Envelope]
) -> tuple[ChainHead, list[int | None], list[bytes]]:
    """Insert the envelopes not yet logged; return the new head, each one's seq or None,
    and the leaf hashes of the rows inserted (seq head.seq + 1 onwards)."""
    ids = [str(env.msg_id) for env in envs]
    rows, result = _rows(head, envs, ids, _existing_ids(conn, ids))
    if not rows:
        return head, result, []
    try:
        _INSERT.executemany_tuples(conn, _COLUMNS, rows)
    except IntegrityError as err:
        raise StoreError(
            f"event log moved under this store (another writer?) at seq {head.seq + 1}"
        ) from err
    return ChainHead(rows[-1][0], rows[-1][-1]), result, [r[9] for r in rows]


def read_after(conn: Connection, after_seq: int, limit: int) -> list[EventRow]:
    return [
        EventRow(
            seq=r[0],
            msg_id=r[1],
            topic=r[2],
            type=r[3],
            sender=r[4],
            correlation_id=r[5],
            causation_id=r[6],
            ts_ns=r[7],
            body=bytes(r[8]),
            leaf_hash=bytes(r[9]),
            chain_hash=bytes(r[10]),
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
