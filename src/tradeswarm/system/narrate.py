"""Narrator: tells the story of a trading day as it happens, one line per event."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from tradeswarm.audit.anchor import from_keys
from tradeswarm.audit.log import AuditLog
from tradeswarm.audit.order_check import (
    EntryCheck,
    check_all,
    check_order,
    decision_text,
    witness_text,
)
from tradeswarm.audit.witness import LocalWitness
from tradeswarm.bus import topics as t
from tradeswarm.bus.inproc import InProcessBus
from tradeswarm.model.enums import OversightStatus, Verdict
from tradeswarm.model.envelope import Envelope
from tradeswarm.model.messages import (
    ComplianceFlag,
    ExecutionRejected,
    FillReceived,
    OrderUpdated,
    OversightDecided,
    OversightRequested,
    RiskDecision,
    TradeIntent,
)
from tradeswarm.store import Store
from tradeswarm.system.agents import AGENT_NAMES

Emit = Callable[[str], None]


def hhmmss(ts_ns: int) -> str:
    return dt.datetime.fromtimestamp(ts_ns / 1e9, tz=dt.UTC).strftime("%H:%M:%S")


def short(uid: object) -> str:
    return str(uid)[:8]


class Narrator:
    """Subscribes to the story's topics and emits a line per step (deterministic text)."""

    def __init__(self, bus: InProcessBus, emit: Emit, store: Store | None = None) -> None:
        """store: to tell an answer that moved its request from one that was ignored
        (the risk manager, subscribed first, has applied or ignored it already)."""
        self.emit = emit
        self.store = store
        for topic, handler in (
            (t.INTENTS, self._intent),
            (t.RISK_DECISIONS, self._decision),
            (t.OVERSIGHT_REQUESTS, self._request),
            (t.OVERSIGHT_DECISIONS, self._oversight),
            (t.ORDERS, self._order),
            (t.FILLS, self._fill),
            (t.EXECUTION_REJECTED, self._rejected),
            (t.COMPLIANCE_FLAGS, self._flag),
        ):
            bus.subscribe(topic, handler)

    def _line(self, env: Envelope, text: str, who: str | None = None) -> None:
        """One story line; `who` defaults to the sending agent's name."""
        who = who or env.sender.split(":")[-1]
        self.emit(f"{hhmmss(env.ts_ns)}  {who:<20} {text}")

    async def _intent(self, env: Envelope) -> None:
        i = env.payload
        assert isinstance(i, TradeIntent)
        self._line(
            env,
            f"INTENT {i.side} {i.quantity} {i.symbol} {i.order_type} "
            f"≈ ${i.claimed_notional:,.0f}  [{i.strategy}] {i.rationale}",
        )

    async def _decision(self, env: Envelope) -> None:
        d = env.payload
        assert isinstance(d, RiskDecision)
        mark = {Verdict.PERMIT: "✓", Verdict.DENY: "✗", Verdict.REVIEW: "⚠"}[d.verdict]
        via = f" (approved by {d.approval.approver})" if d.approval and d.approval.approved else ""
        self._line(
            env,
            f"{mark} {d.verdict}{via} intent {short(d.intent.intent_id)}: " + "; ".join(d.reasons),
        )

    async def _request(self, env: Envelope) -> None:
        r = env.payload
        assert isinstance(r, OversightRequested)
        self._line(
            env,
            f"→ HUMAN REVIEW request {short(r.request_id)}: ${r.trade_amount:,.0f} "
            f"{r.intent.side} {r.intent.symbol}; auto-deny at {hhmmss(r.timeout_ns)}",
            who=AGENT_NAMES["desk"],  # the risk manager sends it; the desk handles it
        )

    async def _oversight(self, env: Envelope) -> None:
        o = env.payload
        assert isinstance(o, OversightDecided)
        if o.status is OversightStatus.TIMEOUT:
            text = f"⏱ AUTO-DENIED request {short(o.request_id)}: no answer within the timeout"
        else:
            text = f'👤 {o.status} by {o.approver} request {short(o.request_id)}: "{o.notes}"'
        if not self._applied(o):
            text = f"(ignored: the request was already decided, or the answer did not fit) {text}"
        self._line(env, text)

    def _applied(self, o: OversightDecided) -> bool:
        if self.store is None:
            return True
        record = self.store.get_oversight(o.request_id)
        if record is None:
            return False
        moved = (record.approver, record.notes, record.decision_ns)
        status_fits = record.status is o.status or record.status is OversightStatus.REFUSED
        return status_fits and moved == (o.approver, o.notes, o.decided_ns)

    async def _order(self, env: Envelope) -> None:
        o = env.payload
        assert isinstance(o, OrderUpdated)
        if o.state in (
            "ACKNOWLEDGED",
            "PARTIALLY_FILLED",
            "FILLED",
            "CANCELED",
            "EXPIRED",
            "REJECTED",
            "FATAL_ERROR",
        ):
            brk = f" broker {o.broker_order_id}" if o.broker_order_id else ""
            self._line(
                env,
                f"ORDER {o.client_order_id[:11]} {o.side} {o.quantity} → {o.state}"
                f" filled {o.filled_qty}{brk} {o.reason}".rstrip(),
            )

    async def _fill(self, env: Envelope) -> None:
        f = env.payload
        assert isinstance(f, FillReceived)
        self._line(
            env,
            f"FILL {f.fill_id} {f.side} {f.quantity} @ {f.price} fee {f.fee}",
        )

    async def _rejected(self, env: Envelope) -> None:
        r = env.payload
        assert isinstance(r, ExecutionRejected)
        self._line(env, f"✗ NOT SENT {r.client_order_id[:11]}: {r.reason}")

    async def _flag(self, env: Envelope) -> None:
        f = env.payload
        assert isinstance(f, ComplianceFlag)
        self._line(env, f"⚑ {f.flag} {f.symbol}: {f.detail}")


