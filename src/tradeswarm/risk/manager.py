"""RiskManager: the deterministic gate between every intent and the execution agent.

It trusts only what it measured itself and what a valid signature binds. The principal
is the identity whose signature the intent's envelope carries (verified against the
swarm's registry, in the algorithm the signing policy asks for); an intent whose body
names another agent is refused. The context (risk.measure) comes from the instrument
master, its own market view, the books and the agent's recent traffic; the decision
comes from a Cedar policy engine (risk.gate): PERMIT, DENY with the determining policies'
reasons, or REVIEW when only human-reviewable (@oversight) policies forbid, which opens an
oversight request showing the gate's own valuation of the trade.

Intents arrive a burst at a time (`on_intents`, a batch subscription; one intent is a
burst of one): sorted (risk.intake), measured together (risk.burst), decided in one call
of the gate's batch path as deciding them one at a time would (risk.speculate), recorded
with one statement and published as one burst. `on_intent` is the one-at-a-time path,
the reference the burst must equal (and what a burst falls back to when its shared facts
cannot be read).
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from tradeswarm.bus.agent import Agent, Outbox
from tradeswarm.bus.inproc import InProcessBus
from tradeswarm.bus.topics import (
    INTENTS,
    ORDERS,
    OVERSIGHT_DECISIONS,
    OVERSIGHT_REQUESTS,
    RISK_DECISIONS,
    Role,
)
from tradeswarm.core.clock import NS_PER_SECOND, Clock
from tradeswarm.core.errors import InvalidInput
from tradeswarm.core.ids import derived_id
from tradeswarm.crypto import KeyRegistry, SignatureInvalid, verify_bytes
from tradeswarm.crypto.contexts import SigningPolicy
from tradeswarm.data.view import MarketView
from tradeswarm.instruments import InstrumentMaster
from tradeswarm.model.enums import VERDICT_SEVERITY, DecisionKind, OversightStatus, Verdict
from tradeswarm.model.envelope import Envelope
from tradeswarm.model.messages import (
    HUMAN_DECISION_CONTEXT,
    HumanApproval,
    OrderUpdated,
    OversightDecided,
    OversightRequested,
    RiskDecision,
    TradeIntent,
)
from tradeswarm.risk.burst import Base, BurstFacts, base_contexts
from tradeswarm.risk.context import equity_of
from tradeswarm.risk.gate import GateVerdict, PolicyGate
from tradeswarm.risk.intake import (
    BurstVerifier,
    Row,
    VerifyBursts,
    VerifyEach,
    classify,
    conflict_reason,
    principal_of,
    rekeyed,
)
from tradeswarm.risk.limits import RiskLimits
from tradeswarm.risk.measure import Measurer, Unmeasurable
from tradeswarm.risk.speculate import BurstStats, Decided, Slot, Speculation
from tradeswarm.store import Store

SEVERITY = VERDICT_SEVERITY


def signed_principal(
    env: Envelope, registry: KeyRegistry, policy: SigningPolicy | None
) -> tuple[str, str | None]:
    """(the trading agent whose valid signature env carries, None), or ("", why not) /
    (name, why not) when the signature, the sender's role or the body's agent_id fail."""
    return principal_of(env, VerifyEach(registry, policy)([env])[0])


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
        instruments: InstrumentMaster,
        registry: KeyRegistry,
        signing: SigningPolicy | None = None,
        oversight_timeout_s: int = 300,
        gate: PolicyGate | None = None,
        verifier: BurstVerifier | None = None,
        burst: bool = True,
    ) -> None:
        """registry: the swarm's public keys, against which the intent's envelope (the
        principal) and a human's approval are verified; signing: the algorithm policy
        those signatures must meet (no downgrade). verifier: how a burst's envelope
        signatures are checked (default: `VerifyBursts`, each root signature once).
        burst=False subscribes the one-at-a-time path instead (the reference the tests
        compare with)."""
        self.verify = verifier or VerifyBursts(registry, signing)
        self.burst = burst
        self.stats = BurstStats()
        self.store = store
        self.registry = registry
        self.signing = signing
        self.market = market
        self.limits = limits
        self.gate = gate or PolicyGate.from_limits(limits)
        self.measure = Measurer(clock, store, market, limits, instruments)
        self.timeout_ns = oversight_timeout_s * NS_PER_SECOND
        super().__init__(name, bus, clock)

    def subscribe(self, bus: InProcessBus) -> None:
        if self.burst:
            bus.subscribe_batch(INTENTS, self.on_intents)
        else:
            bus.subscribe(INTENTS, self.on_intent)
        bus.subscribe(OVERSIGHT_DECISIONS, self.on_oversight)
        bus.subscribe_batch(ORDERS, self.on_orders)

    async def on_orders(self, envs: list[Envelope]) -> None:
        """Keep the open-order book (counts and value at stake) current."""
        for env in envs:
            assert isinstance(env.payload, OrderUpdated)
            self.measure.open_orders.updated(env.payload)

    def mark_session_open(self, day: str) -> None:
        """Record equity at the open once per day: the base of the daily-loss limit."""
        key = f"equity_at_open:{day}"
        if self.store.get_meta(key) is None:
            equity = equity_of(
                self.store.get_cash(),
                self.store.get_positions(),
                self.market.marks(),
                self.measure.multipliers,
            )
            self.store.set_meta(key, str(equity))

    def _verdict(
        self, intent: TradeIntent, principal: str, approval: HumanApproval | None
    ) -> tuple[GateVerdict, dict[str, str]]:
        try:
            intent.validate()
            ctx = self.measure.context(intent, principal, approval)
        except InvalidInput as err:
            return GateVerdict(Verdict.DENY, [f"intent_invalid: {err}"]), {}
        except Unmeasurable as err:
            return GateVerdict(Verdict.DENY, [str(err)]), {}
        except (ValueError, ArithmeticError) as err:  # unknown means deny
            return GateVerdict(Verdict.DENY, [f"context_error: {err}"]), {}
        return self.gate.decide(intent, ctx), ctx.metrics()

    def decide(
        self,
        intent: TradeIntent,
        principal: str,
        approval: HumanApproval | None = None,
        refused: str | None = None,
    ) -> RiskDecision:
        """Decide intent for principal through the policy engine in the current context;
        refused: a reason the intent is denied before the engine is asked."""
        now = self.clock.now_ns()
        metrics: dict[str, str]
        if refused is not None:
            verdict, metrics = GateVerdict(Verdict.DENY, [refused]), {}
        else:
            verdict, metrics = self._verdict(intent, principal, approval)
        phase = f"approval:{approval.request_id}" if approval else "initial"
        kind = DecisionKind.OVERSIGHT if approval else DecisionKind.INTENT
        return RiskDecision(
            decision_id=derived_id(now, "decision", str(intent.intent_id), phase),
            intent=intent,
            verdict=verdict.verdict,
            reasons=verdict.reasons,
            metrics=metrics,
            ts_event=now,
            approval=approval,
            principal=principal,
            phase=kind,
        )

    async def on_intent(self, env: Envelope) -> None:
        intent = env.payload
        assert isinstance(intent, TradeIntent)
        known = self.store.get_decision_for_intent(intent.intent_id)
        if known is not None and known.intent == intent:  # a replay meets its decision
            self._publish(known, env)
            return
        principal, refused = signed_principal(env, self.registry, self.signing)
        if known is not None:
            refused = refused or (
                f"intent_id_reused: intent {intent.intent_id} was already decided "
                f"({known.verdict}) and this one differs from it"
            )
        decision = self.decide(intent, principal, refused=refused)
        if known is not None:  # a second decision on one intent id: its own id and kind
            decision = _rekeyed(decision, env)
        self.measure.history.record(decision)
        self._publish(decision, env)
        if decision.verdict is Verdict.REVIEW:
            self._request_oversight(decision, env)

    async def on_intents(self, envs: list[Envelope]) -> None:
        """Decide a burst of intents (see the module docstring)."""
        now = self.clock.now_ns()
        rows = classify(envs, self.store, self.verify, now)
        try:
            facts = BurstFacts(self.measure, now)
        except (ValueError, ArithmeticError):  # the books cannot be read as one: one by one
            for env in envs:
                await self.on_intent(env)
            return
        decided = self._speculate(rows, facts)
        self._finish(rows, decided, now)

    def _slots(self, rows: list[Row], bases: dict[int, Base | str], now: int) -> list[Slot]:
        slots = []
        for k, row in enumerate(rows):
            i, gated = row.intent, isinstance(bases.get(k), Base)
            traffic = (
                self.measure.history.traffic(row.principal, i.symbol, i.side, i.quantity, now)
                if gated
                else None
            )
            slots.append(
                Slot(
                    intent=i,
                    principal=row.principal,
                    counted=not row.replay,
                    recorded=row.recorded,
                    traffic=traffic,
                    fixed=None if gated else Verdict.DENY,
                )
            )
        return slots

    def _speculate(self, rows: list[Row], facts: BurstFacts) -> dict[int, Decided | str]:
        """Every deciding row's outcome: its context and verdict, or its DENY reason."""
        asked = [
            (k, r.intent, r.principal)
            for k, r in enumerate(rows)
            if not r.replay and r.refused is None and not r.conflict
        ]
        found = base_contexts(facts, asked)
        bases = {k: b for k, b in found.items() if isinstance(b, Base)}
        book = self.measure.open_orders
        speculation = Speculation(
            self._slots(rows, dict(found), facts.now),
            bases,
            book,
            lambda b: b.draft(facts.marks, facts.multipliers),
            duplicate=self.limits.duplicate_window_s > 0,
        )
        decided: dict[int, Decided | str] = dict(speculation.run(self.gate.decide_batch))
        self.stats.add(len(rows), speculation)
        decided.update((k, b) for k, b in found.items() if isinstance(b, str))
        return decided

    def _decision_of(
        self, row: Row, outcome: Decided | str | None, made: dict[int, RiskDecision], now: int
    ) -> RiskDecision:
        if isinstance(outcome, Decided):
            verdict, metrics = outcome.verdict, outcome.ctx.metrics()
        else:
            reason = outcome if outcome is not None else row.refused
            if reason is None:  # a conflict with an intent decided earlier in this burst
                assert row.earlier is not None
                reason = conflict_reason(row.intent, made[row.earlier])
            verdict, metrics = GateVerdict(Verdict.DENY, [reason]), {}
        decision = RiskDecision(
            decision_id=derived_id(now, "decision", str(row.intent.intent_id), "initial"),
            intent=row.intent,
            verdict=verdict.verdict,
            reasons=verdict.reasons,
            metrics=metrics,
            ts_event=now,
            approval=None,
            principal=row.principal,
            phase=DecisionKind.INTENT,
        )
        return rekeyed(decision, row) if row.conflict else decision

    def _finish(self, rows: list[Row], decided: dict[int, Decided | str], now: int) -> None:
        """Each row's effects, in order, as on_intent has them: the history, the store
        (one statement), the open-order book, then the burst published at once."""
        made: dict[int, RiskDecision] = {}
        outbox, records, requests = Outbox(self.out), [], []
        for k, row in enumerate(rows):
            if row.replay:  # it meets its decision (the store's, or this burst's)
                decision = row.known if row.known is not None else made[row.earlier or 0]
            else:
                decision = made[k] = self._decision_of(row, decided.get(k), made, now)
                self.measure.history.record(decision)
                if row.recorded and decision.verdict is Verdict.PERMIT:
                    self.measure.open_orders.permitted(decision)
            records.append((decision, SEVERITY[decision.verdict]))
            outbox.add(RISK_DECISIONS, decision, key=str(decision.decision_id), cause=row.env)
            if decision.verdict is Verdict.REVIEW and not row.replay:
                request = self._request_for(decision)
                requests.append((request, decision.principal))
                outbox.add(OVERSIGHT_REQUESTS, request, key=str(request.request_id), cause=row.env)
        self.store.record_decisions(records)
        for request, principal in requests:
            self.store.create_oversight(request, principal)
        outbox.flush()

    def _publish(self, decision: RiskDecision, cause: Envelope) -> Envelope:
        recorded = self.store.record_decision(decision, SEVERITY[decision.verdict])
        if recorded and decision.verdict is Verdict.PERMIT:
            self.measure.open_orders.permitted(decision)
        return self.out.publish(
            RISK_DECISIONS, decision, key=str(decision.decision_id), cause=cause
        )

    def _request_oversight(self, decision: RiskDecision, cause: Envelope) -> None:
        request = self._request_for(decision)
        self.store.create_oversight(request, decision.principal)
        self.out.publish(OVERSIGHT_REQUESTS, request, key=str(request.request_id), cause=cause)

    def _request_for(self, decision: RiskDecision) -> OversightRequested:
        now = decision.ts_event
        return OversightRequested(
            request_id=derived_id(now, "oversight", str(decision.decision_id)),
            decision_id=decision.decision_id,
            intent=decision.intent,
            trade_amount=Decimal(decision.metrics["notional"]),
            trigger="HighValueTrade",
            reasons=decision.reasons,
            created_ns=now,
            timeout_ns=now + self.timeout_ns,
        )

    async def on_oversight(self, env: Envelope) -> None:
        """An answer to a pending request: a human's (from that human, decided at its
        envelope's time, inside the request's window) or the timeout's (from the desk, once
        the request timed out). The first one that fits moves the request, in this unit of
        work (an approval whose human signature does not verify moves it to REFUSED); the
        intent is then decided again with it. Any other answer (late, for a decided
        request, from the wrong sender) changes nothing: it stays in the log as received."""
        answer = env.payload
        assert isinstance(answer, OversightDecided)
        record = self.store.get_oversight(answer.request_id)
        if record is None or record.request.intent.intent_id != answer.intent_id:
            return
        if _misfit(env, answer, record.request, self.clock.now_ns()) is not None:
            return
        refused = self._unverified(answer) if answer.status is OversightStatus.APPROVED else None
        if not self.store.decide_oversight(
            answer.request_id,
            OversightStatus.REFUSED if refused is not None else answer.status,
            answer.approver,
            answer.notes,
            answer.decided_ns,
            answer.human_signature,
        ):
            return  # another answer came first
        self._publish(self._after_oversight(record.request, answer, refused), env)

    def _after_oversight(
        self, request: OversightRequested, answer: OversightDecided, refused: str | None
    ) -> RiskDecision:
        intent = request.intent
        first = self.store.get_decision(request.decision_id)
        principal = first.principal if first is not None else intent.agent_id
        approval = HumanApproval(
            request_id=answer.request_id,
            approver=answer.approver,
            approved=answer.status is OversightStatus.APPROVED,
            decided_ns=answer.decided_ns,
            notes=answer.notes,
        )
        decision = self.decide(intent, principal, approval)
        if not approval.approved or refused is not None:
            return _denied_by_oversight(decision, answer, refused)
        if decision.verdict is Verdict.REVIEW:  # an approval too old to lift the forbid
            return _stale_approval(decision, answer)
        return decision

    def _unverified(self, answer: OversightDecided) -> str | None:
        """Why the human's own signature on an approval does not verify (None if it does)."""
        signed = answer.answer()
        if signed is None:
            return None
        policy = self.signing
        try:
            verify_bytes(
                HUMAN_DECISION_CONTEXT,
                signed.signing_bytes(),
                answer.human_signature,
                self.registry,
                principal=f"{Role.HUMAN}:{answer.approver}",
                signed_ns=answer.decided_ns,
                min_algorithm=None if policy is None else policy.algorithm_for("OversightDecided"),
            )
        except SignatureInvalid as err:
            return str(err)
        return None


