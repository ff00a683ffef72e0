"""Builders shared by the paper broker tests."""

from __future__ import annotations

from decimal import Decimal

from tradeswarm.brokers.paper_config import PaperBrokerConfig
from tradeswarm.brokers.port import OrderRequest
from tradeswarm.core.clock import NS_PER_SECOND
from tradeswarm.model.enums import OrderType, Side, TimeInForce
from tradeswarm.model.market import Bar, Session
from tradeswarm.testkit import T0

MIN = 60 * NS_PER_SECOND
SESSION = Session(day="2024-01-02", open_ns=T0, close_ns=T0 + 390 * MIN)


def d(value: str | int) -> Decimal:
    return Decimal(value)


def config(**overrides: object) -> PaperBrokerConfig:
    values: dict[str, object] = {
        "initial_cash": d("10000000"),
        "symbols": ["ES", "NQ"],
    }
    values.update(overrides)
    return PaperBrokerConfig(**values)  # type: ignore[arg-type]


def bar(
    minute: int,
    o: str,
    h: str | None = None,
    lo: str | None = None,
    c: str | None = None,
    *,
    v: str = "1000",
    symbol: str = "ES",
) -> Bar:
    """A bar closing `minute` minutes after the open; h/l/c default to the open."""
    return Bar(
        symbol=symbol,
        ts_event=T0 + minute * MIN,
        open=d(o),
        high=d(h or o),
        low=d(lo or o),
        close=d(c or o),
        volume=d(v),
    )


def req(
    cid: str,
    side: Side = Side.BUY,
    qty: str = "10",
    kind: OrderType = OrderType.MARKET,
    tif: TimeInForce = TimeInForce.DAY,
    *,
    limit: str | None = None,
    stop: str | None = None,
    symbol: str = "ES",
    extended_hours: bool = False,
) -> OrderRequest:
    return OrderRequest(
        client_order_id=cid,
        internal_order_id=f"int-{cid}",
        symbol=symbol,
        side=side,
        quantity=d(qty),
        order_type=kind,
        time_in_force=tif,
        limit_price=None if limit is None else d(limit),
        stop_price=None if stop is None else d(stop),
        extended_hours=extended_hours,
    )
