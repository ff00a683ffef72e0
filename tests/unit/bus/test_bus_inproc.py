from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from tradeswarm.bus.identity import Identity
from tradeswarm.bus.inproc import InProcessBus
from tradeswarm.bus.topics import (
    ALL_TOPICS,
    INTENTS,
    KILLSWITCH,
    REJECTIONS,
    RESUME,
    RISK_DECISIONS,
    SIGNALS,
    Role,
)
from tradeswarm.core.clock import NS_PER_SECOND, SimClock
from tradeswarm.core.errors import AccessDenied, InvalidInput
from tradeswarm.model.enums import SignalDirection, Verdict
from tradeswarm.model.envelope import Envelope, decode_envelope
from tradeswarm.model.messages import (
    EnvelopeRejected,
    KillSwitchActivated,
    MarketSignal,
    RiskDecision,
    TradingResumed,
)
from tradeswarm.store import Store
from tradeswarm.testkit import make_decision, make_intent

TRADER = Identity("trading-agent-01", Role.TRADER)
RISK = Identity("risk-manager-01", Role.RISK)
ANALYZER = Identity("market-analyzer-01", Role.ANALYZER)


def _signal(clock: SimClock, n: int = 1) -> MarketSignal:
    now = clock.now_ns()
    return MarketSignal(
        signal_id=uuid.UUID(int=n),
        symbol="ES",
        direction=SignalDirection.BUY,
        strength=0.5,
        confidence=0.6,
        price=Decimal(100),
        ts_event=now,
        expiry_ns=now + 60 * NS_PER_SECOND,
    )


def _collector(bus: InProcessBus, topic) -> list[Envelope]:  # type: ignore[no-untyped-def]
    got: list[Envelope] = []

    async def handler(env: Envelope) -> None:
        got.append(env)

    bus.subscribe(topic, handler)
    return got


def _decision(clock: SimClock) -> RiskDecision:
    now = clock.now_ns()
    intent = make_intent(intent_id=uuid.UUID(int=5), strategy="s", rationale="r", ts_event=now)
    return make_decision(
        decision_id=uuid.UUID(int=6), intent=intent, verdict=Verdict.PERMIT, ts_event=now
    )


def _logged(store: Store) -> list[Envelope]:
    return [decode_envelope(row.body) for row in store.iter_events()]


def test_trader_may_not_publish_risk_decisions(clock: SimClock) -> None:
    bus = InProcessBus(clock)
    trader = bus.attach(TRADER)
    with pytest.raises(AccessDenied, match=RISK_DECISIONS.name):
        trader.publish(RISK_DECISIONS, _decision(clock), key="forged")
    assert bus.stats.published == 1  # the bus's own record of the refusal, nothing else


@pytest.mark.asyncio
async def test_acl_violation_is_logged_as_a_rejection_before_access_is_denied(
    clock: SimClock, store: Store
) -> None:
    bus = InProcessBus(clock, sink=store)
    decisions = _collector(bus, RISK_DECISIONS)
    rejections = _collector(bus, REJECTIONS)
    with pytest.raises(AccessDenied):
        bus.attach(TRADER).publish(RISK_DECISIONS, _decision(clock), key="forged")
    (logged,) = _logged(store)  # logged already, when publish raised
    assert (logged.sender, logged.topic) == ("system:bus", REJECTIONS.name)
    record = logged.payload
    assert isinstance(record, EnvelopeRejected)
    assert (record.sender, record.topic, record.type) == (
        str(TRADER),
        RISK_DECISIONS.name,
        "RiskDecision",
    )
    assert "may not publish" in record.reason
    assert len(record.envelope_sha256) == 64
    await bus.drain()
    assert decisions == []  # the forgery itself is neither logged nor delivered
    assert [e.payload for e in rejections] == [record]


