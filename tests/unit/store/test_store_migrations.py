from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import msgspec
import pytest
from store_factories import make_decision, make_envelope, make_order

from tradeswarm.core.errors import StoreError
from tradeswarm.model.envelope import Envelope, encode_envelope
from tradeswarm.store import Store, decisions
from tradeswarm.store.migrations import LATEST_VERSION, migrate
from tradeswarm.store.sqlite import create_sqlite_engine


def pragma(path: Path, name: str) -> object:
    with sqlite3.connect(path) as conn:
        return conn.execute(f"PRAGMA {name}").fetchone()[0]


def test_file_store_uses_wal_and_full_sync(sqlite_store: Store) -> None:
    store = sqlite_store
    conn = store._engine.raw_connection()
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    finally:
        conn.close()
    assert pragma(store.path, "journal_mode") == "wal"


def test_memory_store_works(tmp_path: Path) -> None:
    with Store.open(":memory:") as s:
        assert str(s.path) == ":memory:"
        s.append_events([make_envelope(1), make_envelope(2)])
        s.set_meta("a", "b")
        assert s.event_count() == 2
        assert s.get_meta("a") == "b"


def versions(path: Path) -> list[int]:
    with sqlite3.connect(path) as conn:
        return [r[0] for r in conn.execute("SELECT version FROM schema_version ORDER BY version")]


def test_reopen_does_not_rerun_migrations(db_path: Path) -> None:
    Store.open(db_path).close()
    assert versions(db_path) == list(range(1, LATEST_VERSION + 1))
    with Store.open(db_path) as s:
        s.set_meta("kept", "yes")
    with Store.open(db_path) as s:
        assert s.get_meta("kept") == "yes"
    assert versions(db_path) == list(range(1, LATEST_VERSION + 1))


def test_newer_schema_version_is_refused(db_path: Path) -> None:
    Store.open(db_path).close()
    with sqlite3.connect(db_path) as conn:
        conn.execute("INSERT INTO schema_version VALUES (?, 'from the future')", (99,))
    with pytest.raises(StoreError) as err:
        Store.open(db_path)
    message = str(err.value)
    assert str(db_path) in message
    assert "99" in message and str(LATEST_VERSION) in message


def test_non_sqlite_file_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database at all, just some text" * 100)
    with pytest.raises(StoreError, match="not a SQLite database"):
        Store.open(junk)
    assert junk.read_bytes().startswith(b"this is not")


def test_foreign_sqlite_db_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY)")
    with pytest.raises(StoreError, match="not a tradeswarm store"):
        Store.open(other)


def test_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError):
        Store.open(tmp_path)


def test_nested_transaction_rollback_leaves_nothing(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        store.set_meta("outer", "1")
        with store.transaction():
            store.upsert_order(make_order(1))
            store.append_event(make_envelope(1))
        raise RuntimeError("abort the unit of work")
    assert store.get_meta("outer") is None
    assert store.list_orders() == []
    assert store.event_count() == 0


def test_nested_transaction_commits_once_at_outer_exit(db_target: str, store: Store) -> None:
    with Store.open(db_target) as other:
        with store.transaction():
            with store.transaction():
                store.set_meta("k", "v")
            assert other.get_meta("k") is None  # inner exit did not commit
        assert other.get_meta("k") == "v"


def old_store(path: Path, version: int) -> None:
    """A store as migration `version` left it."""
    engine = create_sqlite_engine(path)
    try:
        assert migrate(engine, path, until=version) == version
    finally:
        engine.dispose()
    assert versions(path) == list(range(1, version + 1))


def test_migration_4_drops_the_events_correlation_index(db_path: Path) -> None:
    old_store(db_path, 3)
    with sqlite3.connect(db_path) as conn:
        conn.execute("CREATE INDEX ix_events_correlation ON events (correlation_id)")
    with Store.open(db_path) as s:
        s.append_events([make_envelope(1)])
    with sqlite3.connect(db_path) as conn:
        indexes = {r[0] for r in conn.execute("SELECT name FROM pragma_index_list('events')")}
    assert "ix_events_correlation" not in indexes
    assert versions(db_path) == list(range(1, LATEST_VERSION + 1))


def test_migration_7_indexes_trades_by_symbol_side_and_time(db_path: Path) -> None:
    old_store(db_path, 6)
    with sqlite3.connect(db_path) as conn:
        conn.execute("DROP INDEX IF EXISTS ix_trades_symbol_side_ts")  # as version 6 had it
    with Store.open(db_path):
        pass
    with sqlite3.connect(db_path) as conn:
        indexes = {r[0] for r in conn.execute("SELECT name FROM pragma_index_list('trades')")}
        plan = conn.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM trades WHERE symbol = 'ES' AND side = 'SELL'"
            " AND ts_event >= 0 ORDER BY ts_event, fill_id LIMIT 1"
        ).fetchall()
    assert "ix_trades_symbol_side_ts" in indexes
    assert "ix_trades_symbol_side_ts" in str(plan)
    assert versions(db_path) == list(range(1, LATEST_VERSION + 1))


