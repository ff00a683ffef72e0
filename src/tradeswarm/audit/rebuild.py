"""Rebuild every record table from the log, row by row and column by column.

The orders, trades, positions, account, risk_events, oversight_requests and
oversight_signatures tables, the kill-switch flag and its pending votes, are each a
projection of logged
entries: the last OrderUpdated of an order carries the whole order; a FillReceived is a
trade and moves a position and the cash (from the charter's opening cash), in log order;
a RiskDecision is a risk event (seq: the order decisions are first logged in); an
OversightRequested opens a request and the answer that caused its post-oversight
decision closes it; the activations and resumes set the flag under the quorum rule of
the charter in force where each stands (`model.killswitch`), the votes still short of it
being what the store's meta must hold. `compare_tables` reports every row missing, added
or different, naming the column and both values.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import msgspec

from tradeswarm.audit.charter import quorum_of
from tradeswarm.model.enums import VERDICT_SEVERITY, DecisionKind, OversightStatus
from tradeswarm.model.envelope import Envelope
from tradeswarm.model.killswitch import (
    DEFAULT_QUORUM,
    NO_VOTES,
    VOTES_KEY,
    apply_command,
    encode_votes,
)
from tradeswarm.model.messages import (
    FillReceived,
    KillSwitchActivated,
    OrderUpdated,
    OversightDecided,
    OversightRequested,
    RiskDecision,
    SwarmCharter,
    TradingResumed,
)
from tradeswarm.model.order import Order
from tradeswarm.model.portfolio import Position
from tradeswarm.store import Store
from tradeswarm.store.books import order_params

Row = dict[str, Any]
_sorted = msgspec.json.Encoder(order="sorted")
KILLSWITCH_KEY = "killswitch"


def _fill_row(f: FillReceived, agent_id: str) -> Row:
    return {
        "fill_id": f.fill_id,
        "order_id": str(f.order_id),
        "client_order_id": f.client_order_id,
        "agent_id": agent_id,
        "symbol": f.symbol,
        "side": f.side.value,
        "quantity": f.quantity,
        "price": f.price,
        "trade_amount": f.quantity * f.price,
        "fee": f.fee,
        "ts_event": f.ts_event,
    }


def _position_row(p: Position, ts_ns: int) -> Row:
    return {
        "symbol": p.symbol,
        "quantity": p.quantity,
        "avg_cost": p.avg_cost,
        "realized_pnl": p.realized_pnl,
        "updated_ns": ts_ns,
    }


def _decision_row(d: RiskDecision) -> Row:
    return {
        "event_id": str(d.decision_id),
        "intent_id": str(d.intent.intent_id),
        "agent_id": d.principal,
        "event_type": d.phase.value,
        "severity": VERDICT_SEVERITY[d.verdict],
        "verdict": d.verdict.value,
        "reasons": _sorted.encode(d.reasons).decode(),
        "metrics": _sorted.encode(d.metrics).decode(),
        "body": _sorted.encode(d),
        "ts_ns": d.ts_event,
    }


def _request_row(r: OversightRequested, agent_id: str, answer: OversightDecided | None) -> Row:
    return {
        "request_id": str(r.request_id),
        "intent_id": str(r.intent.intent_id),
        "decision_id": str(r.decision_id),
        "agent_id": agent_id,
        "symbol": r.intent.symbol,
        "trigger_type": r.trigger,
        "trade_amount": r.trade_amount,
        "status": (answer.status if answer else OversightStatus.PENDING).value,
        "approver_id": answer.approver if answer else None,
        "decision_notes": answer.notes if answer else None,
        "decision_ns": answer.decided_ns if answer else None,
        "created_ns": r.created_ns,
        "timeout_ns": r.timeout_ns,
        "body": _sorted.encode(r),
    }


class Projection(msgspec.Struct, kw_only=True):
    """The tables as the log implies them, keyed by each table's primary key."""

    orders: dict[str, Row] = {}
    trades: dict[str, Row] = {}
    positions: dict[str, Row] = {}
    account: dict[str, Row] = {}
    risk_events: dict[str, Row] = {}
    oversight_requests: dict[str, Row] = {}
    oversight_signatures: dict[str, Row] = {}
    killswitch: str | None = None
    killswitch_votes: str = ""  # the pending votes, as the store's meta keeps them
    conflicts: list[str] = []

    def tables(self) -> dict[str, dict[str, Row]]:
        return {
            "orders": self.orders,
            "trades": self.trades,
            "positions": self.positions,
            "account": self.account,
            "risk_events": self.risk_events,
            "oversight_requests": self.oversight_requests,
            "oversight_signatures": self.oversight_signatures,
        }


