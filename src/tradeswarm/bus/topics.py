"""Typed topics and who may publish on each: least privilege by construction."""

from __future__ import annotations

from enum import StrEnum
from typing import Generic, TypeVar

from tradeswarm.model import messages as m

M = TypeVar("M", bound=m.Message)


class Role(StrEnum):
    """What an identity is; topic ACLs grant publishing by role."""

    ANALYZER = "market-analyzer"
    TRADER = "trading-agent"
    RISK = "risk-manager"
    EXECUTION = "order-executor"
    COMPLIANCE = "compliance-agent"
    OVERSIGHT = "oversight-desk"
    HUMAN = "human"
    SYSTEM = "system"
    AUDIT_LOG = "audit-log"  # signs the audit log's checkpoints; publishes nothing
    WITNESS = "witness"  # cosigns checkpoints; publishes nothing


class Topic(Generic[M]):
    """A named channel carrying one message type, with the roles allowed to publish."""

    __slots__ = ("message_type", "name", "publishers", "ttl_ms")

    def __init__(
        self, name: str, message_type: type[M], publishers: frozenset[Role], ttl_ms: int = 0
    ) -> None:
        self.name = name
        self.message_type = message_type
        self.publishers = publishers
        self.ttl_ms = ttl_ms

    def __repr__(self) -> str:
        return f"Topic({self.name})"


def _roles(*roles: Role) -> frozenset[Role]:
    return frozenset(roles)


SIGNALS = Topic("trading.signal.market", m.MarketSignal, _roles(Role.ANALYZER), ttl_ms=60_000)
INTENTS = Topic("trading.intent.created", m.TradeIntent, _roles(Role.TRADER), ttl_ms=60_000)
RISK_DECISIONS = Topic("trading.risk.decision", m.RiskDecision, _roles(Role.RISK))
OVERSIGHT_REQUESTS = Topic("oversight.requested", m.OversightRequested, _roles(Role.RISK))
OVERSIGHT_DECISIONS = Topic(
    "oversight.decided", m.OversightDecided, _roles(Role.HUMAN, Role.OVERSIGHT)
)
ORDERS = Topic("trading.execution.order", m.OrderUpdated, _roles(Role.EXECUTION))
FILLS = Topic("trading.execution.fill", m.FillReceived, _roles(Role.EXECUTION))
EXECUTION_REJECTED = Topic(
    "trading.execution.rejected", m.ExecutionRejected, _roles(Role.EXECUTION)
)
KILLSWITCH = Topic(
    "system.killswitch.activated",
    m.KillSwitchActivated,
    _roles(Role.HUMAN, Role.RISK, Role.COMPLIANCE, Role.EXECUTION, Role.SYSTEM),
)
RESUME = Topic("system.killswitch.resumed", m.TradingResumed, _roles(Role.HUMAN))
COMPLIANCE_FLAGS = Topic("compliance.flag", m.ComplianceFlag, _roles(Role.COMPLIANCE))
DAILY_SUMMARY = Topic("compliance.summary", m.DailySummary, _roles(Role.COMPLIANCE))
#: Envelopes refused at a boundary (the bus's ACL, a VerifyingGate): logged, never delivered.
REJECTIONS = Topic("bus.envelope.rejected", m.EnvelopeRejected, _roles(Role.SYSTEM))
#: The topics a human may send into the swarm from outside its process (the CLI).
HUMAN_COMMANDS = (OVERSIGHT_DECISIONS, KILLSWITCH, RESUME)

ALL_TOPICS: tuple[Topic[m.Message], ...] = (
    SIGNALS,
    INTENTS,
    RISK_DECISIONS,
    OVERSIGHT_REQUESTS,
    OVERSIGHT_DECISIONS,
    ORDERS,
    FILLS,
    EXECUTION_REJECTED,
    KILLSWITCH,
    RESUME,
    COMPLIANCE_FLAGS,
    DAILY_SUMMARY,
)  # type: ignore[assignment]