def audit_lines(swarm_store: Store, log: AuditLog) -> list[str]:
    """The demo's closing audit: seal a checkpoint, then verify every order's entries
    (signatures, decision, inclusion proofs) and the whole log, tree and books, trusting
    the swarm's own log and witness keys (the audit log knows them; nothing is read back
    from the store to trust)."""
    log.checkpoint()
    anchor = from_keys(
        log.verifier_keys, [w.key for w in log.witnesses], "the swarm's own log and witness keys"
    )
    states = [w.state for w in log.witnesses if isinstance(w, LocalWitness)]
    check = check_all(log.store, anchor, states[0] if states else None)
    latest = check.facts.latest
    lines = ["audit verification (tradeswarm audit verify):"]
    if latest is not None:
        algs = ", ".join(check.facts.verified.get(latest.size) or ["NOT VERIFIED"])
        lines.append(
            f"  checkpoint {latest.size} of {check.scan.report.entries} entries: signatures "
            f"valid ({algs}); {witness_text(check.facts, latest.size)}"
        )
    for order in swarm_store.list_orders():
        entries = check_order(swarm_store, check, str(order.order_id)) or []
        lines.append(_order_line(order.client_order_id, entries))
    verdict = "clean" if check.scan.report.ok else "TAMPERED OR DIVERGENT"
    lines.extend(f"  ✗ {p}" for p in check.problems)
    lines.append(f"  log, charter signatures, Merkle tree, checkpoints and every table: {verdict}")
    return lines


def _order_line(cid: str, entries: list[EntryCheck]) -> str:
    signed = sum(1 for e in entries if e.signature.startswith("valid"))
    proven = sum(1 for e in entries if e.inclusion.startswith("valid"))
    decisions = [d for e in entries if (d := decision_text(e.env)) is not None]
    verdict = decisions[-1].split(":")[0] if decisions else "no decision"
    mark = "✓" if entries and all(e.ok for e in entries) else "✗"
    return (
        f"  {mark} order {cid[:11]}: {len(entries)} entries, {signed} signatures valid, "
        f"{proven} inclusion proofs valid; authorization {verdict}"
    )
