"""Engine creation: durable pragmas on every connection, real BEGINs for transactions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.pool import StaticPool

MEMORY = ":memory:"
WRITE_OPTION = "tradeswarm_write"
SQLITE_MAGIC = b"SQLite format 3\x00"


def is_memory(path: str | Path) -> bool:
    """True when path names an in-memory database."""
    return str(path) == MEMORY


def create_sqlite_engine(path: str | Path) -> Engine:
    """An engine for path: WAL + synchronous FULL for files, one shared connection for memory.

    The driver's own implicit transactions are switched off; each SQLAlchemy
    transaction emits BEGIN (reads) or BEGIN IMMEDIATE (writes, when the
    connection carries the `tradeswarm_write` execution option), so a unit of
    work holds the write lock from its first statement.
    """
    memory = is_memory(path)
    if memory:
        engine = create_engine(
            "sqlite://",
            poolclass=StaticPool,
            connect_args={"check_same_thread": False},
        )
    else:
        engine = create_engine(f"sqlite:///{Path(path)}")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        try:
            if not memory:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA busy_timeout=5000")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine
