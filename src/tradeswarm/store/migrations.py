"""Ordered schema migrations, applied on open inside one write transaction."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import msgspec
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.exc import DBAPIError

from tradeswarm.core.dburl import is_url
from tradeswarm.core.errors import StoreError
from tradeswarm.core.pg import BYTEWISE_TEXT, reason
from tradeswarm.store import schema
from tradeswarm.store.sqlite import SQLITE_MAGIC, WRITE_OPTION, is_memory


class Migration(msgspec.Struct, frozen=True):
    """One schema step: applied once, in version order, never edited after release."""

    version: int
    description: str
    apply: Callable[[Connection], None]


# The events table as versions 1-4 had it (migration 5 rebuilds it); frozen here so that
# version 1 keeps creating the shape the later steps expect.
_EVENTS_V1 = Table(
    "events",
    MetaData(),
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("msg_id", BYTEWISE_TEXT, nullable=False, unique=True),
    Column("topic", BYTEWISE_TEXT, nullable=False),
    Column("type", BYTEWISE_TEXT, nullable=False),
    Column("sender", BYTEWISE_TEXT, nullable=False),
    Column("correlation_id", BYTEWISE_TEXT, nullable=False),
    Column("causation_id", BYTEWISE_TEXT, nullable=True),
    Column("ts_ns", BigInteger, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("leaf_hash", LargeBinary, nullable=False),
    Column("chain_hash", LargeBinary, nullable=False),
    sqlite_autoincrement=True,
)


# risk_events as versions 1-7 had it (migration 8 adds its insertion order), frozen too.
_RISK_EVENTS_V1 = Table(
    "risk_events",
    MetaData(),
    Column("event_id", BYTEWISE_TEXT, primary_key=True),
    Column("intent_id", BYTEWISE_TEXT, nullable=False),
    Column("agent_id", BYTEWISE_TEXT, nullable=False),
    Column("event_type", BYTEWISE_TEXT, nullable=False),
    Column("severity", BYTEWISE_TEXT, nullable=False),
    Column("verdict", BYTEWISE_TEXT, nullable=False),
    Column("reasons", BYTEWISE_TEXT, nullable=False),
    Column("metrics", BYTEWISE_TEXT, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("ts_ns", BigInteger, nullable=False),
)
Index("ix_risk_events_ts", _RISK_EVENTS_V1.c.ts_ns)
Index("ix_risk_events_intent", _RISK_EVENTS_V1.c.intent_id)
_FROZEN = {"events": _EVENTS_V1, "risk_events": _RISK_EVENTS_V1}


def _v1_initial(conn: Connection) -> None:
    # Version 1 is the first shape of the tables; later steps must use explicit DDL.
    tables = [t for t in schema.STORE_TABLES if t.name not in _FROZEN]
    schema.metadata.create_all(conn, tables=tables)
    for table in _FROZEN.values():
        table.create(conn)


# PostgreSQL's B-tree cannot index an ML-DSA-87 vkey (3.5 kB, over its 2.7 kB limit):
# there the vkeys are kept unique by a hash index's exclusion constraint instead.
_AUDIT_KEYS_PG = text(
    'CREATE TABLE audit_keys (vkey TEXT COLLATE "C" NOT NULL, role TEXT COLLATE "C" NOT NULL,'
    ' name TEXT COLLATE "C" NOT NULL, algorithm TEXT COLLATE "C" NOT NULL,'
    " CONSTRAINT ux_audit_keys_vkey EXCLUDE USING hash (vkey WITH =))"
)


def _v2_audit_log(conn: Connection) -> None:
    for table in schema.AUDIT_TABLES:
        if table is schema.audit_keys and conn.dialect.name == "postgresql":
            conn.execute(_AUDIT_KEYS_PG)
        else:
            table.create(conn)


def _v3_oversight_signatures(conn: Connection) -> None:
    schema.oversight_signatures.create(conn)


def _v4_drop_correlation_index(conn: Connection) -> None:
    # No query reads events by correlation_id (order chains are found by scanning the log
    # once); the index cost every append a second B-tree insert.
    conn.execute(text("DROP INDEX IF EXISTS ix_events_correlation"))


_V4_PAGE = 5000
_V4_ROWS = text(
    "SELECT seq, msg_id, type, ts_ns, body, leaf_hash, chain_hash FROM events_v4"
    " WHERE seq > :after ORDER BY seq LIMIT :page"
)


def _msg_id_bytes(seq: int, value: object) -> bytes:
    try:
        return uuid.UUID(str(value)).bytes
    except ValueError as err:
        raise StoreError(f"events seq {seq}: msg_id {value!r} is not a UUID") from err


def _v5_compact_events(conn: Connection) -> None:
    # msg_id as its 16 bytes (a smaller unique index); topic, sender, correlation_id and
    # causation_id, which no query reads, left in the body; seq given by the store, so no
    # AUTOINCREMENT. Rows are copied unchanged otherwise (body and hashes as they were).
    conn.execute(text("ALTER TABLE events RENAME TO events_v4"))
    if conn.dialect.name == "postgresql":  # index names are per schema there, not per table
        conn.execute(text("ALTER INDEX events_pkey RENAME TO events_v4_pkey"))
    schema.events.create(conn)
    after = 0
    while True:
        rows = conn.execute(_V4_ROWS, {"after": after, "page": _V4_PAGE}).all()
        if not rows:
            break
        conn.execute(
            schema.events.insert(),
            [
                {
                    "seq": r[0],
                    "msg_id": _msg_id_bytes(r[0], r[1]),
                    "type": r[2],
                    "ts_ns": r[3],
                    "body": r[4],
                    "leaf_hash": r[5],
                    "chain_hash": r[6],
                }
                for r in rows
            ],
        )
        after = int(rows[-1][0])
    conn.execute(text("DROP TABLE events_v4"))


def _v6_inbox(conn: Connection) -> None:
    schema.inbox.create(conn)


def _v7_trades_by_side(conn: Connection) -> None:
    # first_trade's LIMIT 1 by (symbol, side, ts_event, fill_id): without it a one-sided
    # market scans every trade of the wash window (schema.py declares it for new stores)
    conn.execute(
        text(
            "CREATE INDEX IF NOT EXISTS ix_trades_symbol_side_ts"
            " ON trades (symbol, side, ts_event, fill_id)"
        )
    )


def _v8_risk_events_order(conn: Connection) -> None:
    # The latest decision on an intent is the one of the largest ts_ns, and on equal ts_ns
    # the one stored last: an explicit insertion order (SQLite's rowid was it before, and
    # PostgreSQL has none). Existing rows keep the order they were stored in.
    conn.execute(text("ALTER TABLE risk_events ADD COLUMN seq BIGINT NOT NULL DEFAULT 0"))
    if conn.dialect.name == "sqlite":
        conn.execute(text("UPDATE risk_events SET seq = rowid"))
    else:  # no PostgreSQL store predates this step: a store made now has no rows yet
        conn.execute(
            text(
                "UPDATE risk_events SET seq = o.n FROM (SELECT event_id, row_number()"
                " OVER (ORDER BY ts_ns, event_id) AS n FROM risk_events) AS o"
                " WHERE risk_events.event_id = o.event_id"
            )
        )
    conn.execute(text("CREATE UNIQUE INDEX ux_risk_events_seq ON risk_events (seq)"))


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial schema", _v1_initial),
    Migration(2, "merkle nodes, checkpoints, cosignatures, audit keys", _v2_audit_log),
    Migration(3, "human signatures on oversight decisions", _v3_oversight_signatures),
    Migration(4, "drop the unused events correlation index", _v4_drop_correlation_index),
    Migration(5, "events: msg_id as 16 bytes, unread copied columns dropped", _v5_compact_events),
    Migration(6, "an inbox of signed commands from other processes", _v6_inbox),
    Migration(7, "trades indexed by symbol, side and time", _v7_trades_by_side),
    Migration(8, "risk_events: an explicit insertion order", _v8_risk_events_order),
)
LATEST_VERSION = MIGRATIONS[-1].version


def check_file(path: str | Path) -> None:
    """Refuse a file that exists but is not a SQLite database."""
    if is_memory(path) or is_url(path):
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
    """The tables of the store's schema (SQLite's own excluded; on PostgreSQL the
    connection's current schema, so the paper broker's schema is not among them)."""
    return set(inspect(conn).get_table_names())


_KIND = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


def _current_version(conn: Connection, path: str | Path) -> int:
    tables = _user_tables(conn)
    if schema.schema_version.name not in tables:
        if tables:
            raise StoreError(
                f"{path}: not a tradeswarm store ({_KIND[conn.dialect.name]} database without a "
                f"schema_version table; found tables: {', '.join(sorted(tables))})"
            )
        schema.schema_version.create(conn)
        return 0
    found = conn.execute(select(func.max(schema.schema_version.c.version))).scalar()
    return int(found or 0)


def migrate(engine: Engine, path: str | Path, until: int = LATEST_VERSION) -> int:
    """Apply pending migrations up to version `until` (tests build older stores with it);
    return the schema version now in force."""
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
                    if current < step.version <= until:
                        step.apply(conn)
                        conn.execute(
                            schema.schema_version.insert().values(
                                version=step.version, description=step.description
                            )
                        )
                return max(current, min(until, LATEST_VERSION))
    except DBAPIError as err:
        why = reason(err) if engine.dialect.name == "postgresql" else err.orig
        raise StoreError(f"{path}: cannot open as a tradeswarm store: {why}") from err
