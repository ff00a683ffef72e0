"""RiskManager: the deterministic gate between every intent and the execution agent.

It computes the risk context with deterministic math and decides through a Cedar policy
engine (risk.gate): PERMIT, DENY with the determining policies' reasons, or REVIEW when
only human-reviewable (@oversight) policies forbid, which opens an oversight request.
"""

from __future__ import annotations

from decimal import Decimal

from tradeswarm.bus.agent import Agent
from tradeswarm.bus.inproc import InProcessBus
from tradeswarm.bus.topics import (
    INTENTS,
    OVERSIGHT_DECISIONS,
    OVERSIGHT_REQUESTS,
    RISK_DECISIONS,
    Role,
)
from tradeswarm.core.clock import NS_PER_SECOND, Clock
from tradeswarm.core.ids import derived_id
from tradeswarm.crypto import KeyRegistry, SignatureInvalid, verify_bytes
from tradeswarm.data.view import MarketView
from tradeswarm.model.enums import OversightStatus, Verdict
from tradeswarm.model.envelope import Envelope
from tradeswarm.model.messages import (
    HUMAN_DECISION_CONTEXT,
    HumanApproval,
    OversightDecided,
    OversightRequested,
    RiskDecision,
    TradeIntent,
)
from tradeswarm.risk.context import (
    BookFacts,
    DeskFacts,
    MarketFacts,
    RiskContext,
    build_context,
    equity_of,
)
from tradeswarm.risk.gate import GateVerdict, PolicyGate
from tradeswarm.risk.limits import RiskLimits
from tradeswarm.store import Store

SEVERITY = {Verdict.PERMIT: "INFO", Verdict.REVIEW: "WARNING", Verdict.DENY: "CRITICAL"}


