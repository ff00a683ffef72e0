"""Builders for the risk tests: intents and contexts computed by the real build_context."""

from __future__ import annotations

import uuid
from decimal import Decimal

from tradeswarm.core.clock import NS_PER_SECOND
from tradeswarm.model.enums import MarketStatus, OrderType, Side, TimeInForce, Verdict
from tradeswarm.model.messages import HumanApproval, TradeIntent
from tradeswarm.model.portfolio import Position
from tradeswarm.risk.context import MarketFacts, build_context
from tradeswarm.risk.limits import RiskLimits
from tradeswarm.risk.rules import evaluate

T0 = 1_704_205_800 * NS_PER_SECOND
AGENT = "trading-agent-01"


def intent(
    qty: str | int = 1, price: str | int = 100, side: Side = Side.BUY, **changes: object
) -> TradeIntent:
    fields: dict[str, object] = {
        "intent_id": uuid.UUID(int=42),
        "signal_id": None,
        "agent_id": AGENT,
        "symbol": "ES",
        "side": side,
        "quantity": Decimal(qty),
        "order_type": OrderType.MARKET,
        "time_in_force": TimeInForce.DAY,
        "reference_price": Decimal(price),
        "strategy": "momentum",
        "rationale": "test",
        "confidence": 0.5,
        "ts_event": T0,
    }
    fields.update(changes)
    return TradeIntent(**fields)  # type: ignore[arg-type]


def approval(age_s: float, approved: bool = True) -> HumanApproval:
    return HumanApproval(
        request_id=uuid.UUID(int=77),
        approver="jane.doe@desk",
        approved=approved,
        decided_ns=T0 - int(age_s * NS_PER_SECOND),
    )


def judge(
    i: TradeIntent,
    limits: RiskLimits | None = None,
    *,
    cash: str | int = 5_000_000,
    positions: dict[str, Position] | None = None,
    marks: dict[str, Decimal] | None = None,
    status: MarketStatus = MarketStatus.OPEN,
    volatility: float = 0.1,
    halted: bool = False,
    equity_at_open: Decimal | None = None,
    kill_switch: bool = False,
    human: HumanApproval | None = None,
) -> tuple[Verdict, list[str]]:
    facts = MarketFacts(marks=marks or {}, status=status, volatility=volatility, halted=halted)
    ctx = build_context(
        i, Decimal(cash), positions or {}, facts, equity_at_open, kill_switch, human, T0
    )
    return evaluate(i, ctx, limits or RiskLimits())


def rule_ids(reasons: list[str]) -> set[str]:
    return {r.split(":", 1)[0] for r in reasons}
