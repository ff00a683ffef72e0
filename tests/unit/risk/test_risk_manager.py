"""The RiskManager on a real (signing) bus and store: who it judges, what it values the trade
at, what it cannot know, the traffic it counts, and how oversight answers move a request."""

from __future__ import annotations

import uuid
from decimal import Decimal

import msgspec
import pytest
from risk_kit import INSTRUMENTS, T0, intent

from conftest import MINUTE, make_manager, quote_at
from signed_kit import DESK, HUMAN, RISK, TRADER, keys_for, signed_bus
from tradeswarm.bus.inproc import InProcessBus
from tradeswarm.bus.topics import INTENTS, OVERSIGHT_DECISIONS, RISK_DECISIONS, Topic
from tradeswarm.core.clock import NS_PER_SECOND, SimClock
from tradeswarm.crypto import Algorithm, sign_envelope
from tradeswarm.crypto.registry import KeyRegistry
from tradeswarm.data.view import MarketView
from tradeswarm.model.enums import DecisionKind, OversightStatus, Verdict
from tradeswarm.model.envelope import Envelope
from tradeswarm.model.market import Bar
from tradeswarm.model.messages import OversightDecided, OversightRequested, RiskDecision
from tradeswarm.oversight.service import answer_request
from tradeswarm.risk.limits import EngineKind, InsiderWindow, RiskLimits
from tradeswarm.risk.manager import RiskManager
from tradeswarm.store import Store
from tradeswarm.testkit import make_envelope

BIG = "NQ"  # the symbol big trades use, with its own history at 120,000


def _watch(bus: InProcessBus, topic: Topic[RiskDecision]) -> list[Envelope]:
    got: list[Envelope] = []

    async def handler(env: Envelope) -> None:
        got.append(env)

    bus.subscribe(topic, handler)
    return got


def _history(market: MarketView, price: int | str, symbol: str, bars: int = 31) -> None:
    for k in range(bars - 1, -1, -1):
        quote_at(market, price, T0 - k * MINUTE, symbol)


def _verdicts(envs: list[Envelope]) -> list[Verdict]:
    return [e.payload.verdict for e in envs]  # type: ignore[union-attr]


async def _publish(bus: InProcessBus, *intents: object, key: str = "i") -> None:
    for n, i in enumerate(intents):
        bus.attach(TRADER).publish(INTENTS, i, key=f"{key}{n}")  # type: ignore[arg-type]
    await bus.drain()


@pytest.mark.asyncio
async def test_small_intent_is_permitted_and_recorded_with_its_signed_principal(
    manager: RiskManager, bus: InProcessBus, store: Store
) -> None:
    decisions = _watch(bus, RISK_DECISIONS)
    sent = bus.attach(TRADER).publish(INTENTS, intent(10, 100), key="i1")
    await bus.drain()
    decision = decisions[0].payload
    assert isinstance(decision, RiskDecision)
    assert decision.verdict is Verdict.PERMIT, decision.reasons
    assert decision.principal == TRADER.name and decision.phase is DecisionKind.INTENT
    assert decisions[0].causation_id == sent.msg_id
    assert store.get_decision_for_intent(decision.intent.intent_id) == decision
    assert store.list_oversight() == []


@pytest.mark.asyncio
async def test_review_request_shows_the_gates_valuation_not_the_agents_price(
    manager: RiskManager, bus: InProcessBus, store: Store, clock: SimClock, market: MarketView
) -> None:
    _history(market, 120_000, BIG)
    await _publish(bus, intent(1, 1, symbol=BIG))  # the agent claims $1
    request = store.list_oversight()[0]
    assert request.status is OversightStatus.PENDING
    assert request.request.trade_amount == Decimal(120_000)
    assert request.request.timeout_ns == clock.now_ns() + 300 * NS_PER_SECOND


async def _answer(
    store: Store,
    bus: InProcessBus,
    request: OversightRequested,
    approve: bool,
    now_ns: int,
) -> Envelope:
    """A human's signed answer, admitted as the swarm's gate admits it (logged, queued)."""
    signer = keys_for([HUMAN])[str(HUMAN)].signer(Algorithm.ED25519)
    env = answer_request(
        store, str(request.request_id), HUMAN, approve, "ok", now_ns, signer=signer
    )
    bus.admit(env)
    await bus.drain()
    return env


