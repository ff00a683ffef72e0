"""Hand-built model objects for the store tests (imported by conftest and the tests)."""

from __future__ import annotations

import uuid
from decimal import Decimal

from tradeswarm import testkit
from tradeswarm.model.enums import MessageIntent, OrderType, Side, TimeInForce, Verdict
from tradeswarm.model.envelope import Envelope
from tradeswarm.model.messages import (
    KillSwitchActivated,
    OversightRequested,
    RiskDecision,
    TradeIntent,
)
from tradeswarm.model.order import Order
from tradeswarm.model.portfolio import Fill

BASE_NS = 1_700_000_000_000_000_000


def uid(n: int) -> uuid.UUID:
    return uuid.UUID(int=(0x0190_0000_0000_7000_8000_0000_0000_0000 + n))


def make_envelope(n: int) -> Envelope:
    return testkit.make_envelope(
        KillSwitchActivated(reason=f"test {n}", triggered_by="ops", ts_event=BASE_NS + n),
        topic="control.kill",
        sender="risk-gate",
        ts_ns=BASE_NS + n,
        msg_id=uid(n),
        correlation_id=uid(10_000_000 + n),
        causation_id=None if n % 2 else uid(20_000_000 + n),
        ttl_ms=0,
        intent=MessageIntent.EVENT,
        idempotency_key=f"kill-{n}",
        nonce=n.to_bytes(8, "big"),
    )


def make_order(n: int = 1, **changes: object) -> Order:
    fields: dict[str, object] = {
        "order_id": uid(100 + n),
        "client_order_id": f"cid-{n}",
        "intent_id": uid(200 + n),
        "agent_id": "momentum-1",
        "symbol": "ES",
        "side": Side.BUY,
        "quantity": Decimal("0.3"),
        "order_type": OrderType.LIMIT,
        "time_in_force": TimeInForce.DAY,
        "limit_price": Decimal("4500.1"),
        "created_ns": BASE_NS + n,
        "updated_ns": BASE_NS + n,
    }
    fields.update(changes)
    return Order(**fields)  # type: ignore[arg-type]


def make_fill(
    fill_id: str, side: Side, qty: str, price: str, *, fee: str = "0", ts: int = 0
) -> Fill:
    return Fill(
        fill_id=fill_id,
        order_id=uid(101),
        client_order_id="cid-1",
        symbol="ES",
        side=side,
        quantity=Decimal(qty),
        price=Decimal(price),
        fee=Decimal(fee),
        ts_event=BASE_NS + ts,
    )


def make_intent(n: int = 1) -> TradeIntent:
    return testkit.make_intent(
        intent_id=uid(200 + n),
        agent_id="momentum-1",
        quantity=Decimal("0.1"),
        reference_price=Decimal("4500.25"),
        ts_event=BASE_NS + n,
    )


def make_decision(n: int = 1, verdict: Verdict = Verdict.REVIEW, ts: int = 0) -> RiskDecision:
    return testkit.make_decision(
        decision_id=uid(300 + n),
        intent=make_intent(n),
        verdict=verdict,
        reasons=["notional above review threshold"],
        metrics={"notional": "450.025", "limit": "0.1"},
        ts_event=BASE_NS + ts,
    )


def make_request(n: int = 1, created: int = 0) -> OversightRequested:
    return testkit.make_oversight_request(
        request_id=uid(400 + n),
        decision_id=uid(300 + n),
        intent=make_intent(n),
        trade_amount=Decimal("450.025"),
        trigger="NOTIONAL",
        reasons=["large trade"],
        created_ns=BASE_NS + created,
        timeout_ns=BASE_NS + created + 60_000_000_000,
    )
