"""The risk manager's open-order book: PERMITs count at once, orders until they end, and a
burst of intents decided in one delivery cannot each see the book as it was before it."""

from __future__ import annotations

import uuid
from decimal import Decimal

import msgspec
import pytest
from risk_kit import intent

from conftest import make_manager
from signed_kit import TRADER
from tradeswarm.bus.inproc import InProcessBus
from tradeswarm.bus.topics import INTENTS, RISK_DECISIONS
from tradeswarm.core.clock import SimClock
from tradeswarm.crypto.registry import KeyRegistry
from tradeswarm.data.view import MarketView
from tradeswarm.model.enums import OrderType, Side, TimeInForce, Verdict
from tradeswarm.model.messages import OrderUpdated
from tradeswarm.model.order import Order, OrderState, OrderTrigger
from tradeswarm.risk.limits import RiskLimits
from tradeswarm.risk.openbook import OpenBook
from tradeswarm.store import Store
from tradeswarm.testkit import make_decision


def _permit(n: int, qty: int, agent: str = "a") -> object:
    i = intent(qty, 100, intent_id=uuid.UUID(int=n))
    return make_decision(
        intent=i, principal=agent, metrics={"valuation_price": "100"}, verdict=Verdict.PERMIT
    )


def test_a_permit_counts_at_once_and_an_ended_order_no_more() -> None:
    book = OpenBook()
    first = _permit(1, 10)
    book.permitted(first)  # type: ignore[arg-type]
    book.permitted(_permit(2, 5))  # type: ignore[arg-type]
    assert book.count("a") == 2
    assert book.exposure({"ES": Decimal(100)}, {"ES": Decimal(2)}) == Decimal(3000)
    assert book.count("someone else") == 0


def test_order_updates_carry_the_remaining_quantity_until_it_ends() -> None:
    book = OpenBook()
    decision = _permit(1, 10)
    book.permitted(decision)  # type: ignore[arg-type]
    order = Order(
        order_id=uuid.UUID(int=9),
        client_order_id="c",
        intent_id=uuid.UUID(int=1),
        agent_id="a",
        symbol="ES",
        side=Side.BUY,
        quantity=Decimal(10),
        order_type=OrderType.MARKET,
        time_in_force=TimeInForce.DAY,
        created_ns=0,
        updated_ns=0,
    )
    sent = order.transition(OrderTrigger.SUBMIT, 1).transition(OrderTrigger.ACK, 2)
    part = sent.apply_fill(Decimal(4), Decimal(100), 3)
    book.updated(OrderUpdated(order=part, ts_event=3))
    assert book.count("a") == 1
    assert book.exposure({"ES": Decimal(100)}, {}) == Decimal(600)
    done = part.transition(OrderTrigger.CANCEL, 4)
    assert done.state is OrderState.CANCELED
    book.updated(OrderUpdated(order=done, ts_event=4))
    assert book.count("a") == 0
    assert book.exposure({"ES": Decimal(100)}, {}) == Decimal(0)
    restarted = OpenBook([part])  # seeded from the store's open orders
    assert restarted.count("a") == 1


@pytest.mark.asyncio
async def test_a_burst_cannot_pass_the_credit_limit_intent_by_intent(
    bus: InProcessBus,
    clock: SimClock,
    store: Store,
    market: MarketView,
    registry: KeyRegistry,
) -> None:
    limits = RiskLimits(max_gross_exposure=Decimal(5_000), position_limit=Decimal(10_000))
    make_manager(bus, clock, store, market, registry, limits)
    got: list[object] = []

    async def watch(env: object) -> None:
        got.append(env)

    bus.subscribe(RISK_DECISIONS, watch)  # type: ignore[arg-type]
    for n, qty in enumerate((15, 14, 13, 16)):  # $5,800 in one delivery, none an order yet
        burst = intent(qty, 100, intent_id=uuid.UUID(int=100 + n))
        bus.attach(TRADER).publish(INTENTS, burst, key=f"b{n}")
    await bus.drain()
    verdicts = [e.payload.verdict for e in got]  # type: ignore[attr-defined]
    assert verdicts == [Verdict.PERMIT, Verdict.PERMIT, Verdict.PERMIT, Verdict.DENY]
    last = got[-1].payload  # type: ignore[attr-defined]
    assert last.reasons[0].startswith("gross_exposure: credit limit")
    assert msgspec.structs.asdict(last)["principal"] == TRADER.name
