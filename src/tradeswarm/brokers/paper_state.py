"""The paper broker's own books (SQLAlchemy Core), apart from the swarm's store.

In a SQLite file (DB.broker beside a file store), or, for a store at a PostgreSQL URL,
in the same database under a schema of its own (`BROKER_SCHEMA`, the connections'
search_path): the same tables and statements, its own transactions, committed before
the swarm's. Decimals are stored as TEXT so they round-trip exactly. File databases
run in WAL mode with synchronous=FULL: a committed transaction survives kill -9.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import StaticPool

from tradeswarm.brokers.matching import RestingOrder
from tradeswarm.brokers.port import BrokerOrderStatus
from tradeswarm.core.dburl import is_url
from tradeswarm.core.fastsql import FastStatement
from tradeswarm.core.pg import BYTEWISE_TEXT, create_pg_engine
from tradeswarm.model.market import Session
from tradeswarm.model.portfolio import Fill, Position

BROKER_SCHEMA = "paper_broker"
"""The PostgreSQL schema holding the broker's tables when its books are at a URL."""
metadata = sa.MetaData()
TEXT = BYTEWISE_TEXT  # sorts by code point, as SQLite does
MONEY = sa.Text  # Decimal as exact text

account_t = sa.Table(
    "broker_account",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("cash", MONEY, nullable=False),
    sa.Column("order_seq", sa.Integer, nullable=False),
    sa.Column("session_day", TEXT),
    sa.Column("session_open_ns", sa.BigInteger),
    sa.Column("session_close_ns", sa.BigInteger),
)
orders_t = sa.Table(
    "broker_orders",
    metadata,
    sa.Column("broker_order_id", TEXT, primary_key=True),
    sa.Column("seq", sa.Integer, nullable=False, unique=True),
    sa.Column("client_order_id", TEXT, nullable=False, unique=True),
    sa.Column("internal_order_id", TEXT, nullable=False),
    sa.Column("symbol", TEXT, nullable=False),
    sa.Column("side", TEXT, nullable=False),
    sa.Column("quantity", MONEY, nullable=False),
    sa.Column("order_type", TEXT, nullable=False),
    sa.Column("time_in_force", TEXT, nullable=False),
    sa.Column("limit_price", MONEY),
    sa.Column("stop_price", MONEY),
    sa.Column("extended_hours", sa.Boolean, nullable=False),
    sa.Column("status", TEXT, nullable=False, index=True),
    sa.Column("filled_qty", MONEY, nullable=False),
    sa.Column("avg_fill_price", MONEY),
    sa.Column("fill_count", sa.Integer, nullable=False),
    sa.Column("triggered", sa.Boolean, nullable=False),
    sa.Column("submitted_ns", sa.BigInteger, nullable=False),
    sa.Column("updated_ns", sa.BigInteger, nullable=False),
    sa.Column("reason", TEXT, nullable=False),
)
fills_t = sa.Table(
    "broker_fills",
    metadata,
    sa.Column("fill_id", TEXT, primary_key=True),
    sa.Column("broker_order_id", TEXT, nullable=False),
    sa.Column("order_id", TEXT, nullable=False),
    sa.Column("client_order_id", TEXT, nullable=False),
    sa.Column("symbol", TEXT, nullable=False),
    sa.Column("side", TEXT, nullable=False),
    sa.Column("quantity", MONEY, nullable=False),
    sa.Column("price", MONEY, nullable=False),
    sa.Column("fee", MONEY, nullable=False),
    sa.Column("ts_event", sa.BigInteger, nullable=False, index=True),
)
positions_t = sa.Table(
    "broker_positions",
    metadata,
    sa.Column("symbol", TEXT, primary_key=True),
    sa.Column("quantity", MONEY, nullable=False),
    sa.Column("avg_cost", MONEY, nullable=False),
    sa.Column("realized_pnl", MONEY, nullable=False),
)
cursor_t = sa.Table(
    "broker_cursor",
    metadata,
    sa.Column("symbol", TEXT, primary_key=True),
    sa.Column("last_ts", sa.BigInteger, nullable=False),
    sa.Column("last_price", MONEY, nullable=False),
)


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _named(table: sa.Table, prefix: str = "") -> dict[str, sa.BindParameter[Any]]:
    return {c.key: sa.bindparam(prefix + c.key) for c in table.columns}