class _Books:
    def __init__(self, cash: Decimal | None) -> None:
        self.cash = cash
        self.positions: dict[str, tuple[Position, int]] = {}

    def apply(self, f: FillReceived) -> None:
        pos, _ = self.positions.get(f.symbol, (Position(symbol=f.symbol), 0))
        self.positions[f.symbol] = (pos.apply(f.side, f.quantity, f.price), f.ts_event)
        if self.cash is not None:
            self.cash += -f.side.sign * (f.quantity * f.price) - f.fee  # as Fill.cash_delta


class _KillSwitch:
    """The flag and its pending votes, command by command, under the charter in force."""

    def __init__(self) -> None:
        self.rule = DEFAULT_QUORUM
        self.votes = NO_VOTES
        self.flag: str | None = None

    def command(self, env: Envelope, activate: bool, detail: str) -> None:
        outcome = apply_command(self.rule, self.votes, env.sender, activate, detail)
        if outcome.flag is not None:
            self.flag = "on" if outcome.flag else "off"
        self.votes = outcome.votes


class _Walk:
    """One pass over the log, building the projection."""

    def __init__(self, refused: frozenset[uuid.UUID]) -> None:
        self.refused = refused  # answers (by msg_id) whose human signature did not verify
        self.p = Projection()
        self.orders: dict[str, Order] = {}  # by client order id
        self.decisions: dict[str, RiskDecision] = {}
        self.requests: dict[str, OversightRequested] = {}
        self.answers: dict[uuid.UUID, OversightDecided] = {}  # msg_id -> answer
        self.applied: dict[str, OversightDecided] = {}
        self.books = _Books(None)
        self.killswitch = _KillSwitch()

    def _once(self, table: dict[str, Row], key: str, row: Row, what: str) -> None:
        if key in table and table[key] != row:
            self.p.conflicts.append(f"{what} {key}: logged twice with different contents")
        table.setdefault(key, row)

    def entry(self, env: Envelope) -> None:
        body = env.payload
        if isinstance(body, SwarmCharter):
            self.killswitch.rule = quorum_of(body)
            if self.books.cash is None:
                self.books.cash = body.initial_cash
        elif isinstance(body, OrderUpdated):
            self.orders[body.order.client_order_id] = body.order
        elif isinstance(body, FillReceived) and body.fill_id not in self.p.trades:
            order = self.orders.get(body.client_order_id)
            self.p.trades[body.fill_id] = _fill_row(body, order.agent_id if order else "")
            self.books.apply(body)
        elif isinstance(body, RiskDecision):
            key = str(body.decision_id)
            row, held = _decision_row(body), self.p.risk_events.get(key)
            # stored in the order they are logged: seq 1, 2, ... by first appearance
            row["seq"] = len(self.p.risk_events) + 1 if held is None else held["seq"]
            self._once(self.p.risk_events, key, row, "risk decision")
            self.decisions.setdefault(key, body)
            self._applied_answer(env, body)
        elif isinstance(body, OversightRequested):
            self.requests.setdefault(str(body.request_id), body)
        elif isinstance(body, OversightDecided):
            self.answers[env.msg_id] = body
        elif isinstance(body, KillSwitchActivated):
            self.killswitch.command(env, True, body.reason)
        elif isinstance(body, TradingResumed):
            self.killswitch.command(env, False, "resumed")

    def _applied_answer(self, env: Envelope, decision: RiskDecision) -> None:
        """The answer that caused a post-oversight decision is the one that moved its
        request (the risk manager moves the request, then decides)."""
        cause = env.causation_id
        answer = self.answers.get(cause) if cause else None
        if decision.phase is DecisionKind.OVERSIGHT and answer is not None:
            if cause in self.refused:  # the risk manager refused its human signature
                answer = msgspec.structs.replace(answer, status=OversightStatus.REFUSED)
            self.applied.setdefault(str(answer.request_id), answer)

    def finish(self) -> Projection:
        p = self.p
        p.killswitch = self.killswitch.flag
        p.killswitch_votes = encode_votes(self.killswitch.votes)
        for order in self.orders.values():
            p.orders[str(order.order_id)] = order_params(order)
        for symbol, (pos, ts) in self.books.positions.items():
            p.positions[symbol] = _position_row(pos, ts)
        if self.books.cash is not None:
            p.account["1"] = {"id": 1, "cash": self.books.cash}
        for rid, request in self.requests.items():
            first = self.decisions.get(str(request.decision_id))
            answer = self.applied.get(rid)
            agent = first.principal if first is not None else ""
            p.oversight_requests[rid] = _request_row(request, agent, answer)
            if answer is not None and answer.human_signature is not None:
                p.oversight_signatures[rid] = {
                    "request_id": rid,
                    "signature": answer.human_signature,
                }
        return p


