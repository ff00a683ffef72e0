"""Orders, trades, positions and cash: the books, in exact Decimal.

Every statement is built once and runs prepared on the driver (`fastsql`): these run
several times per order on the hot path. Money goes in as its exact text and comes back
as Decimal; upserts use the dialect's own INSERT ... ON CONFLICT (SQLite, PostgreSQL).
"""

from __future__ import annotations

import uuid
from contextlib import AbstractContextManager, nullcontext
from decimal import Decimal
from typing import Any

from sqlalchemy import ClauseElement, Connection, Table, bindparam, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from tradeswarm.core.errors import InvariantViolation
from tradeswarm.core.fastsql import FastStatement, money_text, savepoint
from tradeswarm.model.enums import OrderType, Side, TimeInForce
from tradeswarm.model.order import TERMINAL_STATES, Order, OrderState
from tradeswarm.model.portfolio import Fill, Position
from tradeswarm.store.schema import account, orders, positions, trades
from tradeswarm.store.wide import WideIn

ACCOUNT_ID = 1


def _upsert(table: Table, key: str, keep: tuple[str, ...] = ()) -> FastStatement:
    """INSERT of every column, or UPDATE of all but key and keep on a key conflict."""

    def build(dialect: str) -> ClauseElement:
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stmt = insert(table)
        update = {c.key: stmt.excluded[c.key] for c in table.columns if c.key not in (key, *keep)}
        return stmt.on_conflict_do_update(index_elements=[table.c[key]], set_=update)

    return FastStatement(build)


def _insert_new(table: Table) -> FastStatement:
    """INSERT that does nothing (rowcount 0) when the row's key is already there."""

    def build(dialect: str) -> ClauseElement:
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        return insert(table).on_conflict_do_nothing()

    return FastStatement(build)


_ORDER_COLUMNS = tuple(c.key for c in orders.columns)
_TRADE_COLUMNS = tuple(c.key for c in trades.columns)
_POSITION_COLUMNS = tuple(c.key for c in positions.columns)
# open orders are found by their states (IN, so ix_orders_state is used: NOT IN terminal
# states scanned every order ever made, once per sync)
_OPEN_STATES = sorted(set(OrderState) - TERMINAL_STATES)
_OPEN_NAMES = tuple(f"s{i}" for i in range(len(_OPEN_STATES)))
_OPEN = {n: s.value for n, s in zip(_OPEN_NAMES, _OPEN_STATES, strict=True)}

_UPSERT_ORDER = _upsert(orders, "order_id", keep=("created_ns",))
_ORDER_BY_ID = FastStatement(select(orders).where(orders.c.order_id == bindparam("oid")))
_ORDER_BY_CID = FastStatement(select(orders).where(orders.c.client_order_id == bindparam("cid")))
_ALL_ORDERS = FastStatement(select(orders).order_by(orders.c.created_ns, orders.c.order_id))
_OPEN_ORDERS = FastStatement(
    select(orders)
    .where(orders.c.state.in_([bindparam(n) for n in _OPEN_NAMES]))
    .order_by(orders.c.created_ns, orders.c.order_id)
)
_GET_CASH = FastStatement(select(account.c.cash).where(account.c.id == ACCOUNT_ID))
_SET_CASH = _upsert(account, "id")
_INIT_CASH = _insert_new(account)
_INSERT_TRADE = _insert_new(trades)
_GET_POSITION = FastStatement(select(positions).where(positions.c.symbol == bindparam("sym")))
_ALL_POSITIONS = FastStatement(select(positions).order_by(positions.c.symbol))
_SAVE_POSITION = _upsert(positions, "symbol")
_TRADES: dict[tuple[bool, bool, bool], FastStatement] = {}
_TRADE_COUNT = FastStatement(select(func.count()).select_from(trades))
_FIRST_TRADE = FastStatement(
    select(trades)
    .where(trades.c.symbol == bindparam("sym"))
    .where(trades.c.side == bindparam("side"))
    .where(trades.c.ts_event >= bindparam("since"))
    .order_by(trades.c.ts_event, trades.c.fill_id)
    .limit(1)
)
_ORDERS_BY_CID = WideIn(select(orders), orders.c.client_order_id)
_FILL_IDS = WideIn(select(trades.c.fill_id), trades.c.fill_id)


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value)