# Every statement is built once and runs prepared on the driver (tradeswarm.core.fastsql):
# they run several times per order; values go in as plain text/ints and come back as such.
_ORDER_KEYS = tuple(str(c.key) for c in orders_t.columns)  # plain str: msgspec wants it
_FILL_KEYS = tuple(str(c.key) for c in fills_t.columns)
_POSITION_KEYS = tuple(str(c.key) for c in positions_t.columns)
_OPEN = (BrokerOrderStatus.ACCEPTED.value, BrokerOrderStatus.PARTIALLY_FILLED.value)
_OPEN_PARAMS = {"open0": _OPEN[0], "open1": _OPEN[1]}
_open_where = orders_t.c.status.in_([sa.bindparam("open0"), sa.bindparam("open1")])
_Q = {
    "cash": FastStatement(sa.select(account_t.c.cash)),
    "set_cash": FastStatement(account_t.update().values(cash=sa.bindparam("v_cash"))),
    "seq": FastStatement(sa.select(account_t.c.order_seq)),
    "set_seq": FastStatement(account_t.update().values(order_seq=sa.bindparam("v_seq"))),
    "session": FastStatement(
        sa.select(
            account_t.c.session_day, account_t.c.session_open_ns, account_t.c.session_close_ns
        )
    ),
    "insert_order": FastStatement(orders_t.insert()),
    "update_order": FastStatement(
        orders_t.update()
        .where(orders_t.c.broker_order_id == sa.bindparam("key"))
        .values(**_named(orders_t, "v_"))
    ),
    "order": FastStatement(
        sa.select(orders_t).where(orders_t.c.broker_order_id == sa.bindparam("key"))
    ),
    "order_by_cid": FastStatement(
        sa.select(orders_t).where(orders_t.c.client_order_id == sa.bindparam("key"))
    ),
    "open": FastStatement(sa.select(orders_t).where(_open_where).order_by(orders_t.c.seq)),
    "open_symbol": FastStatement(
        sa.select(orders_t)
        .where(_open_where, orders_t.c.symbol == sa.bindparam("sym"))
        .order_by(orders_t.c.seq)
    ),
    "insert_fill": FastStatement(fills_t.insert()),
    "fills_since": FastStatement(
        sa.select(fills_t)
        .where(fills_t.c.ts_event >= sa.bindparam("since"))
        .order_by(fills_t.c.ts_event, fills_t.c.fill_id)
    ),
    "position": FastStatement(
        sa.select(positions_t).where(positions_t.c.symbol == sa.bindparam("key"))
    ),
    "positions": FastStatement(sa.select(positions_t).order_by(positions_t.c.symbol)),
    "update_position": FastStatement(
        positions_t.update()
        .where(positions_t.c.symbol == sa.bindparam("key"))
        .values(**{k: v for k, v in _named(positions_t, "v_").items() if k != "symbol"})
    ),
    "insert_position": FastStatement(positions_t.insert()),
    "cursor": FastStatement(
        sa.select(cursor_t.c.last_ts).where(cursor_t.c.symbol == sa.bindparam("key"))
    ),
    "last_prices": FastStatement(sa.select(cursor_t.c.symbol, cursor_t.c.last_price)),
    "update_cursor": FastStatement(
        cursor_t.update()
        .where(cursor_t.c.symbol == sa.bindparam("key"))
        .values(last_ts=sa.bindparam("v_ts"), last_price=sa.bindparam("v_price"))
    ),
    "insert_cursor": FastStatement(cursor_t.insert()),
}


def books_exist(path: str | Path) -> bool:
    """Whether books are kept at path (a file, or a URL's broker schema); creates nothing."""
    if not is_url(path):
        return str(path) == ":memory:" or Path(path).exists()
    engine = create_pg_engine(str(path))
    try:
        with engine.connect() as conn:
            return sa.inspect(conn).has_table(account_t.name, schema=BROKER_SCHEMA)
    finally:
        engine.dispose()


def _make_engine(path: str | Path) -> Engine:
    if is_url(path):
        return create_pg_engine(str(path), search_path=BROKER_SCHEMA)
    if str(path) == ":memory:":
        return sa.create_engine(
            "sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}
        )
    engine = sa.create_engine(f"sqlite:///{Path(path)}")

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.close()

    return engine


def _order_values(order: RestingOrder) -> dict[str, Any]:
    values: dict[str, Any] = {f: getattr(order, f) for f in order.__struct_fields__}
    for name in ("quantity", "limit_price", "stop_price", "filled_qty", "avg_fill_price"):
        values[name] = _text(values[name])
    for name in ("side", "order_type", "time_in_force", "status"):
        values[name] = str(values[name])
    return values


