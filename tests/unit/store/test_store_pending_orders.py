"""Order writes inside a unit of work: one row write per order, reads see the unit's own
writes, errors at the call that caused them, nothing left behind on rollback."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import pytest
from store_factories import make_order, uid

from tradeswarm.core.errors import InvariantViolation
from tradeswarm.model.order import Order, OrderState, OrderTrigger
from tradeswarm.store import Store


@contextmanager
def order_writes(store: Store) -> Iterator[list[str]]:
    """Every SQL statement the store's connection runs against the orders table."""
    seen: list[str] = []
    raw = store._engine.raw_connection()  # the file store's pool hands back this connection
    driver = raw.driver_connection
    assert isinstance(driver, sqlite3.Connection)
    driver.set_trace_callback(lambda sql: seen.append(sql) if "INSERT INTO orders" in sql else None)
    raw.close()
    try:
        yield seen
    finally:
        driver.set_trace_callback(None)


def lifecycle(order: Order) -> list[Order]:
    submitted = order.transition(OrderTrigger.SUBMIT, order.updated_ns + 1)
    acked = submitted.transition(OrderTrigger.ACK, order.updated_ns + 2, "accepted")
    filled = acked.apply_fill(order.quantity, Decimal("4500"), order.updated_ns + 3)
    return [order, submitted, acked, filled]


def test_four_states_in_one_unit_are_one_row_write(sqlite_store: Store, db_path: Path) -> None:
    store = sqlite_store
    states = lifecycle(make_order(1))
    with order_writes(store) as writes, store.transaction():
        for state in states:
            store.upsert_order(state)
            assert store.get_order(state.order_id) == state
            assert store.get_order_by_client_id("cid-1") == state
        assert writes == []  # nothing written before the unit ends
    assert len(writes) == 1
    assert states[-1].state is OrderState.FILLED
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT state, filled_qty FROM orders").fetchall() == [
            ("FILLED", "0.3")
        ]
    assert store.get_order(uid(101)) == states[-1]


def test_queries_over_many_orders_see_the_units_writes(store: Store) -> None:
    with store.transaction():
        store.upsert_order(make_order(1, state=OrderState.ACKNOWLEDGED))
        store.upsert_order(make_order(2, state=OrderState.FILLED))
        assert [o.order_id for o in store.list_orders(open_only=True)] == [uid(101)]
        assert store.duplicate_client_order_ids() == 0
        store.upsert_order(make_order(1, state=OrderState.CANCELED))
        assert store.list_orders(open_only=True) == []


def test_a_rolled_back_unit_leaves_no_order(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        store.upsert_order(make_order(1))
        raise RuntimeError("abort")
    assert store.get_order(uid(101)) is None
    assert store.get_order_by_client_id("cid-1") is None
    assert store.list_orders() == []


def test_a_taken_client_id_is_refused_at_the_call(store: Store) -> None:
    with store.transaction():
        store.upsert_order(make_order(1))
        with pytest.raises(InvariantViolation, match="cid-1"):
            store.upsert_order(make_order(2, client_order_id="cid-1"))
    assert [o.order_id for o in store.list_orders()] == [uid(101)]


def test_a_client_id_taken_in_the_database_is_refused_at_commit(store: Store) -> None:
    store.upsert_order(make_order(1))
    with pytest.raises(InvariantViolation, match="cid-1"), store.transaction():
        store.upsert_order(make_order(3))
        store.upsert_order(make_order(2, client_order_id="cid-1"))
    assert [o.order_id for o in store.list_orders()] == [uid(101)]  # order 3 rolled back too


def test_float_money_is_refused_at_the_call(store: Store) -> None:
    with store.transaction():
        with pytest.raises(InvariantViolation, match=r"0\.5"):
            store.upsert_order(make_order(1, quantity=0.5))
        store.upsert_order(make_order(2))
    assert [o.order_id for o in store.list_orders()] == [uid(102)]


def test_the_first_created_ns_is_kept_within_a_unit(store: Store) -> None:
    first = make_order(1)
    with store.transaction():
        store.upsert_order(first)
        store.upsert_order(
            make_order(1, created_ns=first.created_ns + 99, state=OrderState.SUBMITTED)
        )
        assert store.get_order(uid(101)).created_ns == first.created_ns  # type: ignore[union-attr]
    stored = store.get_order(uid(101))
    assert stored is not None
    assert (stored.created_ns, stored.state) == (first.created_ns, OrderState.SUBMITTED)


def test_a_client_id_change_within_a_unit_frees_the_old_one(store: Store) -> None:
    with store.transaction():
        store.upsert_order(make_order(1))
        store.upsert_order(make_order(1, client_order_id="cid-renamed"))
        store.upsert_order(make_order(2, client_order_id="cid-1"))
        assert store.get_order_by_client_id("cid-1") == make_order(2, client_order_id="cid-1")
    assert {o.client_order_id for o in store.list_orders()} == {"cid-renamed", "cid-1"}
