from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
from store_factories import BASE_NS, make_fill, make_order, uid

from tradeswarm.core.errors import InvariantViolation
from tradeswarm.model.enums import Side
from tradeswarm.model.order import OrderState, OrderTrigger
from tradeswarm.model.portfolio import Position
from tradeswarm.store import Store


def test_order_round_trip_is_exact(store: Store) -> None:
    order = make_order(
        1,
        quantity=Decimal("0.1") + Decimal("0.2"),
        limit_price=Decimal("4500.123456789012345678901234"),
        stop_price=Decimal("1E+2"),
        broker_order_id="B-1",
        reason="why",
    )
    store.upsert_order(order)
    got = store.get_order(order.order_id)
    assert got == order
    assert got is not None and got.quantity == Decimal("0.3")
    assert str(got.quantity) == "0.3"
    assert str(got.limit_price) == "4500.123456789012345678901234"
    assert store.get_order_by_client_id("cid-1") == order
    assert store.get_order(uid(999)) is None
    assert store.get_order_by_client_id("nope") is None


def test_upsert_replaces_state_and_keeps_one_row_per_client_id(store: Store) -> None:
    order = make_order(1)
    store.upsert_order(order)
    store.upsert_order(order)
    moved = order.transition(OrderTrigger.SUBMIT, order.updated_ns + 5)
    moved = moved.apply_fill(Decimal("0.1"), Decimal("4500.05"), moved.updated_ns + 1)
    store.upsert_order(moved)
    assert store.get_order(order.order_id) == moved
    assert store.duplicate_client_order_ids() == 0
    assert len(store.list_orders()) == 1


def test_client_order_id_belongs_to_one_order(store: Store) -> None:
    store.upsert_order(make_order(1))
    with pytest.raises(InvariantViolation, match="cid-1"):
        store.upsert_order(make_order(2, client_order_id="cid-1"))
    assert [o.order_id for o in store.list_orders()] == [uid(101)]
    assert store.duplicate_client_order_ids() == 0


def test_list_orders_open_only_skips_terminal(store: Store) -> None:
    working = make_order(1, state=OrderState.ACKNOWLEDGED)
    done = make_order(2, state=OrderState.FILLED)
    rejected = make_order(3, state=OrderState.REJECTED)
    for order in (done, working, rejected):
        store.upsert_order(order)
    assert store.list_orders() == [working, done, rejected]
    assert store.list_orders(open_only=True) == [working]


def test_initial_cash_is_set_once(store: Store) -> None:
    assert store.get_cash() == Decimal(0)
    store.set_initial_cash(Decimal("100000.10"))
    store.set_initial_cash(Decimal("5"))
    assert str(store.get_cash()) == "100000.10"


def test_record_fill_books_trade_position_and_cash_once(store: Store) -> None:
    store.set_initial_cash(Decimal("1000"))
    buy = make_fill("f1", Side.BUY, "0.1", "10.1", fee="0.01", ts=1)
    assert store.record_fill(buy, "momentum-1") is True
    assert store.record_fill(buy, "momentum-1") is False
    assert store.list_trades() == [buy]
    assert store.get_cash() == Decimal("1000") - Decimal("1.01") - Decimal("0.01")
    assert str(store.get_cash()) == "998.98"
    pos = store.get_positions()["ES"]
    assert pos == Position(symbol="ES", quantity=Decimal("0.1"), avg_cost=Decimal("10.1"))

    buy2 = make_fill("f2", Side.BUY, "0.2", "10.4", ts=2)
    assert store.record_fill(buy2, "momentum-1")
    pos = store.get_positions()["ES"]
    assert pos.quantity == Decimal("0.3")
    assert pos.avg_cost == Decimal("10.3")


def test_closing_fill_realizes_pnl_and_hides_flat_position(store: Store) -> None:
    store.record_fill(make_fill("f1", Side.BUY, "2", "100", ts=1), "a")
    store.record_fill(make_fill("f2", Side.SELL, "2", "101.5", ts=2), "a")
    assert store.get_positions() == {}
    assert store.get_cash() == Decimal("3.0")
    with store.transaction():
        store.record_fill(make_fill("f3", Side.SELL, "1", "90", ts=3), "a")
    assert store.get_positions()["ES"].quantity == Decimal("-1")
    assert store.get_positions()["ES"].realized_pnl == Decimal("3.0")


def test_list_trades_ordered_by_ts_then_fill_id(store: Store) -> None:
    fills = [
        make_fill("b", Side.BUY, "1", "1", ts=2),
        make_fill("z", Side.BUY, "1", "1", ts=1),
        make_fill("a", Side.BUY, "1", "1", ts=2),
    ]
    for f in fills:
        store.record_fill(f, "a")
    assert [f.fill_id for f in store.list_trades()] == ["z", "a", "b"]


def test_float_money_is_refused(store: Store) -> None:
    with pytest.raises(InvariantViolation):
        store.set_initial_cash(0.1)  # type: ignore[arg-type]
    assert store.get_cash() == Decimal(0)


def test_books_survive_reopen(db_target: str) -> None:
    with Store.open(db_target) as s:
        s.set_initial_cash(Decimal("0.1"))
        s.record_fill(make_fill("f1", Side.SELL, "0.2", "0.1"), "a")
        s.upsert_order(make_order(1))
    with Store.open(db_target) as s:
        assert s.get_cash() == Decimal("0.12")
        assert s.get_positions()["ES"].quantity == Decimal("-0.2")
        assert s.get_order(uid(101)) == make_order(1)


def _raw_rows(db: Path, table: str) -> tuple[list[str], list[tuple[object, ...]]]:
    """The table as sqlite3 itself reads it: column names and rows in key order."""
    with sqlite3.connect(db) as conn:
        columns = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
        rows = conn.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
    return columns, rows


def test_position_updated_ns_is_the_fills_own_time(store: Store) -> None:
    fill = make_fill("f1", Side.BUY, "1", "10", ts=42)
    store.record_fill(fill, "a")
    (row,) = store.table_rows("positions")
    assert row["updated_ns"] == fill.ts_event


def test_table_rows_return_every_column_as_the_database_holds_it(db_path: Path) -> None:
    with Store.open(db_path) as s:
        s.set_initial_cash(Decimal("100.50"))
        s.record_fill(make_fill("f1", Side.BUY, "0.3", "10.25", fee="0.01", ts=3), "agent-7")
        s.upsert_order(make_order(1, broker_order_id="B-1"))
        got = {t: s.table_rows(t) for t in ("trades", "positions", "orders", "account")}
    for table, rows in got.items():
        columns, raw = _raw_rows(db_path, table)
        assert [list(r) for r in rows] == [columns] * len(raw)
        as_text = [tuple(None if v is None else str(v) for v in r.values()) for r in rows]
        assert as_text == [tuple(None if v is None else str(v) for v in r) for r in raw]
    assert got["trades"][0]["agent_id"] == "agent-7"
    assert got["trades"][0]["price"] == Decimal("10.25")
    assert got["account"][0]["cash"] == Decimal("100.50") - Decimal("3.075") - Decimal("0.01")


def test_table_rows_see_the_orders_of_the_open_unit_of_work(store: Store) -> None:
    with store.transaction():
        store.upsert_order(make_order(1))
        moved = make_order(1).transition(OrderTrigger.SUBMIT, BASE_NS + 9)
        store.upsert_order(moved)
        (row,) = store.table_rows("orders")
        assert (row["state"], row["updated_ns"]) == ("SUBMITTED", BASE_NS + 9)