def test_risk_manager_may_publish_risk_decisions(clock: SimClock) -> None:
    bus = InProcessBus(clock)
    env = bus.attach(RISK).publish(RISK_DECISIONS, _decision(clock), key="ok")
    assert env.sender == "risk-manager:risk-manager-01"
    assert bus.stats.published == 1


@pytest.mark.parametrize("topic", ALL_TOPICS, ids=lambda t: t.name)
def test_each_topic_refuses_every_role_outside_its_acl(clock: SimClock, topic) -> None:  # type: ignore[no-untyped-def]
    bus = InProcessBus(clock)
    outsiders = [r for r in Role if r not in topic.publishers]
    assert outsiders
    for role in outsiders:
        with pytest.raises(AccessDenied):
            bus.publish_as(
                Identity("x", role),
                topic,
                KillSwitchActivated(reason="r", triggered_by="t", ts_event=0),
                key="k",
                cause=None,
                intent=None,  # type: ignore[arg-type]
            )


def test_only_a_human_may_publish_resume(clock: SimClock, store: Store) -> None:
    bus = InProcessBus(clock, sink=store)
    payload = TradingResumed(resumed_by="x", ts_event=0)
    with pytest.raises(AccessDenied):
        bus.attach(Identity("sys", Role.SYSTEM)).publish(RESUME, payload, key="r")
    bus.attach(Identity("jane.doe@desk", Role.HUMAN)).publish(RESUME, payload, key="r")
    assert [(e.type, e.sender) for e in _logged(store)] == [
        ("EnvelopeRejected", "system:bus"),
        ("TradingResumed", "human:jane.doe@desk"),
    ]


def test_wrong_payload_type_raises_type_error(clock: SimClock) -> None:
    bus = InProcessBus(clock)
    with pytest.raises(TypeError, match="carries MarketSignal"):
        bus.attach(ANALYZER).publish(
            SIGNALS, KillSwitchActivated(reason="r", triggered_by="t", ts_event=0), key="k"
        )  # type: ignore[arg-type]
    assert bus.stats.published == 0


def test_identity_refuses_a_bad_name() -> None:
    with pytest.raises(InvalidInput):
        Identity("bad name!", Role.HUMAN)


@pytest.mark.asyncio
async def test_same_envelope_injected_twice_is_delivered_once(clock: SimClock) -> None:
    bus = InProcessBus(clock)
    got = _collector(bus, SIGNALS)
    env = bus.attach(ANALYZER).publish(SIGNALS, _signal(clock), key="s1")
    bus.inject(env)
    bus.inject(env)
    delivered = await bus.drain()
    assert delivered == 1
    assert len(got) == 1
    assert bus.stats.duplicates == 2
    assert bus.stats.delivered == 1


@pytest.mark.asyncio
async def test_republishing_the_same_key_at_the_same_time_is_deduplicated(clock: SimClock) -> None:
    bus = InProcessBus(clock)
    got = _collector(bus, SIGNALS)
    pub = bus.attach(ANALYZER)
    pub.publish(SIGNALS, _signal(clock), key="same")
    pub.publish(SIGNALS, _signal(clock), key="same")
    await bus.drain()
    assert len(got) == 1
    assert bus.stats.duplicates == 1


@pytest.mark.asyncio
async def test_expired_envelope_is_not_delivered(clock: SimClock) -> None:
    bus = InProcessBus(clock)
    got = _collector(bus, SIGNALS)
    bus.attach(ANALYZER).publish(SIGNALS, _signal(clock), key="old")
    clock.advance(SIGNALS.ttl_ms * 1_000_000 + 1)
    assert await bus.drain() == 0
    assert got == []
    assert bus.stats.expired == 1


@pytest.mark.asyncio
async def test_envelope_at_exactly_its_ttl_is_still_delivered(clock: SimClock) -> None:
    bus = InProcessBus(clock)
    got = _collector(bus, SIGNALS)
    bus.attach(ANALYZER).publish(SIGNALS, _signal(clock), key="edge")
    clock.advance(SIGNALS.ttl_ms * 1_000_000)
    await bus.drain()
    assert len(got) == 1
    assert bus.stats.expired == 0


