"""The paper broker's own books in SQLite (SQLAlchemy Core), apart from the swarm's store.

Decimals are stored as TEXT so they round-trip exactly. File databases run in WAL
mode with synchronous=FULL: a committed transaction survives kill -9.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import StaticPool

from tradeswarm.brokers.matching import RestingOrder
from tradeswarm.brokers.port import BrokerOrderStatus
from tradeswarm.model.market import Session
from tradeswarm.model.portfolio import Fill, Position

metadata = sa.MetaData()
MONEY = sa.Text  # Decimal as exact text

account_t = sa.Table(
    "broker_account",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("cash", MONEY, nullable=False),
    sa.Column("order_seq", sa.Integer, nullable=False),
    sa.Column("session_day", sa.Text),
    sa.Column("session_open_ns", sa.BigInteger),
    sa.Column("session_close_ns", sa.BigInteger),
)
orders_t = sa.Table(
    "broker_orders",
    metadata,
    sa.Column("broker_order_id", sa.Text, primary_key=True),
    sa.Column("seq", sa.Integer, nullable=False, unique=True),
    sa.Column("client_order_id", sa.Text, nullable=False, unique=True),
    sa.Column("internal_order_id", sa.Text, nullable=False),
    sa.Column("symbol", sa.Text, nullable=False),
    sa.Column("side", sa.Text, nullable=False),
    sa.Column("quantity", MONEY, nullable=False),
    sa.Column("order_type", sa.Text, nullable=False),
    sa.Column("time_in_force", sa.Text, nullable=False),
    sa.Column("limit_price", MONEY),
    sa.Column("stop_price", MONEY),
    sa.Column("extended_hours", sa.Boolean, nullable=False),
    sa.Column("status", sa.Text, nullable=False, index=True),
    sa.Column("filled_qty", MONEY, nullable=False),
    sa.Column("avg_fill_price", MONEY),
    sa.Column("fill_count", sa.Integer, nullable=False),
    sa.Column("triggered", sa.Boolean, nullable=False),
    sa.Column("submitted_ns", sa.BigInteger, nullable=False),
    sa.Column("updated_ns", sa.BigInteger, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
)
fills_t = sa.Table(
    "broker_fills",
    metadata,
    sa.Column("fill_id", sa.Text, primary_key=True),
    sa.Column("broker_order_id", sa.Text, nullable=False),
    sa.Column("order_id", sa.Text, nullable=False),
    sa.Column("client_order_id", sa.Text, nullable=False),
    sa.Column("symbol", sa.Text, nullable=False),
    sa.Column("side", sa.Text, nullable=False),
    sa.Column("quantity", MONEY, nullable=False),
    sa.Column("price", MONEY, nullable=False),
    sa.Column("fee", MONEY, nullable=False),
    sa.Column("ts_event", sa.BigInteger, nullable=False, index=True),
)
positions_t = sa.Table(
    "broker_positions",
    metadata,
    sa.Column("symbol", sa.Text, primary_key=True),
    sa.Column("quantity", MONEY, nullable=False),
    sa.Column("avg_cost", MONEY, nullable=False),
    sa.Column("realized_pnl", MONEY, nullable=False),
)
cursor_t = sa.Table(
    "broker_cursor",
    metadata,
    sa.Column("symbol", sa.Text, primary_key=True),
    sa.Column("last_ts", sa.BigInteger, nullable=False),
    sa.Column("last_price", MONEY, nullable=False),
)


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _make_engine(path: str | Path) -> Engine:
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
        metadata.create_all(self.engine)
        with self.begin() as conn:
            if conn.execute(sa.select(account_t.c.id)).first() is None:
                conn.execute(account_t.insert().values(id=1, cash=str(initial_cash), order_seq=0))

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """One atomic transaction: everything in it commits together or not at all."""
        with self.engine.begin() as conn:
            yield conn

    def close(self) -> None:
        self.engine.dispose()

    # -- account and session ---------------------------------------------------
    def cash(self, conn: Connection) -> Decimal:
        return Decimal(conn.execute(sa.select(account_t.c.cash)).scalar_one())

    def set_cash(self, conn: Connection, cash: Decimal) -> None:
        conn.execute(account_t.update().values(cash=str(cash)))

    def next_seq(self, conn: Connection) -> int:
        seq = int(conn.execute(sa.select(account_t.c.order_seq)).scalar_one()) + 1
        conn.execute(account_t.update().values(order_seq=seq))
        return seq

    def session(self, conn: Connection) -> Session | None:
        row = conn.execute(sa.select(account_t)).one()
        if row.session_day is None:
            return None
        return Session(
            day=row.session_day, open_ns=row.session_open_ns, close_ns=row.session_close_ns
        )

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
        conn.execute(orders_t.insert().values(**_order_values(order)))

    def update_order(self, conn: Connection, order: RestingOrder) -> None:
        where = orders_t.c.broker_order_id == order.broker_order_id
        conn.execute(orders_t.update().where(where).values(**_order_values(order)))

    def order(self, conn: Connection, broker_order_id: str) -> RestingOrder | None:
        query = sa.select(orders_t).where(orders_t.c.broker_order_id == broker_order_id)
        row = conn.execute(query).first()
        return None if row is None else _convert(row)

    def order_by_client_id(self, conn: Connection, client_order_id: str) -> RestingOrder | None:
        query = sa.select(orders_t).where(orders_t.c.client_order_id == client_order_id)
        row = conn.execute(query).first()
        return None if row is None else _convert(row)

    def open_orders(self, conn: Connection, symbol: str | None = None) -> list[RestingOrder]:
        """Open orders in submission order, optionally of one symbol."""
        open_ = [BrokerOrderStatus.ACCEPTED.value, BrokerOrderStatus.PARTIALLY_FILLED.value]
        query = sa.select(orders_t).where(orders_t.c.status.in_(open_))
        if symbol is not None:
            query = query.where(orders_t.c.symbol == symbol)
        return [_convert(r) for r in conn.execute(query.order_by(orders_t.c.seq))]

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
        conn.execute(fills_t.insert().values(**values))

    def fills_since(self, conn: Connection, since_ns: int) -> list[Fill]:
        query = (
            sa.select(fills_t)
            .where(fills_t.c.ts_event >= since_ns)
            .order_by(fills_t.c.ts_event, fills_t.c.fill_id)
        )
        out = []
        for row in conn.execute(query):
            m = _plain(row)
            del m["broker_order_id"]
            out.append(msgspec.convert(m, Fill, strict=False))
        return out

    # -- positions and marks -----------------------------------------------------
    def position(self, conn: Connection, symbol: str) -> Position:
        query = sa.select(positions_t).where(positions_t.c.symbol == symbol)
        row = conn.execute(query).first()
        return Position(symbol=symbol) if row is None else _position(row)

    def positions(self, conn: Connection) -> list[Position]:
        query = sa.select(positions_t).order_by(positions_t.c.symbol)
        return [_position(r) for r in conn.execute(query)]

    def save_position(self, conn: Connection, pos: Position) -> None:
        values = {
            "quantity": str(pos.quantity),
            "avg_cost": str(pos.avg_cost),
            "realized_pnl": str(pos.realized_pnl),
        }
        where = positions_t.c.symbol == pos.symbol
        if conn.execute(positions_t.update().where(where).values(**values)).rowcount == 0:
            conn.execute(positions_t.insert().values(symbol=pos.symbol, **values))

    def cursor(self, conn: Connection, symbol: str) -> int | None:
        query = sa.select(cursor_t.c.last_ts).where(cursor_t.c.symbol == symbol)
        value = conn.execute(query).scalar_one_or_none()
        return None if value is None else int(value)

    def last_prices(self, conn: Connection) -> dict[str, Decimal]:
        rows = conn.execute(sa.select(cursor_t.c.symbol, cursor_t.c.last_price))
        return {r.symbol: Decimal(r.last_price) for r in rows}

    def set_cursor(self, conn: Connection, symbol: str, ts: int, price: Decimal) -> None:
        values = {"last_ts": ts, "last_price": str(price)}
        where = cursor_t.c.symbol == symbol
        if conn.execute(cursor_t.update().where(where).values(**values)).rowcount == 0:
            conn.execute(cursor_t.insert().values(symbol=symbol, **values))


def _plain(row: sa.Row[Any]) -> dict[str, Any]:
    """The row as a dict with plain str keys (SQLAlchemy's are a str subclass)."""
    return {str(k): v for k, v in row._asdict().items()}


def _convert(row: sa.Row[Any]) -> RestingOrder:
    return msgspec.convert(_plain(row), RestingOrder, strict=False)


def _position(row: sa.Row[Any]) -> Position:
    return msgspec.convert(_plain(row), Position, strict=False)
