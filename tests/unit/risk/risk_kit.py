"""Builders for the risk tests: intents, contexts computed by the real build_context, and
the gate under both engines (the compiled one, checked against cedarpy on every call)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from tradeswarm.core.clock import NS_PER_SECOND
from tradeswarm.model.enums import MarketStatus, Side, Verdict
from tradeswarm.model.messages import HumanApproval, TradeIntent
from tradeswarm.model.portfolio import Position
from tradeswarm.risk.context import BookFacts, DeskFacts, MarketFacts, RiskContext, build_context
from tradeswarm.risk.engines import make_engine
from tradeswarm.risk.gate import PolicyGate
from tradeswarm.risk.limits import EngineKind, RiskLimits
from tradeswarm.risk.policyset import load_bundle
from tradeswarm.testkit import make_intent

T0 = 1_704_205_800 * NS_PER_SECOND
AGENT = "trading-agent-01"


def intent(
    qty: str | int = 1, price: str | int = 100, side: Side = Side.BUY, **changes: object
) -> TradeIntent:
    fields: dict[str, object] = {
        "intent_id": uuid.UUID(int=42),
        "agent_id": AGENT,
        "side": side,
        "quantity": Decimal(qty),
        "reference_price": Decimal(price),
        "ts_event": T0,
    }
    fields.update(changes)
    return make_intent(**fields)


def approval(age_s: float, approved: bool = True) -> HumanApproval:
    return HumanApproval(
        request_id=uuid.UUID(int=77),
        approver="jane.doe@desk",
        approved=approved,
        decided_ns=T0 - int(age_s * NS_PER_SECOND),
    )


BUNDLE = load_bundle()
ENGINES = {kind: make_engine(kind, BUNDLE) for kind in EngineKind}


def gate(limits: RiskLimits | None = None, kind: EngineKind = EngineKind.COMPILED) -> PolicyGate:
    engine, prepare = ENGINES[kind]
    return PolicyGate(BUNDLE, engine, limits or RiskLimits(), prepare)


def context(
    i: TradeIntent,
    *,
    cash: str | int = 5_000_000,
    positions: dict[str, Position] | None = None,
    marks: dict[str, Decimal] | None = None,
    status: MarketStatus = MarketStatus.OPEN,
    volatility: float = 0.1,
    halted: frozenset[str] = frozenset(),
    returns: tuple[float, ...] = (),
    equity_at_open: Decimal | None = None,
    kill_switch: bool = False,
    compliance_status: str = "approved",
    insider_window: bool = False,
    human: HumanApproval | None = None,
) -> RiskContext:
    market = MarketFacts(
        marks=marks or {},
        status=status,
        volatility=volatility,
        halted_symbols=halted,
        returns=returns,
    )
    book = BookFacts(cash=Decimal(cash), positions=positions or {}, equity_at_open=equity_at_open)
    desk = DeskFacts(
        kill_switch=kill_switch,
        compliance_status=compliance_status,
        insider_window=insider_window,
        approval=human,
        now_ns=T0,
    )
    return build_context(i, book, market, desk)


def judge(
    i: TradeIntent, limits: RiskLimits | None = None, **facts: Any
) -> tuple[Verdict, list[str]]:
    """The gate's verdict under the compiled engine, checked against cedarpy's."""
    ctx = context(i, **facts)
    compiled = gate(limits, EngineKind.COMPILED).decide(i, ctx)
    reference = gate(limits, EngineKind.CEDARPY).decide(i, ctx)
    assert compiled == reference, (compiled, reference)
    return compiled.verdict, compiled.reasons


def rule_ids(reasons: list[str]) -> set[str]:
    return {r.split(":", 1)[0] for r in reasons}
