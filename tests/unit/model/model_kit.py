"""Builders for the model tests."""

from __future__ import annotations

import uuid
from decimal import Decimal

from tradeswarm.model.enums import OrderType, Side, TimeInForce
from tradeswarm.model.order import Order
from tradeswarm.testkit import T0


def make_model_order(quantity: str = "10") -> Order:
    return Order(
        order_id=uuid.UUID(int=1),
        client_order_id="cid-model",
        intent_id=uuid.UUID(int=2),
        agent_id="trading-agent-01",
        symbol="ES",
        side=Side.BUY,
        quantity=Decimal(quantity),
        order_type=OrderType.MARKET,
        time_in_force=TimeInForce.DAY,
        created_ns=T0,
        updated_ns=T0,
    )
