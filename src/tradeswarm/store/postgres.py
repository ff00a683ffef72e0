"""PostgreSQL as the store: the engine, its serialised write transactions, and the lease
that lets one process at a time write the audit log.

Every unit of work that writes (a connection carrying the `tradeswarm_write` execution
option, as SQLite's BEGIN IMMEDIATE does there) first takes a transaction-level advisory
lock, held until it commits or rolls back: two writers never interleave appends to the
hash-chained events log, and a unit of work reads the head it extends under the lock.
The writer lease is a session-level advisory lock on a connection of its own, held for
the Store's life (and dropped by the server if the process dies).
"""

from __future__ import annotations

from sqlalchemy import Connection, Engine, event, inspect, text

from tradeswarm.core.dburl import shown
from tradeswarm.core.errors import StoreError
from tradeswarm.core.pg import create_pg_engine
from tradeswarm.store.sqlite import WRITE_OPTION

# pg_advisory_* keys (one bigint space per database): "ts" then a small number
WRITE_LOCK_KEY = 0x7473_0000_0000_0001
"""Held by every write unit of work, for its transaction."""
WRITER_LEASE_KEY = 0x7473_0000_0000_0002
"""Held by the one audit-log writer, for its session."""


def create_postgres_engine(target: str) -> Engine:
    """A checked engine for the store at the PostgreSQL URL target (see module doc)."""
    engine = create_pg_engine(target)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get(WRITE_OPTION, False):
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({WRITE_LOCK_KEY})")

    return engine


def holds_store(target: str) -> bool:
    """Whether the database at target holds a tradeswarm store (its schema_version
    table); reads only, creates nothing. StoreError if it cannot be reached."""
    engine = create_pg_engine(target)
    try:
        with engine.connect() as conn:
            return inspect(conn).has_table("schema_version")
    finally:
        engine.dispose()


class PostgresLease:
    """The audit-log writer's lease on one PostgreSQL store (see module doc)."""

    def __init__(self, engine: Engine, target: str) -> None:
        conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            got = conn.execute(text(f"SELECT pg_try_advisory_lock({WRITER_LEASE_KEY})")).scalar()
        except BaseException:
            conn.close()
            raise
        if not got:
            conn.close()
            raise StoreError(
                f"{shown(target)}: another writer holds this store (its audit-log writer "
                "lease, a PostgreSQL advisory lock, is taken); stop that swarm first"
            )
        self._conn: Connection | None = conn

    def release(self) -> None:
        """Give the lease up (closing the session would too)."""
        if self._conn is None:
            return
        conn, self._conn = self._conn, None
        try:
            conn.execute(text(f"SELECT pg_advisory_unlock({WRITER_LEASE_KEY})"))
        finally:
            conn.close()
