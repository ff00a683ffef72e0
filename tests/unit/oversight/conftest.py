from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal

import pytest
from oversight_kit import T0, TIMEOUT_NS

from tradeswarm.bus.inproc import InProcessBus
from tradeswarm.core.clock import SimClock
from tradeswarm.model.messages import OversightRequested
from tradeswarm.oversight.desk import OversightDesk
from tradeswarm.store import Store
from tradeswarm.testkit import make_intent, make_oversight_request


@pytest.fixture
def desk(bus: InProcessBus, clock: SimClock, store: Store) -> OversightDesk:
    return OversightDesk("oversight-desk-01", bus, clock, store=store)


@pytest.fixture
def make_request(store: Store) -> Callable[[int], OversightRequested]:
    def make(n: int = 1) -> OversightRequested:
        intent = make_intent(
            intent_id=uuid.UUID(int=100 + n),
            reference_price=Decimal(120_000),
            rationale="t",
            ts_event=T0,
        )
        req = make_oversight_request(
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
