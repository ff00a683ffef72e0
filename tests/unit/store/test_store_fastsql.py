"""Prepared statements (core.fastsql) and the books' read models in the Store."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from store_factories import make_fill

from tradeswarm.core.errors import InvariantViolation
from tradeswarm.core.fastsql import FastStatement, money_text
from tradeswarm.model.enums import Side
from tradeswarm.store import Store

_meta = sa.MetaData()
_t = sa.Table(
    "t",
    _meta,
    sa.Column("k", sa.Text, primary_key=True),
    sa.Column("v", sa.Integer, nullable=False),
)
_INSERT = FastStatement(_t.insert())
_BY_KEY = FastStatement(sa.select(_t.c.v).where(_t.c.k == sa.bindparam("key")))
_FIRST_TWO = FastStatement(sa.select(_t.c.k).order_by(_t.c.k).limit(2))


def test_prepared_statements_read_write_and_map_driver_errors(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'x.sqlite'}")
    _meta.create_all(engine)
    with engine.begin() as conn:
        _INSERT.executemany(conn, [{"k": "a", "v": 1}, {"k": "b", "v": 2}])
        _INSERT.executemany_tuples(conn, ("v", "k"), [(3, "c")])  # not the compiled order
        assert _BY_KEY.scalar(conn, {"key": "b"}) == 2
        assert _BY_KEY.first(conn, {"key": "zz"}) is None
        assert [r[0] for r in _FIRST_TWO.rows(conn)] == ["a", "b"]  # the LIMIT literal kept
        with pytest.raises(IntegrityError):
            _INSERT.run(conn, {"k": "a", "v": 9})
        with pytest.raises(KeyError):
            _BY_KEY.scalar(conn, {})
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.sum(_t.c.v))).scalar() == 6
    engine.dispose()


def test_money_text_is_exact_and_refuses_floats() -> None:
    assert money_text(Decimal("0.1") + Decimal("0.2")) == "0.3"
    assert money_text(None) is None
    for bad in (0.1, Decimal("NaN"), Decimal("Infinity")):
        with pytest.raises(InvariantViolation):
            money_text(bad)  # type: ignore[arg-type]


def test_read_models_follow_fills_and_forget_a_rolled_back_unit(store: Store) -> None:
    store.set_initial_cash(Decimal("1000"))
    store.record_fill(make_fill("f1", Side.BUY, "2", "10"), "a")
    assert store.get_cash() == Decimal("980")
    with pytest.raises(RuntimeError), store.transaction():
        store.record_fill(make_fill("f2", Side.BUY, "1", "10"), "a")
        assert store.get_cash() == Decimal("970")
        assert store.get_positions()["ES"].quantity == Decimal("3")
        raise RuntimeError("crash inside the unit of work")
    assert store.get_cash() == Decimal("980")
    assert store.get_positions()["ES"].quantity == Decimal("2")
    assert store.list_trades() == [make_fill("f1", Side.BUY, "2", "10")]


def test_read_models_equal_a_fresh_store_after_reopen(db_target: str) -> None:
    with Store.open(db_target) as s:
        s.set_initial_cash(Decimal("100"))
        s.record_fill(make_fill("f1", Side.BUY, "1", "10"), "a")
        s.record_fill(make_fill("f2", Side.SELL, "1", "13"), "a")  # flat, P&L kept
        s.record_fill(make_fill("f3", Side.SELL, "1", "12"), "a")
        cash, held = s.get_cash(), s.get_positions()
    with Store.open(db_target) as fresh:
        assert fresh.get_cash() == cash == Decimal("115")
        assert fresh.get_positions() == held
        assert held["ES"].realized_pnl == Decimal("3")
