"""PostgreSQL as the store: what only it has (the advisory locks, the column types, the
URL's errors). The store's behaviour on both dialects is the other store tests', run
on each through the `store` / `db_target` fixtures."""

from __future__ import annotations

import threading
from decimal import Decimal
from pathlib import Path

import msgspec
import psycopg
import pytest
import sqlalchemy as sa
from store_factories import make_decision, make_envelope, make_fill

from pg_kit import ADMIN_URL, ICU_ENGLISH, fresh_database, query, url_of
from tradeswarm.core.errors import StoreError
from tradeswarm.model.enums import Side
from tradeswarm.store import Store
from tradeswarm.store.migrations import LATEST_VERSION
from tradeswarm.store.postgres import WRITE_LOCK_KEY, WRITER_LEASE_KEY


def _try_lock(url: str, key: int, session: bool = False) -> bool:
    """Whether another session could take the advisory lock key now (released again)."""
    fn = "pg_try_advisory_lock" if session else "pg_try_advisory_xact_lock"
    with psycopg.connect(url) as conn:
        got = bool(conn.execute(f"SELECT {fn}({key})").fetchone()[0])  # type: ignore[index]
        if got and session:
            conn.execute(f"SELECT pg_advisory_unlock({key})")
        conn.rollback()
    return got


def test_a_second_writer_is_refused_at_once_naming_the_store(pg_url: str) -> None:
    with Store.open(pg_url, writer=True) as first:
        first.append_event(make_envelope(1))
        with pytest.raises(StoreError) as err:
            Store.open(pg_url, writer=True)
        assert pg_url in str(err.value)
        assert "another writer holds this store" in str(err.value)
        with Store.open(pg_url) as reader:  # readers need no lease
            assert reader.event_count() == 1
        assert not _try_lock(pg_url, WRITER_LEASE_KEY, session=True)
    assert _try_lock(pg_url, WRITER_LEASE_KEY, session=True)  # close gave it up
    with Store.open(pg_url, writer=True) as again:
        assert again.event_count() == 1


def test_a_second_writer_of_a_sqlite_file_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "swarm.sqlite"
    with Store.open(db, writer=True):
        with pytest.raises(StoreError, match="another writer holds this store") as err:
            Store.open(db, writer=True)
        assert str(db) in str(err.value)
        Store.open(db).close()
    Store.open(db, writer=True).close()


def test_a_write_unit_of_work_holds_the_write_lock_until_it_commits(pg_url: str) -> None:
    with Store.open(pg_url) as store:
        assert _try_lock(pg_url, WRITE_LOCK_KEY)
        with store.transaction():
            store.append_event(make_envelope(1))
            seen: list[bool] = []
            other = threading.Thread(target=lambda: seen.append(_try_lock(pg_url, WRITE_LOCK_KEY)))
            other.start()
            other.join()
            assert seen == [False]  # another writer's unit of work would wait here
        assert _try_lock(pg_url, WRITE_LOCK_KEY)
        assert store.event_count() == 1


def test_two_stores_appending_in_turn_keep_one_chain(pg_url: str) -> None:
    with Store.open(pg_url) as a, Store.open(pg_url) as b:
        a.append_events([make_envelope(n) for n in range(1, 4)])
        with pytest.raises(StoreError, match="another writer"):  # b's head is stale
            b.append_event(make_envelope(9))
        b.append_event(make_envelope(9))  # after the refusal b reads the head again
        assert [r.seq for r in a.iter_events()] == [1, 2, 3, 4]


def test_columns_are_bigint_bytea_and_exact_text(pg_url: str) -> None:
    with Store.open(pg_url) as store:
        store.set_initial_cash(Decimal("1000.000000000000000001"))
        store.record_fill(make_fill("f1", Side.BUY, "0.3", "10.25", fee="0.01", ts=3), "a")
        assert store.get_cash() == Decimal("1000.000000000000000001") - Decimal("3.085")
    types = dict(
        ((t, c), d)
        for t, c, d in query(
            pg_url,
            "SELECT table_name, column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = 'public'",
        )
    )
    assert types["events", "seq"] == types["events", "ts_ns"] == "bigint"
    assert types["events", "body"] == types["events", "msg_id"] == "bytea"
    assert types["merkle_nodes", "id"] == types["risk_events", "seq"] == "bigint"
    assert types["account", "cash"] == types["trades", "price"] == "text"
    assert query(pg_url, "SELECT cash FROM account") == [("996.915000000000000001",)]