class RiskManager(Agent):
    """Decides PERMIT / DENY / REVIEW for each intent; REVIEW opens an oversight request."""

    role = Role.RISK

    def __init__(
        self,
        name: str,
        bus: InProcessBus,
        clock: Clock,
        *,
        store: Store,
        market: MarketView,
        limits: RiskLimits,
        oversight_timeout_s: int = 300,
        gate: PolicyGate | None = None,
        registry: KeyRegistry | None = None,
    ) -> None:
        """registry: the swarm's public keys; with it, a human approval whose own
        signature does not verify against it is refused (DENY)."""
        self.store = store
        self.registry = registry
        self.market = market
        self.limits = limits
        self.gate = gate or PolicyGate.from_limits(limits)
        self.timeout_ns = oversight_timeout_s * NS_PER_SECOND
        self._intents: dict[str, TradeIntent] = {}
        super().__init__(name, bus, clock)

    def subscribe(self, bus: InProcessBus) -> None:
        bus.subscribe(INTENTS, self.on_intent)
        bus.subscribe(OVERSIGHT_DECISIONS, self.on_oversight)

    def mark_session_open(self, day: str) -> None:
        """Record equity at the open once per day: the base of the daily-loss limit."""
        key = f"equity_at_open:{day}"
        if self.store.get_meta(key) is None:
            equity = equity_of(
                self.store.get_cash(), self.store.get_positions(), self.market.marks()
            )
            self.store.set_meta(key, str(equity))

    def _facts(self, symbol: str) -> MarketFacts:
        now = self.clock.now_ns()
        return MarketFacts(
            marks=self.market.marks(),
            status=self.market.status(now),
            volatility=self.market.realized_volatility(symbol),
            halted_symbols=frozenset(self.market.halted),
            returns=tuple(self.market.returns(symbol)),
        )

    def context_for(self, intent: TradeIntent, approval: HumanApproval | None) -> RiskContext:
        """The risk context of intent now: book, market, compliance and oversight state."""
        now = self.clock.now_ns()
        session = self.market.session
        opened = self.store.get_meta(f"equity_at_open:{session.day}") if session else None
        book = BookFacts(
            cash=self.store.get_cash(),
            positions=self.store.get_positions(),
            equity_at_open=Decimal(opened) if opened else None,
        )
        desk = DeskFacts(
            kill_switch=self.store.killswitch_active(),
            compliance_status=self.limits.compliance_status.get(intent.agent_id, "approved"),
            insider_window=self.limits.in_insider_window(intent.symbol, now),
            approval=approval,
            now_ns=now,
        )
        return build_context(intent, book, self._facts(intent.symbol), desk)

    def decide(self, intent: TradeIntent, approval: HumanApproval | None = None) -> RiskDecision:
        """Decide intent through the policy engine in the current context."""
        now = self.clock.now_ns()
        try:
            ctx = self.context_for(intent, approval)
        except (ValueError, ArithmeticError) as err:  # unknown means deny
            verdict, metrics = GateVerdict(Verdict.DENY, [f"context_error: {err}"]), {}
        else:
            verdict, metrics = self.gate.decide(intent, ctx), ctx.metrics()
        phase = f"approval:{approval.request_id}" if approval else "initial"
        return RiskDecision(
            decision_id=derived_id(now, "decision", str(intent.intent_id), phase),
            intent=intent,
            verdict=verdict.verdict,
            reasons=verdict.reasons,
            metrics=metrics,
            ts_event=now,
            approval=approval,
        )

    async def on_intent(self, env: Envelope) -> None:
        intent = env.payload
        assert isinstance(intent, TradeIntent)
        decision = self.store.get_decision_for_intent(intent.intent_id) or self.decide(intent)
        self._publish(decision, env, "intent")
        if decision.verdict is Verdict.REVIEW:
            self._request_oversight(decision, env)

    def _publish(self, decision: RiskDecision, cause: Envelope, kind: str) -> Envelope:
        self.store.record_decision(decision, kind, SEVERITY[decision.verdict])
        return self.out.publish(
            RISK_DECISIONS, decision, key=str(decision.decision_id), cause=cause
        )

    def _request_oversight(self, decision: RiskDecision, cause: Envelope) -> None:
        now = decision.ts_event
        request = OversightRequested(
            request_id=derived_id(now, "oversight", str(decision.decision_id)),
            decision_id=decision.decision_id,
            intent=decision.intent,
            trade_amount=decision.intent.notional,
            trigger="HighValueTrade",
            reasons=decision.reasons,
            created_ns=now,
            timeout_ns=now + self.timeout_ns,
        )
        self.store.create_oversight(request, decision.intent.agent_id)
        self.out.publish(OVERSIGHT_REQUESTS, request, key=str(request.request_id), cause=cause)

    async def on_oversight(self, env: Envelope) -> None:
        """A human answered (or the timeout did): re-decide with the approval, or deny."""
        answer = env.payload
        assert isinstance(answer, OversightDecided)
        record = self.store.get_oversight(answer.request_id)
        if record is None:
            return
        intent = record.request.intent
        approval = HumanApproval(
            request_id=answer.request_id,
            approver=answer.approver,
            approved=answer.status is OversightStatus.APPROVED,
            decided_ns=answer.decided_ns,
            notes=answer.notes,
        )
        decision = self.decide(intent, approval)
        refused = self._unverified(answer) if approval.approved else None
        if not approval.approved or refused is not None:
            decision = _denied_by_oversight(decision, answer, refused)
        # a replay after a crash re-delivers the answer: keep the decision already recorded
        self._publish(self.store.get_decision(decision.decision_id) or decision, env, "oversight")

    def _unverified(self, answer: OversightDecided) -> str | None:
        """Why the human's own signature on an approval does not verify (None if it does)."""
        signed = answer.answer()
        if self.registry is None or signed is None:
            return None
        try:
            verify_bytes(
                HUMAN_DECISION_CONTEXT,
                signed.signing_bytes(),
                answer.human_signature,
                self.registry,
                principal=f"{Role.HUMAN}:{answer.approver}",
                signed_ns=answer.decided_ns,
            )
        except SignatureInvalid as err:
            return str(err)
        return None


def _denied_by_oversight(
    decision: RiskDecision, answer: OversightDecided, refused: str | None = None
) -> RiskDecision:
    if refused is not None:
        why = f"oversight: approval by {answer.approver} refused: human signature {refused}"
    elif answer.status is OversightStatus.TIMEOUT:
        why = "oversight: auto-denied, no human answer within the timeout"
    else:
        why = f"oversight: denied by {answer.approver}: {answer.notes or 'no note'}"
    return RiskDecision(
        decision_id=decision.decision_id,
        intent=decision.intent,
        verdict=Verdict.DENY,
        reasons=[why],
        metrics=decision.metrics,
        ts_event=decision.ts_event,
        approval=None if refused is not None else decision.approval,
    )
