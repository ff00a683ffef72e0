"""Ordered schema migrations, applied on open inside one write transaction."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import msgspec
from sqlalchemy import Connection, Engine, func, select, text
from sqlalchemy.exc import DBAPIError

from tradeswarm.core.errors import StoreError
from tradeswarm.store import schema
from tradeswarm.store.sqlite import SQLITE_MAGIC, WRITE_OPTION, is_memory


class Migration(msgspec.Struct, frozen=True):
    """One schema step: applied once, in version order, never edited after release."""

    version: int
    description: str
    apply: Callable[[Connection], None]


def _v1_initial(conn: Connection) -> None:
    # Version 1 is the first shape of the tables; later steps must use explicit DDL.
    schema.metadata.create_all(conn, tables=list(schema.STORE_TABLES))


def _v2_audit_log(conn: Connection) -> None:
    for table in schema.AUDIT_TABLES:
        table.create(conn)


def _v3_oversight_signatures(conn: Connection) -> None:
    schema.oversight_signatures.create(conn)


def _v4_drop_correlation_index(conn: Connection) -> None:
    # No query reads events by correlation_id (order chains are found by scanning the log
    # once); the index cost every append a second B-tree insert.
    conn.execute(text("DROP INDEX IF EXISTS ix_events_correlation"))


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial schema", _v1_initial),
    Migration(2, "merkle nodes, checkpoints, cosignatures, audit keys", _v2_audit_log),
    Migration(3, "human signatures on oversight decisions", _v3_oversight_signatures),
    Migration(4, "drop the unused events correlation index", _v4_drop_correlation_index),
)
LATEST_VERSION = MIGRATIONS[-1].version


def check_file(path: str | Path) -> None:
    """Refuse a file that exists but is not a SQLite database."""
    if is_memory(path):
        return
    p = Path(path)
    if p.is_dir():
        raise StoreError(f"{p}: is a directory, not a tradeswarm store")
    if not p.exists() or p.stat().st_size == 0:
        return
    with p.open("rb") as fh:
        header = fh.read(len(SQLITE_MAGIC))
    if header != SQLITE_MAGIC:
        raise StoreError(f"{p}: not a SQLite database (bad file header)")


def _user_tables(conn: Connection) -> set[str]:
    rows = conn.execute(
        text("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")
    )
    return {str(r[0]) for r in rows}


def _current_version(conn: Connection, path: str | Path) -> int:
    tables = _user_tables(conn)
    if schema.schema_version.name not in tables:
        if tables:
            raise StoreError(
                f"{path}: not a tradeswarm store (SQLite database without a schema_version "
                f"table; found tables: {', '.join(sorted(tables))})"
            )
        schema.schema_version.create(conn)
        return 0
    found = conn.execute(select(func.max(schema.schema_version.c.version))).scalar()
    return int(found or 0)


def migrate(engine: Engine, path: str | Path) -> int:
    """Apply pending migrations; return the schema version now in force."""
    try:
        with engine.connect() as conn:
            conn.execution_options(**{WRITE_OPTION: True})
            with conn.begin():
                current = _current_version(conn, path)
                if current > LATEST_VERSION:
                    raise StoreError(
                        f"{path}: store schema version {current} is newer than this code "
                        f"supports (version {LATEST_VERSION}); upgrade tradeswarm"
                    )
                for step in MIGRATIONS:
                    if step.version > current:
                        step.apply(conn)
                        conn.execute(
                            schema.schema_version.insert().values(
                                version=step.version, description=step.description
                            )
                        )
                return max(current, LATEST_VERSION)
    except DBAPIError as err:
        raise StoreError(f"{path}: cannot open as a tradeswarm store: {err.orig}") from err
