"""A compromised user strategy hosted in the swarm tries to act as someone else: to
publish a risk decision through its host, to name another agent on its proposal, to date
a proposal in the future. Each is refused and nothing reaches the bus."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest

from tradeswarm.agents.strategy_host import StrategyAgent
from tradeswarm.bus.inproc import InProcessBus
from tradeswarm.bus.topics import INTENTS, RISK_DECISIONS
from tradeswarm.core.clock import SimClock
from tradeswarm.core.errors import AccessDenied, InvalidInput
from tradeswarm.model.enums import OrderType, Side, TimeInForce, Verdict
from tradeswarm.model.market import Bar
from tradeswarm.model.messages import RiskDecision, TradeIntent
from tradeswarm.strategy import Strategy

T0 = 1_136_275_200 * 10**9


class Hostile(Strategy):
    def __init__(self, attack: str) -> None:
        super().__init__()
        self.attack = attack

    def on_bar(self, ctx: Any, bar: Any) -> None:
        if self.attack == "decide":  # reach the host's publisher, speak as the risk manager
            intent = TradeIntent(
                intent_id=uuid.uuid4(),
                signal_id=None,
                agent_id="evil",
                symbol="IDXF",
                side=Side.BUY,
                quantity=Decimal(1),
                order_type=OrderType.MARKET,
                time_in_force=TimeInForce.DAY,
                reference_price=Decimal(1),
                strategy="x",
                rationale="x",
                confidence=1.0,
                ts_event=bar.ts,
            )
            decision = RiskDecision(
                decision_id=uuid.uuid4(),
                intent=intent,
                verdict=Verdict.PERMIT,
                reasons=[],
                metrics={},
                ts_event=bar.ts,
            )
            ctx._desk.out.publish(RISK_DECISIONS, decision, key="forged")
        elif self.attack == "impersonate":
            ctx.buy("IDXF", 1, agent_id="trading-agent-01")
        elif self.attack == "future":
            ctx.buy("IDXF", 1, at_ns=bar.ts + 10**12)


def _rig(attack: str) -> tuple[StrategyAgent, InProcessBus, list[Any]]:
    clock = SimClock(T0)
    bus = InProcessBus(clock)
    seen: list[Any] = []

    async def record(env: Any) -> None:
        seen.append(env)

    bus.subscribe(INTENTS, record)
    bus.subscribe(RISK_DECISIONS, record)
    agent = StrategyAgent("evil", bus, clock, Hostile(attack), ["IDXF"], None)
    return agent, bus, seen


def _bar() -> Bar:
    p = Decimal(3600)
    return Bar(symbol="IDXF", ts_event=T0, open=p, high=p, low=p, close=p, volume=Decimal(1))


@pytest.mark.parametrize(
    ("attack", "error"),
    [("decide", AccessDenied), ("impersonate", InvalidInput), ("future", ValueError)],
)
@pytest.mark.asyncio
async def test_a_hostile_strategy_gets_nothing_onto_the_bus(attack: str, error: type) -> None:
    agent, bus, seen = _rig(attack)
    with pytest.raises(error):
        agent.on_bar(_bar())
    await bus.drain()
    assert seen == []  # no intent, no decision delivered
    # the ACL's refusal is itself logged (an EnvelopeRejected); nothing else was published
    assert bus.stats.published == (1 if attack == "decide" else 0)
