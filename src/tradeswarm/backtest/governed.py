"""Governed mode: the same run, and every message of it in a signed, verifiable log.

Each strategy is a trading-agent identity; its proposals are `TradeIntent` envelopes it
signs, published on the bus (topic ACLs apply) and appended to the audit log of a store
(`--db`). The gate decides with the principal the envelope's signature names
(`risk.manager.signed_principal`, against the run's key registry): an intent that does
not verify is a DENY naming why. Each decision is a `RiskDecision` signed by the run's
risk identity (a REVIEW and, when the oversight policy approves, the decision after it
with the approval it carries), each fill a `FillReceived` signed by the simulated
exchange's execution identity, with the order's life as `OrderUpdated` (accepted,
filled, canceled or expired, the whole order each time). The store's tables are written
as the swarm writes them (orders, trades, positions, account, risk_events), so `audit
verify --all` rebuilds each from the log and compares them column by column. At the end
the log is checkpointed (Ed25519 + ML-DSA-87) and witnessed; `tradeswarm audit verify
--db DB --demo-keys --all` checks it offline.

Keys are the demo's (derived from a public seed, reproducible, protecting nothing),
like the demo's; a backtest proves what ran, not who may trade.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from decimal import Decimal
from pathlib import Path

from tradeswarm.audit.charter import make_charter
from tradeswarm.audit.demo_keys import DEMO_ORIGIN
from tradeswarm.audit.log import CheckpointPolicy
from tradeswarm.backtest.gatekeeper import Decision
from tradeswarm.bus.identity import Identity
from tradeswarm.bus.inproc import InProcessBus
from tradeswarm.bus.topics import (
    FILLS,
    INTENTS,
    ORDERS,
    OVERSIGHT_DECISIONS,
    OVERSIGHT_REQUESTS,
    RISK_DECISIONS,
    Role,
)
from tradeswarm.core.clock import NS_PER_SECOND, SimClock
from tradeswarm.crypto import sign_bytes
from tradeswarm.crypto.provision import demo_identities
from tradeswarm.execution.agent import order_of_intent
from tradeswarm.model.enums import (
    VERDICT_SEVERITY,
    DecisionKind,
    MessageIntent,
    OversightStatus,
)
from tradeswarm.model.envelope import Envelope
from tradeswarm.model.messages import (
    HUMAN_DECISION_CONTEXT,
    FillReceived,
    HumanApproval,
    OrderUpdated,
    OversightDecided,
    OversightRequested,
    RiskDecision,
    TradeIntent,
)
from tradeswarm.model.order import Order, OrderTrigger
from tradeswarm.model.portfolio import Fill
from tradeswarm.risk.gate import GateVerdict
from tradeswarm.risk.manager import signed_principal
from tradeswarm.store import Store
from tradeswarm.system.audit_wiring import build_audit_log
from tradeswarm.system.config import SigningConfig
from tradeswarm.system.identities import SwarmIdentities

RISK = "backtest-risk-manager"
EXCHANGE = "backtest-exchange"
#: An oversight request's window: answered by the policy at once, well inside it.
OVERSIGHT_WINDOW_NS = 300 * NS_PER_SECOND
CHECKPOINT_NEVER_MS = 2**62 // 1_000_000  # by entries only
ID_SPACE = uuid.UUID("0b6f1f4e-8b4c-4f7e-9a39-1f1d1c2b3a41")


class GovernedLog:
    def __init__(self, db: str | Path, strategies: list[str], approver: str, cash: Decimal) -> None:
        self.clock = SimClock()
        members = [(s, str(Role.TRADER)) for s in strategies]
        members += [(RISK, str(Role.RISK)), (EXCHANGE, str(Role.EXECUTION))]
        members += [(approver, str(Role.HUMAN))]
        policy = SigningConfig().policy()
        self.identities = SwarmIdentities(demo_identities(members), policy)
        self.store = Store.open(db, writer=True)
        self.store.set_initial_cash(cash)
        charter = make_charter(self.identities.registry, policy, cash, 0)
        # checkpoints by entries, not by the sim clock (which moves a day a bar), and one
        # at the end
        cuts = CheckpointPolicy(origin=DEMO_ORIGIN, every_ms=CHECKPOINT_NEVER_MS)
        self.audit = build_audit_log(self.store, self.clock, db, charter, policy=cuts)
        self.bus = InProcessBus(
            self.clock, sink=self.audit, signing=self.identities.signing, group_log_writes=True
        )
        self._traders = {s: self.bus.attach(Identity(s, Role.TRADER)) for s in strategies}
        self._risk = self.bus.attach(Identity(RISK, Role.RISK))
        self._exchange = self.bus.attach(Identity(EXCHANGE, Role.EXECUTION))
        self._human = self.bus.attach(Identity(approver, Role.HUMAN))
        self._signer = self.identities.human_signer(approver)
        self._loop = asyncio.new_event_loop()
        self._intents: dict[uuid.UUID, Envelope] = {}
        self._unit = contextlib.ExitStack()  # the step's unit of work, open once written
        self._open = False
        self._orders: dict[uuid.UUID, Order] = {}

    def at(self, ts: int) -> None:
        if ts > self.clock.now_ns():
            self.clock.set(ts)

    def propose(self, strategy: str, intent: TradeIntent) -> tuple[str, str | None]:
        """Publish the strategy's signed intent; (the principal its signature names, why
        not when it does not)."""
        self._begin()
        env = self._traders[strategy].publish(
            INTENTS, intent, key=f"intent:{intent.intent_id}", intent=MessageIntent.COMMAND
        )
        self._intents[intent.intent_id] = env
        return signed_principal(env, self.identities.registry, self.identities.policy)

    def decided(
        self,
        intent: TradeIntent,
        verdict: GateVerdict,
        metrics: dict[str, str],
        principal: str,
        approval: HumanApproval | None = None,
        cause: Envelope | None = None,
    ) -> RiskDecision:
        self._begin()
        cause = cause or self._intents.get(intent.intent_id)
        phase = DecisionKind.INTENT if approval is None else DecisionKind.OVERSIGHT
        decision = RiskDecision(
            decision_id=uuid.uuid5(ID_SPACE, f"{intent.intent_id}:{phase}"),
            intent=intent,
            verdict=verdict.verdict,
            reasons=list(verdict.reasons),
            metrics=metrics,
            ts_event=self.clock.now_ns(),
            approval=approval,
            principal=principal,
            phase=phase,
        )
        key = f"decision:{decision.decision_id}"
        self._risk.publish(RISK_DECISIONS, decision, key=key, cause=cause)
        self.store.record_decision(decision, VERDICT_SEVERITY[decision.verdict])
        return decision

    def reviewed(self, intent: TradeIntent, decision: Decision, principal: str) -> None:
        """A REVIEW answered by the oversight policy, as the swarm logs one: the request
        (risk), the human's signed answer, the decision after it, caused by the answer."""
        approval = decision.approval
        assert approval is not None
        now = self.clock.now_ns()
        first_id = uuid.uuid5(ID_SPACE, f"{intent.intent_id}:{DecisionKind.INTENT}")
        request = OversightRequested(
            request_id=approval.request_id,
            decision_id=first_id,
            intent=intent,
            trade_amount=Decimal(decision.metrics.get("notional", "0")),
            trigger="HighValueTrade",
            reasons=list(decision.first.reasons),
            created_ns=now,
            timeout_ns=now + OVERSIGHT_WINDOW_NS,
        )
        cause = self._intents.get(intent.intent_id)
        key = f"oversight:{request.request_id}"
        self._risk.publish(OVERSIGHT_REQUESTS, request, key=key, cause=cause)
        self.store.create_oversight(request, principal)
        status = OversightStatus.APPROVED if approval.approved else OversightStatus.DENIED
        signature = sign_bytes(HUMAN_DECISION_CONTEXT, approval.signing_bytes(), self._signer)
        answer = OversightDecided(
            request_id=request.request_id,
            intent_id=intent.intent_id,
            status=status,
            approver=approval.approver,
            notes=approval.notes,
            decided_ns=approval.decided_ns,
            human_signature=signature,
        )
        env = self._human.publish(OVERSIGHT_DECISIONS, answer, key=f"{request.request_id}:{status}")
        self.store.decide_oversight(
            request.request_id, status, approval.approver, approval.notes, now, signature
        )
        self.decided(intent, decision.verdict, decision.metrics, principal, approval, env)

    def accepted(self, intent: TradeIntent) -> None:
        """A permitted intent becomes an order the simulated exchange works."""
        now = self.clock.now_ns()
        order = order_of_intent(intent, now)  # the execution agent's own ids and fields
        order = order.transition(OrderTrigger.SUBMIT, now).transition(OrderTrigger.ACK, now)
        self._order(order, "accepted by the simulated exchange")

    def ended(self, intent: TradeIntent, expired: bool, reason: str) -> None:
        order = self._orders.get(intent.intent_id)
        if order is not None and not order.state.is_terminal:
            trigger = OrderTrigger.EXPIRE if expired else OrderTrigger.CANCEL
            self._order(order.transition(trigger, self.clock.now_ns(), reason), reason)

    def _order(self, order: Order, note: str) -> None:
        self._begin()
        self._orders[order.intent_id] = order
        message = OrderUpdated(order=order, note=note, ts_event=self.clock.now_ns())
        key = f"order:{order.order_id}:{order.state}:{order.filled_qty}"
        self._exchange.publish(ORDERS, message, key=key, cause=self._intents.get(order.intent_id))
        self.store.upsert_order(order)

    def filled(
        self, intent: TradeIntent, seq: int, qty: Decimal, price: Decimal, fee: Decimal
    ) -> None:
        self._begin()
        order = self._orders[intent.intent_id]
        now = self.clock.now_ns()
        fill = Fill(
            fill_id=f"{order.order_id}:{seq}",
            order_id=order.order_id,
            client_order_id=order.client_order_id,
            symbol=intent.symbol,
            side=intent.side,
            quantity=qty,
            price=price,
            fee=fee,
            ts_event=now,
        )
        self._order(order.apply_fill(qty, price, now), f"filled {qty} at {price}")
        cause = self._intents.get(intent.intent_id)
        self._exchange.publish(
            FILLS, FillReceived.of(fill), key=f"fill:{fill.fill_id}", cause=cause
        )
        self.store.record_fill(fill, order.agent_id)

    def flush(self) -> None:
        """Append what the step published to the log, in one unit of work (nothing
        subscribes: the bus's delivery is the log append)."""
        self._begin()
        self._loop.run_until_complete(self.bus.drain())
        self._unit.close()
        self._open = False

    def _begin(self) -> None:
        if not self._open:
            self._unit = contextlib.ExitStack()
            self._unit.enter_context(self.store.transaction())
            self._open = True

    def close(self) -> dict[str, int | None]:
        """Flush, checkpoint and witness the log; the store's figures."""
        self.flush()
        row = self.audit.checkpoint()
        if row is not None:
            self.audit.witness(row)
        self._loop.close()
        entries = self.store.event_count()
        self.store.close()
        return {"log_entries": entries, "checkpoint_size": None if row is None else row.size}
