from __future__ import annotations

from decimal import Decimal

import pytest
from risk_kit import intent

from tradeswarm.bus.identity import Identity
from tradeswarm.bus.inproc import InProcessBus
from tradeswarm.bus.topics import (
    INTENTS,
    OVERSIGHT_DECISIONS,
    OVERSIGHT_REQUESTS,
    RISK_DECISIONS,
    Role,
)
from tradeswarm.core.clock import NS_PER_SECOND, SimClock
from tradeswarm.data.view import MarketView
from tradeswarm.model.enums import OversightStatus, Verdict
from tradeswarm.model.envelope import Envelope
from tradeswarm.model.market import Bar
from tradeswarm.model.messages import OversightDecided, OversightRequested, RiskDecision
from tradeswarm.risk.limits import EngineKind, InsiderWindow, RiskLimits
from tradeswarm.risk.manager import RiskManager
from tradeswarm.store import Store

TRADER = Identity("trading-agent-01", Role.TRADER)
HUMAN = Identity("jane.doe@desk", Role.HUMAN)


def _watch(bus: InProcessBus, topic) -> list[Envelope]:  # type: ignore[no-untyped-def]
    got: list[Envelope] = []

    async def handler(env: Envelope) -> None:
        got.append(env)

    bus.subscribe(topic, handler)
    return got


@pytest.mark.asyncio
async def test_small_intent_is_permitted_and_recorded(
    manager: RiskManager, bus: InProcessBus, store: Store
) -> None:
    decisions = _watch(bus, RISK_DECISIONS)
    sent = bus.attach(TRADER).publish(INTENTS, intent(10, 100), key="i1")
    await bus.drain()
    assert len(decisions) == 1
    decision = decisions[0].payload
    assert isinstance(decision, RiskDecision)
    assert decision.verdict is Verdict.PERMIT
    assert decisions[0].causation_id == sent.msg_id
    assert store.get_decision_for_intent(decision.intent.intent_id) == decision
    assert store.list_oversight() == []


@pytest.mark.asyncio
async def test_review_creates_a_persisted_pending_oversight_request(
    manager: RiskManager, bus: InProcessBus, store: Store, clock: SimClock
) -> None:
    decisions = _watch(bus, RISK_DECISIONS)
    requests = _watch(bus, OVERSIGHT_REQUESTS)
    big = intent(1, "120000")
    bus.attach(TRADER).publish(INTENTS, big, key="big")
    await bus.drain()
    assert [d.payload.verdict for d in decisions] == [Verdict.REVIEW]  # type: ignore[union-attr]
    assert len(requests) == 1
    request = requests[0].payload
    assert isinstance(request, OversightRequested)
    stored = store.list_oversight()
    assert len(stored) == 1
    assert stored[0].status is OversightStatus.PENDING
    assert stored[0].request == request
    assert request.trade_amount == Decimal(120000)
    assert request.timeout_ns == clock.now_ns() + 300 * NS_PER_SECOND


async def _answer(
    bus: InProcessBus, request: OversightRequested, status: OversightStatus, decided_ns: int
) -> None:
    bus.attach(HUMAN).publish(
        OVERSIGHT_DECISIONS,
        OversightDecided(
            request_id=request.request_id,
            intent_id=request.intent.intent_id,
            status=status,
            approver=HUMAN.name,
            notes="ok",
            decided_ns=decided_ns,
        ),
        key=f"{status}",
    )
    await bus.drain()


@pytest.mark.asyncio
async def test_fresh_human_approval_turns_review_into_permit(
    manager: RiskManager, bus: InProcessBus, store: Store, clock: SimClock
) -> None:
    decisions = _watch(bus, RISK_DECISIONS)
    bus.attach(TRADER).publish(INTENTS, intent(1, "120000"), key="big")
    await bus.drain()
    request = store.list_oversight()[0].request
    clock.advance(60 * NS_PER_SECOND)
    await _answer(bus, request, OversightStatus.APPROVED, clock.now_ns())
    final = decisions[-1].payload
    assert isinstance(final, RiskDecision)
    assert final.verdict is Verdict.PERMIT
    assert final.approval is not None and final.approval.approver == HUMAN.name
    assert final.decision_id != decisions[0].payload.decision_id  # type: ignore[union-attr]


@pytest.mark.asyncio
async def test_stale_approval_leaves_the_trade_in_review(
    manager: RiskManager, bus: InProcessBus, store: Store, clock: SimClock
) -> None:
    decisions = _watch(bus, RISK_DECISIONS)
    bus.attach(TRADER).publish(INTENTS, intent(1, "120000"), key="big")
    await bus.drain()
    request = store.list_oversight()[0].request
    decided = clock.now_ns()
    clock.advance(301 * NS_PER_SECOND)
    await _answer(bus, request, OversightStatus.APPROVED, decided)
    assert decisions[-1].payload.verdict is Verdict.REVIEW  # type: ignore[union-attr]


