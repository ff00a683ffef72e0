"""Fills booked in the store and announced on the bus, as the execution agent does."""

from __future__ import annotations

import uuid
from decimal import Decimal

from tradeswarm.bus.identity import Identity
from tradeswarm.bus.inproc import InProcessBus
from tradeswarm.bus.topics import FILLS, Role
from tradeswarm.model.enums import Side
from tradeswarm.model.messages import FillReceived
from tradeswarm.model.portfolio import Fill
from tradeswarm.store import Store

EXECUTION = Identity("order-executor-01", Role.EXECUTION)


async def book_fill(
    bus: InProcessBus,
    store: Store,
    fill_id: str,
    side: Side,
    ts: int,
    *,
    qty: str = "1",
    price: str = "100",
    symbol: str = "ES",
) -> None:
    fill = Fill(
        fill_id=fill_id,
        order_id=uuid.uuid5(uuid.NAMESPACE_OID, fill_id),
        client_order_id=f"cid-{fill_id}",
        symbol=symbol,
        side=side,
        quantity=Decimal(qty),
        price=Decimal(price),
        fee=Decimal(0),
        ts_event=ts,
    )
    assert store.record_fill(fill, "trading-agent-01")
    bus.attach(EXECUTION).publish(
        FILLS,
        FillReceived.of(fill),
        key=fill_id,
    )
    await bus.drain()
