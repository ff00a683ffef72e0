"""Order writes held until the unit of work ends: one row write per order per unit.

An order moves through several states inside one unit of work (created, submitted,
acknowledged, filled: four upserts of the same row on the hot path). Only the state at
commit is ever visible to another reader or survives a crash, so the Store keeps the
latest state of each order here and writes them all, one upsert per order in one
`executemany`, just before the unit of work commits. Reads of an order the unit of work
holds are answered from here; queries over many orders flush first.

Money is checked (and turned into its stored text) when the order is handed over, and a
client order id already held for another order is refused at once, so errors surface at
the call that caused them, as they did when every upsert went to the database.
"""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from sqlalchemy import Connection

from tradeswarm.model.order import Order
from tradeswarm.store import books


class PendingOrders:
    """The latest state of each order written in the open unit of work."""

    __slots__ = ("_by_cid", "_orders", "_params")

    def __init__(self) -> None:
        self._orders: dict[uuid.UUID, Order] = {}
        self._params: dict[uuid.UUID, dict[str, Any]] = {}
        self._by_cid: dict[str, uuid.UUID] = {}

    def __bool__(self) -> bool:
        return bool(self._orders)

    def put(self, order: Order) -> None:
        """Hold order's state (the stored row keeps its first created_ns, as upserts do)."""
        owner = self._by_cid.get(order.client_order_id)
        if owner is not None and owner != order.order_id:
            raise books.client_id_taken(order)
        held = self._orders.get(order.order_id)
        if held is not None:
            if held.created_ns != order.created_ns:
                order = msgspec.structs.replace(order, created_ns=held.created_ns)
            if held.client_order_id != order.client_order_id:
                del self._by_cid[held.client_order_id]
        self._params[order.order_id] = books.order_params(order)
        self._orders[order.order_id] = order
        self._by_cid[order.client_order_id] = order.order_id

    def get(self, order_id: uuid.UUID) -> Order | None:
        return self._orders.get(order_id)

    def get_by_client_id(self, cid: str) -> Order | None:
        order_id = self._by_cid.get(cid)
        return None if order_id is None else self._orders[order_id]

    def flush(self, conn: Connection) -> None:
        """Write every held order (one upsert each, one driver call), then forget them."""
        if self._orders:
            books.upsert_orders(conn, list(self._orders.values()), list(self._params.values()))
        self.clear()

    def clear(self) -> None:
        self._orders.clear()
        self._params.clear()
        self._by_cid.clear()