async def _review(bus: InProcessBus, store: Store, market: MarketView) -> OversightRequested:
    _history(market, 120_000, BIG)
    await _publish(bus, intent(1, 120_000, symbol=BIG), key="big")
    return store.list_oversight()[0].request


@pytest.mark.asyncio
async def test_fresh_human_approval_turns_review_into_permit(
    manager: RiskManager, bus: InProcessBus, store: Store, clock: SimClock, market: MarketView
) -> None:
    decisions = _watch(bus, RISK_DECISIONS)
    request = await _review(bus, store, market)
    clock.advance(60 * NS_PER_SECOND)
    await _answer(store, bus, request, True, clock.now_ns())
    final = decisions[-1].payload
    assert isinstance(final, RiskDecision)
    assert final.verdict is Verdict.PERMIT and final.phase is DecisionKind.OVERSIGHT
    assert final.approval is not None and final.approval.approver == HUMAN.name
    assert store.get_oversight(request.request_id).status is OversightStatus.APPROVED  # type: ignore[union-attr]


@pytest.mark.asyncio
async def test_an_approval_older_than_its_validity_never_permits(
    bus: InProcessBus,
    store: Store,
    clock: SimClock,
    market: MarketView,
    registry: KeyRegistry,
) -> None:
    limits = RiskLimits(approval_valid_s=60)
    make_manager(bus, clock, store, market, registry, limits)
    decisions = _watch(bus, RISK_DECISIONS)
    request = await _review(bus, store, market)
    decided = clock.now_ns()
    clock.advance(61 * NS_PER_SECOND)  # answered at T0, seen a minute and a second later
    await _answer(store, bus, request, True, decided)
    final = decisions[-1].payload
    assert final.verdict is Verdict.DENY  # type: ignore[union-attr]
    assert "no longer lifts the review" in final.reasons[0]  # type: ignore[union-attr]


@pytest.mark.asyncio
async def test_a_human_denial_turns_review_into_deny(
    manager: RiskManager, bus: InProcessBus, store: Store, clock: SimClock, market: MarketView
) -> None:
    decisions = _watch(bus, RISK_DECISIONS)
    request = await _review(bus, store, market)
    await _answer(store, bus, request, False, clock.now_ns())
    final = decisions[-1].payload
    assert final.verdict is Verdict.DENY  # type: ignore[union-attr]
    assert final.reasons == ["oversight: denied by jane.doe@desk: ok"]  # type: ignore[union-attr]


def _timeout(request: OversightRequested, now: int) -> OversightDecided:
    return OversightDecided(
        request_id=request.request_id,
        intent_id=request.intent.intent_id,
        status=OversightStatus.TIMEOUT,
        approver="system:auto-deny",
        notes="no answer within the timeout",
        decided_ns=now,
    )


@pytest.mark.asyncio
async def test_only_the_desk_times_a_request_out_and_only_after_its_timeout(
    manager: RiskManager, bus: InProcessBus, store: Store, clock: SimClock, market: MarketView
) -> None:
    decisions = _watch(bus, RISK_DECISIONS)
    request = await _review(bus, store, market)
    early = bus.attach(DESK)
    early.publish(OVERSIGHT_DECISIONS, _timeout(request, clock.now_ns()), key="early")
    await bus.drain()
    assert store.get_oversight(request.request_id).status is OversightStatus.PENDING  # type: ignore[union-attr]
    clock.advance(300 * NS_PER_SECOND)
    bus.attach(HUMAN).publish(OVERSIGHT_DECISIONS, _timeout(request, clock.now_ns()), key="h")
    await bus.drain()
    assert store.get_oversight(request.request_id).status is OversightStatus.PENDING  # type: ignore[union-attr]
    early.publish(OVERSIGHT_DECISIONS, _timeout(request, clock.now_ns()), key="late")
    await bus.drain()
    assert store.get_oversight(request.request_id).status is OversightStatus.TIMEOUT  # type: ignore[union-attr]
    assert decisions[-1].payload.reasons[0].startswith("oversight: auto-denied")  # type: ignore[union-attr]


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
async def test_an_intent_id_reused_for_another_trade_is_denied_as_a_conflict(
    manager: RiskManager, bus: InProcessBus, store: Store
) -> None:
    decisions = _watch(bus, RISK_DECISIONS)
    await _publish(bus, intent(10, 100), intent(20, 100), key="same-id")
    assert _verdicts(decisions) == [Verdict.PERMIT, Verdict.DENY]
    second = decisions[1].payload
    assert isinstance(second, RiskDecision) and second.phase is DecisionKind.CONFLICT
    assert second.reasons[0].startswith("intent_id_reused:")
    assert store.get_decision_for_intent(second.intent.intent_id).verdict is Verdict.PERMIT  # type: ignore[union-attr]