def project(envelopes: list[Envelope], refused: frozenset[uuid.UUID] = frozenset()) -> Projection:
    """The record tables as the log implies them; refused: the answers whose human
    signature did not verify (their request is REFUSED, not APPROVED)."""
    walk = _Walk(refused)
    for env in envelopes:
        walk.entry(env)
    return walk.finish()


_KEYS = {
    "orders": "order_id",
    "trades": "fill_id",
    "positions": "symbol",
    "account": "id",
    "risk_events": "event_id",
    "oversight_requests": "request_id",
    "oversight_signatures": "request_id",
}


def _text(value: Any) -> Any:
    """A column value in a comparable form: exact text for Decimals, bytes as bytes."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, memoryview):
        return bytes(value)
    return value


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _compare_row(table: str, key: str, have: Row, want: Row, problems: list[str]) -> None:
    for column in sorted(set(have) | set(want)):
        a, b = _text(have.get(column)), _text(want.get(column))
        if a != b:
            problems.append(
                f"{table} {key}: column {column} is {_show(a)} in the table, {_show(b)} in the log"
            )


def compare_table(
    table: str, stored: list[Row], wanted: Mapping[str, Row], problems: list[str]
) -> None:
    """Every row of one table against the log's rows, naming what differs."""
    key = _KEYS[table]
    have = {str(r[key]): r for r in stored}
    for k in sorted(set(have) | set(wanted)):
        if k not in have:
            problems.append(f"{table} {k}: in the log, missing from the table (row deleted)")
        elif k not in wanted:
            problems.append(f"{table} {k}: in the table, not in the log (row added)")
        else:
            _compare_row(table, k, have[k], dict(wanted[k]), problems)


def compare_tables(
    store: Store,
    envelopes: list[Envelope],
    problems: list[str],
    refused: frozenset[uuid.UUID] = frozenset(),
) -> None:
    """Every record table, and the kill-switch flag, against the log (refused: see
    `project`)."""
    projection = project(envelopes, refused)
    problems.extend(projection.conflicts)
    for table, wanted in projection.tables().items():
        compare_table(table, store.table_rows(table), wanted, problems)
    _compare_killswitch(store, projection, problems)


def _compare_killswitch(store: Store, projection: Projection, problems: list[str]) -> None:
    """The flag and the votes pending against what the log's commands decide."""
    flag = store.get_meta(KILLSWITCH_KEY)
    if (flag or "off") != (projection.killswitch or "off"):
        problems.append(
            f"kill switch: the store says {flag or 'off'}, the log's commands under the "
            f"charter's quorum say {projection.killswitch or 'off (none)'}"
        )
    votes = store.get_meta(VOTES_KEY) or ""
    if votes != projection.killswitch_votes:
        problems.append(
            f"kill switch votes: the store says {votes or 'none'}, the log says "
            f"{projection.killswitch_votes or 'none'}"
        )