def _misfit(
    env: Envelope, answer: OversightDecided, request: OversightRequested, now_ns: int
) -> str | None:
    """Why answer cannot decide request (None when it can)."""
    if answer.status is OversightStatus.TIMEOUT:
        if not env.sender.startswith(f"{Role.OVERSIGHT}:"):
            return f"a timeout from {env.sender}, not the oversight desk"
        return None if now_ns >= request.timeout_ns else "a timeout before the request's"
    if answer.status is OversightStatus.PENDING:
        return "an answer must approve, deny or time out"
    if env.sender != f"{Role.HUMAN}:{answer.approver}":
        return f"answered for {answer.approver} by {env.sender}"
    if answer.decided_ns != env.ts_ns:  # the gate bounds ts_ns; decided_ns must be it
        return "an answer's decided_ns is not its envelope's time"
    if not request.created_ns <= answer.decided_ns < request.timeout_ns:
        return "answered outside the request's window"
    return None if answer.decided_ns <= now_ns else "answered in the future"


def _rekeyed(decision: RiskDecision, env: Envelope) -> RiskDecision:
    intent_id = str(decision.intent.intent_id)
    fresh = derived_id(decision.ts_event, "decision", intent_id, "conflict", str(env.msg_id))
    return msgspec.structs.replace(decision, decision_id=fresh, phase=DecisionKind.CONFLICT)


def _stale_approval(decision: RiskDecision, answer: OversightDecided) -> RiskDecision:
    why = f"oversight: the approval by {answer.approver} no longer lifts the review: " + "; ".join(
        decision.reasons
    )
    return _deny(decision, why, decision.approval)


def _denied_by_oversight(
    decision: RiskDecision, answer: OversightDecided, refused: str | None = None
) -> RiskDecision:
    if refused is not None:
        why = f"oversight: approval by {answer.approver} refused: human signature {refused}"
    elif answer.status is OversightStatus.TIMEOUT:
        why = "oversight: auto-denied, no human answer within the timeout"
    else:
        why = f"oversight: denied by {answer.approver}: {answer.notes or 'no note'}"
    return _deny(decision, why, None if refused is not None else decision.approval)


def _deny(decision: RiskDecision, why: str, approval: HumanApproval | None) -> RiskDecision:
    return RiskDecision(
        decision_id=decision.decision_id,
        intent=decision.intent,
        verdict=Verdict.DENY,
        reasons=[why],
        metrics=decision.metrics,
        ts_event=decision.ts_event,
        approval=approval,
        principal=decision.principal,
        phase=decision.phase,
    )