@pytest.mark.asyncio
async def test_manager_uses_store_kill_switch(
    manager: RiskManager, bus: InProcessBus, store: Store, clock: SimClock
) -> None:
    store.set_killswitch(True, "test", clock.now_ns())
    decisions = _watch(bus, RISK_DECISIONS)
    await _publish(bus, intent(1, 100))
    assert _verdicts(decisions) == [Verdict.DENY]
    assert store.count_risk_events() == 1


@pytest.mark.asyncio
async def test_an_unsigned_intent_is_denied_for_want_of_a_principal(
    manager: RiskManager, bus: InProcessBus, clock: SimClock
) -> None:
    decisions = _watch(bus, RISK_DECISIONS)
    env = make_envelope(
        intent(1, 100), topic=INTENTS.name, sender=str(TRADER), ts_ns=clock.now_ns()
    )
    bus.inject(env)
    await bus.drain()
    decision = decisions[0].payload
    assert decision.verdict is Verdict.DENY and decision.principal == ""  # type: ignore[union-attr]
    assert decision.reasons[0].startswith("identity: the intent's envelope")  # type: ignore[union-attr]
    assert "unsigned" in decision.reasons[0]  # type: ignore[union-attr]


@pytest.mark.asyncio
async def test_an_intent_naming_another_agent_is_denied_naming_both(
    manager: RiskManager, bus: InProcessBus
) -> None:
    decisions = _watch(bus, RISK_DECISIONS)
    await _publish(bus, intent(1, 100, agent_id="trading-agent-03"))
    decision = decisions[0].payload
    assert decision.verdict is Verdict.DENY  # type: ignore[union-attr]
    assert decision.reasons == [  # type: ignore[union-attr]
        "identity: the intent names agent 'trading-agent-03' but is signed by "
        "'trading-agent-01'; an agent trades only under its own name"
    ]


@pytest.mark.asyncio
async def test_an_intent_signed_by_a_non_trader_is_denied(
    manager: RiskManager, bus: InProcessBus, clock: SimClock
) -> None:
    decisions = _watch(bus, RISK_DECISIONS)
    env = make_envelope(
        intent(1, 100, agent_id=RISK.name), topic=INTENTS.name, sender=str(RISK), ts_ns=T0
    )
    bus.inject(sign_envelope(env, keys_for([RISK])[str(RISK)].signer(Algorithm.ED25519)))
    await bus.drain()
    assert decisions[0].payload.reasons == [  # type: ignore[union-attr]
        "identity: risk-manager:risk-manager-01 is not a trading agent"
    ]


@pytest.mark.asyncio
async def test_unknown_instrument_and_missing_quote_are_denied(
    manager: RiskManager, bus: InProcessBus
) -> None:
    decisions = _watch(bus, RISK_DECISIONS)
    unknown = intent(1, 100, symbol="NOPE", intent_id=uuid.UUID(int=1))
    await _publish(bus, unknown, intent(1, 100, symbol="NQ", intent_id=uuid.UUID(int=2)))
    first, second = (d.payload.reasons[0] for d in decisions)  # type: ignore[union-attr]
    assert first.startswith("instrument: unknown instrument 'NOPE'")
    assert first.endswith("the risk kit)")
    assert second == "market_data: no quote for NQ; the trade cannot be valued"


@pytest.mark.asyncio
async def test_a_quote_gone_stale_denies_and_fewer_bars_than_needed_deny(
    manager: RiskManager, bus: InProcessBus, clock: SimClock, market: MarketView
) -> None:
    decisions = _watch(bus, RISK_DECISIONS)
    _history(market, 100, "NQ", bars=12)
    await _publish(bus, intent(1, 100, symbol="NQ", intent_id=uuid.UUID(int=1)), key="short")
    clock.advance(10 * MINUTE)  # no bar for ten minutes
    await _publish(bus, intent(2, 100, intent_id=uuid.UUID(int=2)), key="stale")
    assert decisions[0].payload.reasons == [  # type: ignore[union-attr]
        "insufficient_history: insufficient history: 12 of 30 bars"
    ]
    assert (
        decisions[1]
        .payload.reasons[0]
        .startswith(  # type: ignore[union-attr]
            "stale_market_data: stale market data: the quote for ES is 600s old"
        )
    )


