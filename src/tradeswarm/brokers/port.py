"""BrokerPort: the one interface the execution agent talks to (seed: BrokerAPI)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

import msgspec

from tradeswarm.brokers.errors import BrokerError, BrokerFatal
from tradeswarm.model.enums import OrderType, Side, TimeInForce
from tradeswarm.model.portfolio import Fill, Position


class BrokerOrderStatus(StrEnum):
    ACCEPTED = "ACCEPTED"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    EXPIRED = "EXPIRED"
    REJECTED = "REJECTED"


class OrderRequest(msgspec.Struct, frozen=True, kw_only=True):
    """What the execution agent sends; client_order_id is the idempotency key."""

    client_order_id: str
    internal_order_id: str
    symbol: str
    side: Side
    quantity: Decimal
    order_type: OrderType
    time_in_force: TimeInForce
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    extended_hours: bool = False


class OrderResponse(msgspec.Struct, frozen=True, kw_only=True):
    broker_order_id: str
    client_order_id: str
    status: BrokerOrderStatus
    submitted_ns: int
    duplicate: bool = False  # True when the client order id was already known


class BrokerOrder(msgspec.Struct, frozen=True, kw_only=True):
    """The broker's view of one order."""

    broker_order_id: str
    client_order_id: str
    symbol: str
    side: Side
    quantity: Decimal
    order_type: OrderType
    time_in_force: TimeInForce
    limit_price: Decimal | None
    stop_price: Decimal | None
    status: BrokerOrderStatus
    filled_qty: Decimal
    avg_fill_price: Decimal | None
    submitted_ns: int
    updated_ns: int
    reason: str = ""


class BrokerAccount(msgspec.Struct, frozen=True, kw_only=True):
    cash: Decimal
    equity: Decimal
    buying_power: Decimal


PlaceResult = OrderResponse | BrokerError | None
"""What one request of a burst met: the broker's response, the `BrokerError` it raised
(each request is answered on its own: one refusal does not refuse the burst), or None:
not attempted, because an earlier request of the burst met a `BrokerFatal`."""


async def place_each(broker: BrokerPort, orders: Sequence[OrderRequest]) -> list[PlaceResult]:
    """`BrokerPort.place_orders` from `place_order`, one request at a time."""
    results: list[PlaceResult] = []
    for request in orders:
        try:
            results.append(await broker.place_order(request))
        except BrokerFatal as err:
            results.append(err)
            break
        except BrokerError as err:
            results.append(err)
    return results + [None] * (len(orders) - len(results))


class BrokerPort(Protocol):
    """The seed's BrokerAPI. Every method may raise a BrokerError branch."""

    async def authenticate(self, api_key: str, secret: str, environment: str) -> bool: ...

    async def get_account(self) -> BrokerAccount: ...

    async def get_positions(self) -> list[Position]: ...

    async def get_open_orders(self) -> list[BrokerOrder]: ...

    async def place_order(self, order: OrderRequest) -> OrderResponse: ...

    async def place_orders(self, orders: Sequence[OrderRequest]) -> list[PlaceResult]:
        """Place a burst, in order; one result per request (see `PlaceResult`). A broker
        without a batch call implements it with `place_each`."""
        ...

    async def cancel_order(self, broker_order_id: str) -> bool: ...

    async def get_order_status(self, broker_order_id: str) -> BrokerOrder: ...

    async def get_order_by_client_id(self, client_order_id: str) -> BrokerOrder | None: ...

    async def get_fills(self, since_ns: int) -> list[Fill]: ...