def _v4_rows(envs: list[Envelope]) -> list[tuple[object, ...]]:
    """Event rows in the shape versions 1-4 stored, hash-chained as the store chains them."""
    rows, prev = [], bytes(32)
    for seq, env in enumerate(envs, start=1):
        body = encode_envelope(env)
        leaf = hashlib.sha256(b"\x00" + body).digest()
        prev = hashlib.sha256(prev + leaf).digest()
        cause = None if env.causation_id is None else str(env.causation_id)
        rows.append(
            (seq, str(env.msg_id), env.topic, env.type, env.sender, str(env.correlation_id),
             cause, env.ts_ns, body, leaf, prev)
        )  # fmt: skip
    return rows


def test_migration_5_rebuilds_events_keeping_every_entry(db_path: Path, tmp_path: Path) -> None:
    envs = [make_envelope(n) for n in range(1, 12_001)]  # more than one copy page
    old_store(db_path, 4)
    with sqlite3.connect(db_path) as conn:
        conn.executemany(f"INSERT INTO events VALUES ({', '.join('?' * 11)})", _v4_rows(envs))
    with Store.open(db_path) as migrated, Store.open(tmp_path / "fresh.db") as fresh:
        fresh.append_events(envs)
        assert list(migrated.iter_events()) == list(fresh.iter_events())
        assert migrated.append_event(envs[5]) is None  # dedup still sees the old msg_ids
        assert migrated.append_event(make_envelope(20_000)) == len(envs) + 1
    with sqlite3.connect(db_path) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert "events_v4" not in tables and "ux_events_msg_id" in tables
    assert versions(db_path) == list(range(1, LATEST_VERSION + 1))


def test_migration_5_refuses_a_msg_id_that_is_not_a_uuid(db_path: Path) -> None:
    old_store(db_path, 4)
    [row] = _v4_rows([make_envelope(1)])
    with sqlite3.connect(db_path) as conn:
        conn.execute(f"INSERT INTO events VALUES ({', '.join('?' * 11)})", ("7", "bad", *row[2:]))
    with pytest.raises(StoreError, match="events seq 7: msg_id 'bad' is not a UUID"):
        Store.open(db_path)
    assert versions(db_path) == [1, 2, 3, 4]  # the whole migration rolled back


def test_migration_8_gives_risk_events_their_rowid_order(db_path: Path) -> None:
    old_store(db_path, 7)
    first, later = make_decision(2), make_decision(1)  # stored in this order, equal times
    later = msgspec.structs.replace(later, intent=first.intent, ts_event=first.ts_event)
    with sqlite3.connect(db_path) as conn:
        for decision in (first, later):
            row = decisions._params(decision, "LOW")
            names, slots = ", ".join(row), ", ".join(f":{k}" for k in row)
            conn.execute(f"INSERT INTO risk_events ({names}) VALUES ({slots})", row)
    with Store.open(db_path) as s:
        assert [(r["event_id"], r["seq"]) for r in s.table_rows("risk_events")] == [
            (str(later.decision_id), 2),  # table_rows go by key: later's id sorts first
            (str(first.decision_id), 1),
        ]
        assert s.get_decision_for_intent(first.intent.intent_id) == later  # not by id
        s.record_decision(make_decision(3), "LOW")
        assert max(r["seq"] for r in s.table_rows("risk_events")) == 3
    with sqlite3.connect(db_path) as conn:
        indexes = {r[1]: r[2] for r in conn.execute("PRAGMA index_list('risk_events')")}
    assert indexes["ux_risk_events_seq"] == 1
    assert versions(db_path) == list(range(1, LATEST_VERSION + 1))