def order_params(order: Order) -> dict[str, object]:
    return {
        "order_id": str(order.order_id),
        "client_order_id": order.client_order_id,
        "intent_id": str(order.intent_id),
        "agent_id": order.agent_id,
        "symbol": order.symbol,
        "side": order.side.value,
        "quantity": money_text(order.quantity),
        "order_type": order.order_type.value,
        "limit_price": money_text(order.limit_price),
        "stop_price": money_text(order.stop_price),
        "time_in_force": order.time_in_force.value,
        "state": order.state.value,
        "filled_qty": money_text(order.filled_qty),
        "avg_fill_price": money_text(order.avg_fill_price),
        "broker_order_id": order.broker_order_id,
        "reason": order.reason,
        "created_ns": order.created_ns,
        "updated_ns": order.updated_ns,
    }


def _order_from(r: Any) -> Order:
    """An Order from a row in `_ORDER_COLUMNS` order."""
    return Order(
        order_id=uuid.UUID(r[0]),
        client_order_id=r[1],
        intent_id=uuid.UUID(r[2]),
        agent_id=r[3],
        symbol=r[4],
        side=Side(r[5]),
        quantity=Decimal(r[6]),
        order_type=OrderType(r[7]),
        limit_price=_dec(r[8]),
        stop_price=_dec(r[9]),
        time_in_force=TimeInForce(r[10]),
        state=OrderState(r[11]),
        filled_qty=Decimal(r[12]),
        avg_fill_price=_dec(r[13]),
        broker_order_id=r[14],
        reason=r[15],
        created_ns=r[16],
        updated_ns=r[17],
    )


def client_id_taken(order: Order) -> InvariantViolation:
    return InvariantViolation(
        f"order {order.order_id}: client_order_id {order.client_order_id!r} "
        "already belongs to another order"
    )


def upsert_order(conn: Connection, order: Order) -> None:
    try:
        _UPSERT_ORDER.run(conn, order_params(order))
    except IntegrityError as err:
        raise client_id_taken(order) from err


def upsert_orders(conn: Connection, held: list[Order], params: list[dict[str, Any]]) -> None:
    """Upsert many orders in one driver call (params from `order_params`, same order)."""
    try:
        with _rollback_point(conn):
            _UPSERT_ORDER.executemany(conn, params)
    except IntegrityError as err:
        for order in held:  # name the order whose client id another order holds
            found = _ORDER_BY_CID.first(conn, {"cid": order.client_order_id})
            if found is not None and found[0] != str(order.order_id):
                raise client_id_taken(order) from err
        raise


def _rollback_point(conn: Connection) -> AbstractContextManager[None]:
    """A savepoint on PostgreSQL, where a failed statement aborts the whole transaction
    (the offending order is then looked up); SQLite goes on after one by itself."""
    return savepoint(conn, "orders") if conn.dialect.name == "postgresql" else nullcontext()


def get_order(conn: Connection, order_id: uuid.UUID) -> Order | None:
    row = _ORDER_BY_ID.first(conn, {"oid": str(order_id)})
    return None if row is None else _order_from(row)


def get_order_by_client_id(conn: Connection, cid: str) -> Order | None:
    row = _ORDER_BY_CID.first(conn, {"cid": cid})
    return None if row is None else _order_from(row)


def orders_by_client_ids(conn: Connection, cids: list[str]) -> dict[str, Order]:
    """The stored orders of the client order ids given, by client order id."""
    return {o.client_order_id: o for o in map(_order_from, _ORDERS_BY_CID.rows(conn, cids))}


def list_orders(conn: Connection, open_only: bool) -> list[Order]:
    if open_only:
        return [_order_from(r) for r in _OPEN_ORDERS.rows(conn, _OPEN)]
    return [_order_from(r) for r in _ALL_ORDERS.rows(conn)]


def duplicate_client_order_ids(conn: Connection) -> int:
    dupes = (
        select(orders.c.client_order_id)
        .group_by(orders.c.client_order_id)
        .having(func.count() > 1)
        .subquery()
    )
    return int(conn.execute(select(func.count()).select_from(dupes)).scalar_one())


def set_initial_cash(conn: Connection, cash: Decimal) -> None:
    _INIT_CASH.run(conn, {"id": ACCOUNT_ID, "cash": money_text(cash)})


def get_cash(conn: Connection) -> Decimal:
    found = _GET_CASH.scalar(conn)
    return Decimal(0) if found is None else Decimal(found)