class PaperState:
    """Typed reads and writes of the broker's tables; callers own the transaction."""

    def __init__(self, path: str | Path, initial_cash: Decimal) -> None:
        self.engine = _make_engine(path)
        self._marks: dict[str, Decimal] | None = None  # last prices, within one transaction
        metadata.create_all(self.engine)
        with self.begin() as conn:
            if conn.execute(sa.select(account_t.c.id)).first() is None:
                conn.execute(account_t.insert().values(id=1, cash=str(initial_cash), order_seq=0))

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """One atomic transaction: everything in it commits together or not at all.
        The last prices read in it are kept for it alone (`last_prices`)."""
        self._marks = None
        try:
            with self.engine.begin() as conn:
                yield conn
        finally:
            self._marks = None

    def close(self) -> None:
        self.engine.dispose()

    # -- account and session ---------------------------------------------------
    def cash(self, conn: Connection) -> Decimal:
        return Decimal(_Q["cash"].scalar(conn))

    def set_cash(self, conn: Connection, cash: Decimal) -> None:
        _Q["set_cash"].run(conn, {"v_cash": str(cash)})

    def next_seq(self, conn: Connection) -> int:
        seq = int(_Q["seq"].scalar(conn)) + 1
        _Q["set_seq"].run(conn, {"v_seq": seq})
        return seq

    def session(self, conn: Connection) -> Session | None:
        day, open_ns, close_ns = _Q["session"].first(conn)
        if day is None:
            return None
        return Session(day=day, open_ns=open_ns, close_ns=close_ns)

    def set_session(self, conn: Connection, session: Session | None) -> None:
        day, open_ns, close_ns = (
            (session.day, session.open_ns, session.close_ns) if session else (None, None, None)
        )
        conn.execute(
            account_t.update().values(
                session_day=day, session_open_ns=open_ns, session_close_ns=close_ns
            )
        )

    # -- orders ------------------------------------------------------------------
    def insert_order(self, conn: Connection, order: RestingOrder) -> None:
        _Q["insert_order"].run(conn, _order_values(order))

    def update_order(self, conn: Connection, order: RestingOrder) -> None:
        values = {"v_" + k: v for k, v in _order_values(order).items()}
        _Q["update_order"].run(conn, {"key": order.broker_order_id, **values})

    def order(self, conn: Connection, broker_order_id: str) -> RestingOrder | None:
        row = _Q["order"].first(conn, {"key": broker_order_id})
        return None if row is None else _convert(row)

    def order_by_client_id(self, conn: Connection, client_order_id: str) -> RestingOrder | None:
        row = _Q["order_by_cid"].first(conn, {"key": client_order_id})
        return None if row is None else _convert(row)

    def open_orders(self, conn: Connection, symbol: str | None = None) -> list[RestingOrder]:
        """Open orders in submission order, optionally of one symbol."""
        if symbol is None:
            rows = _Q["open"].rows(conn, _OPEN_PARAMS)
        else:
            rows = _Q["open_symbol"].rows(conn, {**_OPEN_PARAMS, "sym": symbol})
        return [_convert(r) for r in rows]

    # -- fills -------------------------------------------------------------------
    def insert_fill(self, conn: Connection, fill: Fill, broker_order_id: str) -> None:
        values = {f: getattr(fill, f) for f in fill.__struct_fields__}
        values.update(
            order_id=str(fill.order_id),
            side=str(fill.side),
            quantity=str(fill.quantity),
            price=str(fill.price),
            fee=str(fill.fee),
            broker_order_id=broker_order_id,
        )
        _Q["insert_fill"].run(conn, values)

    def fills_since(self, conn: Connection, since_ns: int) -> list[Fill]:
        out = []
        for row in _Q["fills_since"].rows(conn, {"since": since_ns}):
            m = dict(zip(_FILL_KEYS, row, strict=True))
            del m["broker_order_id"]
            out.append(msgspec.convert(m, Fill, strict=False))
        return out

    # -- positions and marks -----------------------------------------------------
    def position(self, conn: Connection, symbol: str) -> Position:
        row = _Q["position"].first(conn, {"key": symbol})
        return Position(symbol=symbol) if row is None else _position(row)

    def positions(self, conn: Connection) -> list[Position]:
        return [_position(r) for r in _Q["positions"].rows(conn)]

    def save_position(self, conn: Connection, pos: Position) -> None:
        values = {
            "quantity": str(pos.quantity),
            "avg_cost": str(pos.avg_cost),
            "realized_pnl": str(pos.realized_pnl),
        }
        update = {"key": pos.symbol, **{"v_" + k: v for k, v in values.items()}}
        if _Q["update_position"].run(conn, update) == 0:
            _Q["insert_position"].run(conn, {"symbol": pos.symbol, **values})

    def cursor(self, conn: Connection, symbol: str) -> int | None:
        value = _Q["cursor"].scalar(conn, {"key": symbol})
        return None if value is None else int(value)

    def last_prices(self, conn: Connection) -> Mapping[str, Decimal]:
        """Each symbol's last price (read once per transaction, then kept; read-only)."""
        if self._marks is None:
            self._marks = {sym: Decimal(p) for sym, p in _Q["last_prices"].rows(conn)}
        return MappingProxyType(self._marks)

    def set_cursor(self, conn: Connection, symbol: str, ts: int, price: Decimal) -> None:
        if self._marks is not None:
            self._marks[symbol] = price
        update = {"key": symbol, "v_ts": ts, "v_price": str(price)}
        if _Q["update_cursor"].run(conn, update) == 0:
            _Q["insert_cursor"].run(
                conn, {"symbol": symbol, "last_ts": ts, "last_price": str(price)}
            )


def _convert(row: Any) -> RestingOrder:
    return msgspec.convert(dict(zip(_ORDER_KEYS, row, strict=True)), RestingOrder, strict=False)


def _position(row: Any) -> Position:
    return msgspec.convert(dict(zip(_POSITION_KEYS, row, strict=True)), Position, strict=False)