def test_text_sorts_by_code_point_whatever_the_database_collation() -> None:
    symbols = ["b", "B", "a", "_", "Z"]
    with fresh_database(ICU_ENGLISH) as url, Store.open(url) as store:
        assert [r[0] for r in query(url, "SELECT unnest(%s::text[]) AS s ORDER BY s", symbols)] != (
            sorted(symbols)
        )  # the database's own order is not SQLite's
        for symbol in symbols:
            fill = msgspec.structs.replace(
                make_fill(f"f-{symbol}", Side.BUY, "1", "1"), symbol=symbol
            )
            store.record_fill(fill, "x")
        assert [r["symbol"] for r in store.table_rows("positions")] == sorted(symbols)
        assert [f.fill_id for f in store.list_trades()] == sorted(f"f-{s}" for s in symbols)


def test_decisions_of_equal_time_go_by_insertion_order(store: Store) -> None:
    first = make_decision(1)
    later = msgspec.structs.replace(make_decision(2), intent=first.intent, ts_event=first.ts_event)
    store.record_decisions([(first, "LOW"), (later, "HIGH")])
    assert store.get_decision_for_intent(first.intent.intent_id) == later
    assert store.get_decisions_for_intents([first.intent.intent_id]) == {
        first.intent.intent_id: later
    }
    assert [r["seq"] for r in store.table_rows("risk_events")] == [1, 2]
    store.record_decision(make_decision(3), "LOW")
    assert max(r["seq"] for r in store.table_rows("risk_events")) == 3


@pytest.mark.parametrize(
    ("target", "says"),
    [
        ("mysql://root@127.0.0.1/x", "unsupported store URL"),
        ("postgresql://postgres@127.0.0.1:5432", "names no database"),
        ("postgresql://postgres@127.0.0.1:99999/x", "bad port"),
        ("postgresql://postgres@127.0.0.1:1/ts_nowhere", "cannot open the PostgreSQL store"),
        ("postgresql+psycopg://postgres@127.0.0.1:5432/ts_missing_db", "does not exist"),
    ],
)
def test_a_bad_url_is_one_clear_error_and_creates_nothing(target: str, says: str) -> None:
    before = query(ADMIN_URL, "SELECT datname FROM pg_database ORDER BY 1")
    with pytest.raises(StoreError) as err:
        Store.open(target, writer=True)
    message = str(err.value)
    assert says in message and target in message and "\n" not in message
    assert query(ADMIN_URL, "SELECT datname FROM pg_database ORDER BY 1") == before


def test_the_password_of_a_url_is_never_shown() -> None:
    with pytest.raises(StoreError) as err:
        Store.open("postgresql://postgres:s3cret@127.0.0.1:5432/ts_missing_db")
    assert "s3cret" not in str(err.value) and ":***@" in str(err.value)


def test_a_database_holding_other_tables_is_not_taken_for_a_store(pg_url: str) -> None:
    query(pg_url, "CREATE TABLE customers (id int)")
    with pytest.raises(StoreError, match="PostgreSQL database without a schema_version"):
        Store.open(pg_url)


def test_the_url_of_one_database_is_its_own_store() -> None:
    with (
        fresh_database() as one,
        fresh_database() as two,
        Store.open(one, writer=True) as a,
        Store.open(two, writer=True) as b,
    ):
        a.append_event(make_envelope(1))
        assert (a.event_count(), b.event_count()) == (1, 0)
    assert one != two and one.startswith(url_of("ts_"))


def test_one_migration_list_gives_both_dialects_the_same_tables(
    pg_url: str, tmp_path: Path
) -> None:
    Store.open(pg_url).close()
    Store.open(tmp_path / "s.sqlite").close()
    engines = [
        sa.create_engine(pg_url.replace("postgresql:", "postgresql+psycopg:", 1)),
        sa.create_engine(f"sqlite:///{tmp_path / 's.sqlite'}"),
    ]
    try:
        pg, lite = (sa.inspect(e) for e in engines)
        names = lite.get_table_names()
        assert sorted(pg.get_table_names()) == sorted(names)
        for table in names:
            columns = [c["name"] for c in lite.get_columns(table)]
            assert [c["name"] for c in pg.get_columns(table)] == columns, table
    finally:
        for engine in engines:
            engine.dispose()
    versions = query(pg_url, "SELECT version FROM schema_version ORDER BY 1")
    assert versions == [(v,) for v in range(1, LATEST_VERSION + 1)]
