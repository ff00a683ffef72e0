"""The oversight room: a signing bus on the store, the swarm's gate for humans' envelopes,
the desk, and (for the answer tests) a risk manager that opens and moves requests."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest
from oversight_kit import INSTRUMENTS, POLICY, PRICE, ROOM, TIMEOUT_NS, Room, quote_at

from signed_kit import signed_bus
from tradeswarm.bus.identity import Identity
from tradeswarm.bus.inproc import InProcessBus
from tradeswarm.bus.signed import VerifyingGate
from tradeswarm.bus.topics import HUMAN_COMMANDS, REJECTIONS, RISK_DECISIONS
from tradeswarm.core.clock import NS_PER_SECOND, SimClock
from tradeswarm.crypto import AgentIdentity, KeyRegistry, Signer
from tradeswarm.data.view import MarketView
from tradeswarm.model.envelope import Envelope
from tradeswarm.model.market import Session
from tradeswarm.model.messages import EnvelopeRejected, OversightRequested, RiskDecision
from tradeswarm.oversight.desk import OversightDesk
from tradeswarm.risk.limits import RiskLimits
from tradeswarm.risk.manager import RiskManager
from tradeswarm.store import Store
from tradeswarm.testkit import T0, make_intent, make_oversight_request

MINUTE = 60 * NS_PER_SECOND


@pytest.fixture
def store() -> Iterator[Store]:
    s = Store.open(":memory:")
    s.set_initial_cash(Decimal(5_000_000))
    yield s
    s.close()


@pytest.fixture
def signed(
    clock: SimClock, store: Store
) -> tuple[InProcessBus, KeyRegistry, dict[str, AgentIdentity]]:
    return signed_bus(clock, store, ROOM, POLICY)


@pytest.fixture
def bus(signed: tuple[InProcessBus, KeyRegistry, dict[str, AgentIdentity]]) -> InProcessBus:
    return signed[0]


@pytest.fixture
def registry(signed: tuple[InProcessBus, KeyRegistry, dict[str, AgentIdentity]]) -> KeyRegistry:
    return signed[1]


@pytest.fixture
def keys(
    signed: tuple[InProcessBus, KeyRegistry, dict[str, AgentIdentity]],
) -> Callable[[Identity], Signer]:
    """Each member's Ed25519 signer (the default policy's algorithm for every type)."""
    return lambda who: signed[2][str(who)].ed25519


@pytest.fixture
def gate(bus: InProcessBus, registry: KeyRegistry, clock: SimClock, store: Store) -> VerifyingGate:
    """The swarm's gate for humans' envelopes, wired as `Swarm` wires it."""
    return VerifyingGate(
        bus, registry, clock, policy=POLICY, topics=HUMAN_COMMANDS, logged=store.has_event
    )


@pytest.fixture
def desk(bus: InProcessBus, clock: SimClock, store: Store) -> OversightDesk:
    return OversightDesk("oversight-desk-01", bus, clock, store=store)


@pytest.fixture
def make_request(store: Store) -> Callable[[int], OversightRequested]:
    """A pending request stored directly (no risk manager): n picks its ids."""

    def make(n: int = 1) -> OversightRequested:
        intent = make_intent(
            intent_id=uuid.UUID(int=100 + n), reference_price=PRICE, rationale="t", ts_event=T0
        )
        req = make_oversight_request(
            request_id=uuid.UUID(f"018cca94-0000-7000-8000-{n:012d}"),
            decision_id=uuid.UUID(int=200 + n),
            intent=intent,
            trade_amount=PRICE,
            trigger="HighValueTrade",
            reasons=["big"],
            created_ns=T0,
            timeout_ns=T0 + TIMEOUT_NS,
        )
        assert store.create_oversight(req, "trading-agent-01")
        return req

    return make


@pytest.fixture
def room(
    bus: InProcessBus,
    clock: SimClock,
    store: Store,
    registry: KeyRegistry,
    gate: VerifyingGate,
    keys: Callable[[Identity], Signer],
) -> Room:
    market = MarketView()
    market.open_session(Session(day="2024-01-02", open_ns=T0 - 60 * MINUTE,
                                close_ns=T0 + 600 * MINUTE))  # fmt: skip
    for k in range(30, -1, -1):
        quote_at(market, T0 - k * MINUTE)
    RiskManager("risk-manager-01", bus, clock, store=store, market=market, limits=RiskLimits(),
                instruments=INSTRUMENTS, registry=registry, signing=POLICY)  # fmt: skip
    desk = OversightDesk("oversight-desk-01", bus, clock, store=store)
    r = Room(bus, clock, store, gate, market, desk, keys)

    async def on_decision(env: Envelope) -> None:
        assert isinstance(env.payload, RiskDecision)
        r.decisions.append(env.payload)

    async def on_rejection(env: Envelope) -> None:
        assert isinstance(env.payload, EnvelopeRejected)
        r.rejections.append(env.payload)

    bus.subscribe(RISK_DECISIONS, on_decision)
    bus.subscribe(REJECTIONS, on_rejection)
    return r