@pytest.mark.asyncio
async def test_a_flood_is_throttled_past_ten_intents_a_second(
    manager: RiskManager, bus: InProcessBus
) -> None:
    decisions = _watch(bus, RISK_DECISIONS)
    flood = [intent(n + 1, 100, intent_id=uuid.UUID(int=1000 + n)) for n in range(15)]
    await _publish(bus, *flood, key="flood")
    assert _verdicts(decisions) == [Verdict.PERMIT] * 10 + [Verdict.DENY] * 5
    assert decisions[-1].payload.reasons[0].startswith("message_throttle:")  # type: ignore[union-attr]
    assert "sent 15 intents in the last second (limit 10)" in decisions[-1].payload.reasons[0]  # type: ignore[union-attr]


@pytest.mark.asyncio
async def test_a_duplicate_within_the_window_is_denied_and_allowed_after_it(
    manager: RiskManager, bus: InProcessBus, clock: SimClock, market: MarketView
) -> None:
    decisions = _watch(bus, RISK_DECISIONS)
    one, two, three = (intent(5, 100, intent_id=uuid.UUID(int=n)) for n in (1, 2, 3))
    await _publish(bus, one, key="a")
    clock.advance(5 * NS_PER_SECOND)
    quote_at(market, 100, clock.now_ns())
    await _publish(bus, two, key="b")
    clock.advance(6 * NS_PER_SECOND)
    quote_at(market, 100, clock.now_ns())
    await _publish(bus, three, key="c")
    assert _verdicts(decisions) == [Verdict.PERMIT, Verdict.DENY, Verdict.PERMIT]
    assert decisions[1].payload.reasons[0].startswith("duplicate_order:")  # type: ignore[union-attr]


@pytest.mark.asyncio
async def test_a_restarted_manager_remembers_the_last_minutes_traffic(
    bus: InProcessBus, clock: SimClock, store: Store, market: MarketView, registry: KeyRegistry
) -> None:
    limits = RiskLimits(max_intents_per_minute=3)
    make_manager(bus, clock, store, market, registry, limits)
    flood = [intent(n + 1, 100, intent_id=uuid.UUID(int=n)) for n in range(3)]
    await _publish(bus, *flood, key="before")
    restarted, _, _ = signed_bus(clock, store)  # a new process: a new bus and manager
    make_manager(restarted, clock, store, market, registry, limits)
    decisions = _watch(restarted, RISK_DECISIONS)
    clock.advance(2 * NS_PER_SECOND)
    quote_at(market, 100, clock.now_ns())
    await _publish(restarted, intent(9, 100, intent_id=uuid.UUID(int=99)), key="after")
    assert decisions[-1].payload.reasons[0].startswith("message_throttle:")  # type: ignore[union-attr]


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
    market.set_quote(msgspec.structs.replace(market.quote("ES"), ts_event=T0))  # type: ignore[type-var]
    decision = manager.decide(intent(1, 1), TRADER.name)
    assert decision.verdict is Verdict.DENY
    assert decision.reasons[0].startswith("context_error: ")


def test_insider_window_from_config_denies_inside_it_only(
    bus: InProcessBus, clock: SimClock, store: Store, market: MarketView, registry: KeyRegistry
) -> None:
    window = InsiderWindow(symbol="ES", start="2024-01-02T14:00:00Z", end="2024-01-02T15:00:00Z")
    limits = RiskLimits(insider_windows=[window], compliance_status={"rogue": "suspended"})
    manager = make_manager(bus, clock, store, market, registry, limits)
    inside = manager.decide(intent(1, 100), TRADER.name)
    assert inside.verdict is Verdict.DENY
    assert inside.reasons == ["insider_window: compliance: ES is inside an insider trading window"]
    clock.advance(3600 * NS_PER_SECOND)
    quote_at(market, 100, clock.now_ns())
    assert manager.decide(intent(1, 100), TRADER.name).verdict is Verdict.PERMIT


def test_the_kit_instruments_are_what_the_manager_values_with(manager: RiskManager) -> None:
    assert manager.measure.instruments is INSTRUMENTS


def _bar(close: str) -> Bar:
    price = Decimal(close)
    return Bar(
        symbol="ES", ts_event=T0, open=price, high=price, low=price, close=price, volume=Decimal(1)
    )