@pytest.mark.parametrize("status", [OversightStatus.DENIED, OversightStatus.TIMEOUT])
@pytest.mark.asyncio
async def test_denial_or_timeout_turns_review_into_deny(
    manager: RiskManager,
    bus: InProcessBus,
    store: Store,
    clock: SimClock,
    status: OversightStatus,
) -> None:
    decisions = _watch(bus, RISK_DECISIONS)
    bus.attach(TRADER).publish(INTENTS, intent(1, "120000"), key="big")
    await bus.drain()
    request = store.list_oversight()[0].request
    await _answer(bus, request, status, clock.now_ns())
    final = decisions[-1].payload
    assert final.verdict is Verdict.DENY  # type: ignore[union-attr]
    assert final.reasons[0].startswith("oversight:")  # type: ignore[union-attr]


@pytest.mark.asyncio
async def test_replayed_intent_gets_the_stored_decision(
    manager: RiskManager, bus: InProcessBus, store: Store, clock: SimClock, market: MarketView
) -> None:
    decisions = _watch(bus, RISK_DECISIONS)
    first = bus.attach(TRADER).publish(INTENTS, intent(10, 100), key="i1")
    await bus.drain()
    market.halted.add("ES")  # the world changed; the replay must not re-decide
    clock.advance(NS_PER_SECOND)
    await manager.on_intent(first)
    await bus.drain()
    assert len(decisions) == 2
    assert decisions[0].payload == decisions[1].payload
    assert decisions[1].payload.verdict is Verdict.PERMIT  # type: ignore[union-attr]


@pytest.mark.asyncio
async def test_manager_uses_store_kill_switch(
    manager: RiskManager, bus: InProcessBus, store: Store, clock: SimClock
) -> None:
    store.set_killswitch(True, "test", clock.now_ns())
    decisions = _watch(bus, RISK_DECISIONS)
    bus.attach(TRADER).publish(INTENTS, intent(1, 100), key="i")
    await bus.drain()
    assert decisions[0].payload.verdict is Verdict.DENY  # type: ignore[union-attr]
    assert store.count_risk_events() == 1


def test_session_open_equity_is_recorded_once(manager: RiskManager, store: Store) -> None:
    manager.mark_session_open("2024-01-02")
    assert store.get_meta("equity_at_open:2024-01-02") == "5000000"
    store.set_initial_cash(Decimal(1))  # no-op: already set
    manager.mark_session_open("2024-01-02")
    assert store.get_meta("equity_at_open:2024-01-02") == "5000000"


def test_manager_decides_through_the_configured_engine(manager: RiskManager) -> None:
    from tradeswarm.policy import CompiledPolicySet
    from tradeswarm.policy.reference import ReferenceEngine

    expected = {
        EngineKind.COMPILED: CompiledPolicySet,
        EngineKind.CEDARPY: ReferenceEngine,
    }[manager.limits.engine]
    assert isinstance(manager.gate.engine, expected)


def test_manager_denies_when_the_market_volatility_is_not_a_number(
    manager: RiskManager, market: MarketView
) -> None:
    for close in ("1e-300", "1e300", "1"):  # the return overflows: volatility is nan
        market.on_bar(_bar(close))
    decision = manager.decide(intent(1, 100))
    assert decision.verdict is Verdict.DENY
    assert decision.reasons[0].startswith("context_error: ")


def test_insider_window_from_config_denies_inside_it_only(
    bus: InProcessBus, clock: SimClock, store: Store, market: MarketView
) -> None:
    window = InsiderWindow(symbol="ES", start="2024-01-02T14:00:00Z", end="2024-01-02T15:00:00Z")
    manager = RiskManager(
        "risk-manager-01",
        bus,
        clock,
        store=store,
        market=market,
        limits=RiskLimits(insider_windows=[window], compliance_status={"rogue": "suspended"}),
    )
    inside = manager.decide(intent(1, 100))
    assert inside.verdict is Verdict.DENY
    assert inside.reasons == ["insider_window: compliance: ES is inside an insider trading window"]
    clock.advance(3600 * NS_PER_SECOND)
    assert manager.decide(intent(1, 100)).verdict is Verdict.PERMIT


def _bar(close: str) -> Bar:
    price = Decimal(close)
    return Bar(
        symbol="ES", ts_event=0, open=price, high=price, low=price, close=price, volume=Decimal(1)
    )
