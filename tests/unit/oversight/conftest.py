from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal

import pytest
from oversight_kit import T0, TIMEOUT_NS

from tradeswarm.bus.inproc import InProcessBus
from tradeswarm.core.clock import SimClock
from tradeswarm.model.enums import OrderType, Side, TimeInForce
from tradeswarm.model.messages import OversightRequested, TradeIntent
from tradeswarm.oversight.desk import OversightDesk
from tradeswarm.store import Store


@pytest.fixture
def desk(bus: InProcessBus, clock: SimClock, store: Store) -> OversightDesk:
    return OversightDesk("oversight-desk-01", bus, clock, store=store)


@pytest.fixture
def make_request(store: Store) -> Callable[[int], OversightRequested]:
    def make(n: int = 1) -> OversightRequested:
        intent = TradeIntent(
            intent_id=uuid.UUID(int=100 + n),
            signal_id=None,
            agent_id="trading-agent-01",
            symbol="ES",
            side=Side.BUY,
            quantity=Decimal(1),
            order_type=OrderType.MARKET,
            time_in_force=TimeInForce.DAY,
            reference_price=Decimal(120_000),
            strategy="momentum",
            rationale="t",
            confidence=0.5,
            ts_event=T0,
        )
        req = OversightRequested(
            request_id=uuid.UUID(f"018cca94-0000-7000-8000-{n:012d}"),
            decision_id=uuid.UUID(int=200 + n),
            intent=intent,
            trade_amount=Decimal(120_000),
            trigger="HighValueTrade",
            reasons=["big"],
            created_ns=T0,
            timeout_ns=T0 + TIMEOUT_NS,
        )
        assert store.create_oversight(req, "trading-agent-01")
        return req

    return make
