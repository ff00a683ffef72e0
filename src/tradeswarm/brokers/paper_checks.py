"""The paper broker's pre-trade checks: a malformed request, the market, funds, position."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from sqlalchemy.engine import Connection

from tradeswarm.brokers.errors import ErrorCode, broker_error
from tradeswarm.brokers.matching import RestingOrder, estimated_cost
from tradeswarm.brokers.paper_config import PaperBrokerConfig
from tradeswarm.brokers.paper_state import PaperState
from tradeswarm.brokers.port import OrderRequest
from tradeswarm.model.enums import OrderType, Side

ZERO = Decimal(0)


def _invalid(field: str, value: object, problem: str) -> None:
    raise broker_error(ErrorCode.ERR_INVALID_ORDER, f"{field}={value!r}: {problem}")


def validate_request(req: OrderRequest) -> None:
    """Refuse a malformed request (ERR_INVALID_ORDER), naming the field and its value."""
    if not req.client_order_id:
        _invalid("client_order_id", req.client_order_id, "must not be empty")
    if not req.quantity.is_finite() or req.quantity <= 0:
        _invalid("quantity", req.quantity, "must be finite and greater than zero")
    if req.order_type is OrderType.LIMIT and req.limit_price is None:
        _invalid("limit_price", None, "a LIMIT order needs a limit price")
    if req.order_type is OrderType.STOP and req.stop_price is None:
        _invalid("stop_price", None, "a STOP order needs a stop price")
    for name in ("limit_price", "stop_price"):
        price: Decimal | None = getattr(req, name)
        if price is not None and (not price.is_finite() or price <= 0):
            _invalid(name, price, "must be finite and greater than zero")


def check_market(
    state: PaperState, conn: Connection, cfg: PaperBrokerConfig, req: OrderRequest, now: int
) -> None:
    """A known symbol, and an open session unless the order asks for extended hours."""
    if req.symbol not in cfg.symbols:
        raise broker_error(ErrorCode.ERR_INVALID_TICKER, f"unknown symbol {req.symbol!r}")
    session = state.session(conn)
    if not req.extended_hours and (session is None or not session.is_open(now)):
        raise broker_error(ErrorCode.ERR_MARKET_CLOSED, f"market closed at {now}")


def _reference_price(order: RestingOrder | OrderRequest, marks: Mapping[str, Decimal]) -> Decimal:
    return order.limit_price or order.stop_price or marks.get(order.symbol, ZERO)


def _estimate(cfg: PaperBrokerConfig, qty: Decimal, price: Decimal) -> Decimal:
    return estimated_cost(qty, price, cfg.slippage_bps, cfg.fee_bps, cfg.fee_min)


def reserved_cash(state: PaperState, conn: Connection, cfg: PaperBrokerConfig) -> Decimal:
    """Cash that open buy orders may still spend, at current marks."""
    marks = state.last_prices(conn)
    return sum(
        (
            _estimate(cfg, o.remaining, _reference_price(o, marks))
            for o in state.open_orders(conn)
            if o.side is Side.BUY
        ),
        ZERO,
    )


def buy_cost(
    state: PaperState, conn: Connection, cfg: PaperBrokerConfig, req: OrderRequest
) -> Decimal:
    """The estimated cash a new order reserves (zero for a sell)."""
    if req.side is not Side.BUY:
        return ZERO
    return _estimate(cfg, req.quantity, _reference_price(req, state.last_prices(conn)))


def _check_cash(
    state: PaperState,
    conn: Connection,
    cfg: PaperBrokerConfig,
    req: OrderRequest,
    reserved: Decimal,
) -> None:
    cost = buy_cost(state, conn, cfg, req)
    available = state.cash(conn) - reserved
    if cost > available:
        raise broker_error(
            ErrorCode.ERR_INSUFFICIENT_FUNDS,
            f"estimated cost {cost} exceeds available cash {available}",
        )


def _check_position(state: PaperState, conn: Connection, req: OrderRequest) -> None:
    held = state.position(conn, req.symbol).quantity
    reserved = sum(
        (o.remaining for o in state.open_orders(conn, req.symbol) if o.side is Side.SELL), ZERO
    )
    if req.quantity > held - reserved:
        raise broker_error(
            ErrorCode.ERR_INSUFFICIENT_FUNDS,
            f"insufficient position: sell {req.quantity} {req.symbol}, "
            f"held {held}, reserved by open sells {reserved}",
        )


def check_funds(
    state: PaperState,
    conn: Connection,
    cfg: PaperBrokerConfig,
    req: OrderRequest,
    reserved: Decimal,
) -> None:
    """A market order needs a last price; a buy needs cash; a sell needs a position
    (unless shorting is allowed). Open orders' needs are reserved first."""
    if req.order_type is OrderType.MARKET and state.last_prices(conn).get(req.symbol) is None:
        raise broker_error(ErrorCode.ERR_MARKET_CLOSED, f"no price yet for {req.symbol}")
    if req.side is Side.BUY:
        _check_cash(state, conn, cfg, req, reserved)
    elif not cfg.allow_short:
        _check_position(state, conn, req)