@pytest.mark.asyncio
async def test_topic_without_ttl_never_expires(clock: SimClock) -> None:
    bus = InProcessBus(clock)
    got = _collector(bus, KILLSWITCH)
    bus.attach(RISK).publish(
        KILLSWITCH, KillSwitchActivated(reason="r", triggered_by="t", ts_event=0), key="k"
    )
    clock.advance(10**15)
    await bus.drain()
    assert len(got) == 1


@pytest.mark.asyncio
async def test_every_published_envelope_reaches_the_sink(clock: SimClock, store: Store) -> None:
    bus = InProcessBus(clock, sink=store)
    analyzer = bus.attach(ANALYZER)
    sent = []
    for n in range(5):
        clock.advance(1)
        sent.append(analyzer.publish(SIGNALS, _signal(clock, n), key=f"s{n}"))
    clock.advance(SIGNALS.ttl_ms * 1_000_000 + 1)  # expired ones are still logged
    await bus.drain()
    assert store.event_count() == 5
    logged = [decode_envelope(row.body) for row in store.iter_events()]
    assert [e.msg_id for e in logged] == [e.msg_id for e in sent]
    assert logged == sent


@pytest.mark.asyncio
async def test_handlers_publishing_during_drain_are_delivered_in_order(clock: SimClock) -> None:
    bus = InProcessBus(clock)
    trader = bus.attach(TRADER)
    order: list[str] = []

    async def on_signal(env: Envelope) -> None:
        order.append("signal")
        trader.publish(
            INTENTS,
            make_intent(
                intent_id=uuid.UUID(int=9), strategy="s", rationale="r", ts_event=clock.now_ns()
            ),
            key="i",
            cause=env,
        )

    async def on_intent(env: Envelope) -> None:
        order.append("intent")

    bus.subscribe(SIGNALS, on_signal)
    bus.subscribe(INTENTS, on_intent)
    cause = bus.attach(ANALYZER).publish(SIGNALS, _signal(clock), key="s")
    assert await bus.drain() == 2
    assert order == ["signal", "intent"]
    assert cause.correlation_id == cause.msg_id


def test_caused_envelope_carries_correlation_and_causation(clock: SimClock) -> None:
    bus = InProcessBus(clock)
    first = bus.attach(RISK).publish(
        KILLSWITCH, KillSwitchActivated(reason="a", triggered_by="t", ts_event=0), key="a"
    )
    second = bus.attach(RISK).publish(
        KILLSWITCH,
        KillSwitchActivated(reason="b", triggered_by="t", ts_event=0),
        key="b",
        cause=first,
    )
    assert second.causation_id == first.msg_id
    assert second.correlation_id == first.correlation_id


def test_msg_id_is_reproducible_for_the_same_clock_and_key() -> None:
    a = (
        InProcessBus(SimClock(1_000))
        .attach(ANALYZER)
        .publish(SIGNALS, _signal(SimClock(1_000)), key="k")
    )
    b = (
        InProcessBus(SimClock(1_000))
        .attach(ANALYZER)
        .publish(SIGNALS, _signal(SimClock(1_000)), key="k")
    )
    c = (
        InProcessBus(SimClock(1_000))
        .attach(ANALYZER)
        .publish(SIGNALS, _signal(SimClock(1_000)), key="other")
    )
    d = (
        InProcessBus(SimClock(2_000_000))
        .attach(ANALYZER)
        .publish(SIGNALS, _signal(SimClock(1_000)), key="k")
    )
    assert a.msg_id == b.msg_id
    assert a.nonce == b.nonce
    assert a.msg_id != c.msg_id
    assert a.msg_id != d.msg_id
    assert a.msg_id.version == 7