def set_cash(conn: Connection, cash: Decimal) -> None:
    _SET_CASH.run(conn, {"id": ACCOUNT_ID, "cash": money_text(cash)})


def _position_from(r: Any) -> Position:
    """A Position from a row in `_POSITION_COLUMNS` order."""
    return Position(
        symbol=r[0], quantity=Decimal(r[1]), avg_cost=Decimal(r[2]), realized_pnl=Decimal(r[3])
    )


def get_position(conn: Connection, symbol: str) -> Position:
    row = _GET_POSITION.first(conn, {"sym": symbol})
    return Position(symbol=symbol) if row is None else _position_from(row)


def save_position(conn: Connection, pos: Position, ts_ns: int) -> None:
    params = {
        "symbol": pos.symbol,
        "quantity": money_text(pos.quantity),
        "avg_cost": money_text(pos.avg_cost),
        "realized_pnl": money_text(pos.realized_pnl),
        "updated_ns": ts_ns,
    }
    _SAVE_POSITION.run(conn, params)


def booked_fill_ids(conn: Connection, fill_ids: list[str]) -> set[str]:
    """Which of fill_ids already have a trade row."""
    return {r[0] for r in _FILL_IDS.rows(conn, fill_ids)}


def insert_trades(conn: Connection, batch: list[tuple[Fill, str]]) -> None:
    """Insert the trade rows of (fill, agent_id) pairs none of which is booked yet, in
    one driver call (`booked_fill_ids` first says which are new)."""
    if batch:
        _INSERT_TRADE.executemany(conn, [_trade_params(f, a) for f, a in batch])


def _trade_params(fill: Fill, agent_id: str) -> dict[str, object]:
    return {
        "fill_id": fill.fill_id,
        "order_id": str(fill.order_id),
        "client_order_id": fill.client_order_id,
        "agent_id": agent_id,
        "symbol": fill.symbol,
        "side": fill.side.value,
        "quantity": money_text(fill.quantity),
        "price": money_text(fill.price),
        "trade_amount": money_text(fill.notional),
        "fee": money_text(fill.fee),
        "ts_event": fill.ts_event,
    }


def _trades_statement(symbol: bool, since: bool, side: bool) -> FastStatement:
    key = (symbol, since, side)
    found = _TRADES.get(key)
    if found is None:
        stmt = select(trades).order_by(trades.c.ts_event, trades.c.fill_id)
        if side:
            stmt = stmt.where(trades.c.side == bindparam("side"))
        if symbol:
            stmt = stmt.where(trades.c.symbol == bindparam("sym"))
        if since:
            stmt = stmt.where(trades.c.ts_event >= bindparam("since"))
        found = _TRADES[key] = FastStatement(stmt)
    return found


def list_trades(
    conn: Connection,
    symbol: str | None = None,
    since_ns: int | None = None,
    side: Side | None = None,
) -> list[Fill]:
    stmt = _trades_statement(symbol is not None, since_ns is not None, side is not None)
    params = {"sym": symbol, "since": since_ns, "side": None if side is None else side.value}
    return [_fill_from(r) for r in stmt.rows(conn, params)]


def trade_count(conn: Connection) -> int:
    return int(_TRADE_COUNT.scalar(conn))


def first_trade(conn: Connection, symbol: str, side: Side, since_ns: int) -> Fill | None:
    """The first trade of symbol on side from since_ns on, in (ts_event, fill_id) order."""
    row = _FIRST_TRADE.first(conn, {"sym": symbol, "side": side.value, "since": since_ns})
    return None if row is None else _fill_from(row)


def _fill_from(r: Any) -> Fill:
    return Fill(
        fill_id=r[0],
        order_id=uuid.UUID(r[1]),
        client_order_id=r[2],
        symbol=r[4],
        side=Side(r[5]),
        quantity=Decimal(r[6]),
        price=Decimal(r[7]),
        fee=Decimal(r[9]),
        ts_event=r[10],
    )


def all_positions(conn: Connection) -> dict[str, Position]:
    """Every position row by symbol, flat ones too (they keep their realized P&L)."""
    return {p.symbol: p for p in map(_position_from, _ALL_POSITIONS.rows(conn))}


def get_positions(conn: Connection) -> dict[str, Position]:
    return {s: p for s, p in all_positions(conn).items() if p.quantity != 0}
