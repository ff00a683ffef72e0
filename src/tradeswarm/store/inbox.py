"""The inbox: signed envelopes from other processes, waiting for the swarm's gate."""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, delete, select

from tradeswarm.core.fastsql import FastStatement
from tradeswarm.store.schema import inbox

_TAKE = FastStatement(select(inbox.c.seq, inbox.c.wire).order_by(inbox.c.seq))
_DROP = FastStatement(delete(inbox).where(inbox.c.seq <= bindparam("last")))


def put(conn: Connection, wire: bytes, received_ns: int) -> int:
    """Queue one envelope's wire bytes; return its place in the queue."""
    result = conn.execute(inbox.insert().values(wire=wire, received_ns=received_ns))
    key = result.inserted_primary_key
    return int(key[0]) if key is not None else 0


def take(conn: Connection) -> list[bytes]:
    """Every queued envelope, oldest first, removed from the queue (in the caller's unit
    of work: they are gone only if it commits)."""
    rows = _TAKE.rows(conn)
    if rows:
        _DROP.run(conn, {"last": rows[-1][0]})
    return [bytes(r[1]) for r in rows]


def pending(conn: Connection) -> int:
    return len(_TAKE.rows(conn))
