from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from compliance_kit import book_fill

from tradeswarm.bus.inproc import InProcessBus
from tradeswarm.bus.topics import COMPLIANCE_FLAGS, DAILY_SUMMARY
from tradeswarm.compliance.agent import ComplianceAgent
from tradeswarm.core.clock import NS_PER_SECOND, SimClock
from tradeswarm.model.enums import OversightStatus, Side, Verdict
from tradeswarm.model.envelope import Envelope
from tradeswarm.model.market import Session
from tradeswarm.model.messages import OversightRequested
from tradeswarm.store import Store
from tradeswarm.testkit import T0, make_decision, make_intent, make_oversight_request

S = NS_PER_SECOND
SESSION = Session(day="2024-01-02", open_ns=T0 - 60 * S, close_ns=T0 + 390 * 60 * S)


def _flags(compliance: ComplianceAgent) -> list[str]:
    return [f.flag for f in compliance.flags]


@pytest.mark.asyncio
async def test_reversal_within_the_window_is_a_wash_trade_suspect(
    compliance: ComplianceAgent, bus: InProcessBus, store: Store
) -> None:
    published: list[Envelope] = []

    async def handler(env: Envelope) -> None:
        published.append(env)

    bus.subscribe(COMPLIANCE_FLAGS, handler)
    await book_fill(bus, store, "f1", Side.BUY, T0)
    await book_fill(bus, store, "f2", Side.SELL, T0 + 1800 * S)
    assert _flags(compliance) == ["WASH_TRADE_SUSPECT"]
    assert "f1" in compliance.flags[0].detail
    assert len(published) == 1


@pytest.mark.asyncio
async def test_reversal_outside_the_window_is_not_flagged(
    compliance: ComplianceAgent, bus: InProcessBus, store: Store
) -> None:
    await book_fill(bus, store, "f1", Side.BUY, T0)
    await book_fill(bus, store, "f2", Side.SELL, T0 + 1800 * S + 1)
    assert compliance.flags == []


@pytest.mark.asyncio
async def test_same_side_fills_and_other_symbols_are_not_wash_trades(
    compliance: ComplianceAgent, bus: InProcessBus, store: Store
) -> None:
    await book_fill(bus, store, "f1", Side.BUY, T0)
    await book_fill(bus, store, "f2", Side.BUY, T0 + S)
    await book_fill(bus, store, "f3", Side.SELL, T0 + 2 * S, symbol="NQ")
    assert compliance.flags == []


@pytest.mark.asyncio
async def test_fill_in_a_restricted_symbol_is_flagged(
    compliance: ComplianceAgent, bus: InProcessBus, store: Store
) -> None:
    await book_fill(bus, store, "f1", Side.BUY, T0, symbol="XX")
    assert _flags(compliance) == ["RESTRICTED_SYMBOL"]
    assert compliance.flags[0].symbol == "XX"


def _request(n: int) -> OversightRequested:
    intent = make_intent(
        intent_id=uuid.UUID(int=100 + n),
        reference_price=Decimal(120_000),
        strategy="m",
        rationale="t",
        ts_event=T0,
    )
    return make_oversight_request(
        request_id=uuid.UUID(int=300 + n),
        decision_id=uuid.UUID(int=200 + n),
        intent=intent,
        trade_amount=Decimal(120_000),
        trigger="HighValueTrade",
        reasons=["big"],
        created_ns=T0 + n,
        timeout_ns=T0 + n + 300 * S,
    )


@pytest.mark.asyncio
async def test_summary_counts_the_days_trades_oversight_and_flags(
    compliance: ComplianceAgent, bus: InProcessBus, store: Store, clock: SimClock
) -> None:
    await book_fill(bus, store, "f1", Side.BUY, T0, qty="2", price="100")
    await book_fill(bus, store, "f2", Side.SELL, T0 + 60 * S, qty="1", price="110")
    await book_fill(bus, store, "f3", Side.BUY, T0, symbol="XX", price="5")
    await book_fill(bus, store, "old", Side.BUY, SESSION.open_ns - 86_400 * S)  # the day before
    for n, status in enumerate(
        [
            OversightStatus.APPROVED,
            OversightStatus.DENIED,
            OversightStatus.TIMEOUT,
            OversightStatus.TIMEOUT,
            None,
        ]
    ):
        req = _request(n)
        store.create_oversight(req, "trading-agent-01")
        if status is not None:
            store.decide_oversight(req.request_id, status, "x", "", T0 + 10)
    decision = make_decision(
        decision_id=uuid.UUID(int=9),
        intent=_request(0).intent,
        verdict=Verdict.DENY,
        reasons=["x"],
        ts_event=T0,
    )
    store.record_decision(decision, "CRITICAL")
    clock.set(SESSION.close_ns)
    summaries: list[Envelope] = []

    async def handler(env: Envelope) -> None:
        summaries.append(env)

    bus.subscribe(DAILY_SUMMARY, handler)
    summary = compliance.publish_summary(SESSION)
    await bus.drain()
    assert summary.day == "2024-01-02"
    assert summary.trades == 3
    assert summary.volume == Decimal(200 + 110 + 5)
    assert summary.oversight_requests == 5
    assert (summary.approvals, summary.denials, summary.auto_denials) == (1, 1, 2)
    assert summary.risk_events == 1
    assert summary.flags == 2  # f2 reverses f1 (wash), f3 is restricted
    assert [e.payload for e in summaries] == [summary]


@pytest.mark.asyncio
async def test_summary_counts_the_utc_day_including_what_is_decided_at_the_close(
    compliance: ComplianceAgent, store: Store, clock: SimClock
) -> None:
    """The day is [00:00, 24:00) UTC of session.day, as `audit report --date` counts it:
    a DENY at close_ns (market closed on the last bar) is in; yesterday's is out."""
    midnight = int(dt.datetime(2024, 1, 2, tzinfo=dt.UTC).timestamp()) * S
    for n, ts in enumerate((SESSION.close_ns, midnight, midnight - 1, midnight + 86_400 * S)):
        decision = make_decision(
            decision_id=uuid.UUID(int=50 + n),
            intent=_request(n).intent,
            verdict=Verdict.DENY,
            reasons=["market is closed"],
            ts_event=ts,
        )
        store.record_decision(decision, "CRITICAL")
    clock.set(SESSION.close_ns)
    assert compliance.summarize(SESSION).risk_events == 2
