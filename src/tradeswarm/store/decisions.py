"""The gate's decisions on the hot path: one insert and one lookup per intent, prepared.

Prepared through `core.fastsql` (each SQLAlchemy-built call cost ~1 ms in the pipeline
profile). Reading decisions back for reports and verification is in `governance`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import msgspec
from sqlalchemy import ClauseElement, Connection, bindparam, func, select
from sqlalchemy.dialects import postgresql, sqlite

from tradeswarm.core.fastsql import FastStatement
from tradeswarm.model.enums import DecisionKind
from tradeswarm.model.messages import RiskDecision
from tradeswarm.store.schema import risk_events
from tradeswarm.store.wide import WideIn

_decoder = msgspec.json.Decoder(RiskDecision)
#: A decision on an intent whose id was already decided for another body is recorded,
#: but is never "the decision for that intent".
CONFLICT = DecisionKind.CONFLICT.value
_encoder = msgspec.json.Encoder(order="sorted")


def _insert(dialect: str) -> ClauseElement:
    # seq, the insertion order, is the next one (writers are serialised: SQLite's write
    # lock, PostgreSQL's advisory lock); a repeat of a stored decision id is skipped.
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    values: dict[str, Any] = {
        c.key: bindparam(c.key) for c in risk_events.columns if c.key != "seq"
    }
    following = select(func.coalesce(func.max(risk_events.c.seq), 0) + 1).scalar_subquery()
    stmt = insert(risk_events).values(**values, seq=following)
    return stmt.on_conflict_do_nothing(index_elements=[risk_events.c.event_id])


# A REVIEW is followed by the post-oversight decision; on equal ts the later row wins.
_LATEST_ORDER = (risk_events.c.ts_ns.desc(), risk_events.c.seq.desc())
_INSERT = FastStatement(_insert)
_LATEST = FastStatement(
    select(risk_events.c.body)
    .where(risk_events.c.intent_id == bindparam("intent"), risk_events.c.event_type != CONFLICT)
    .order_by(*_LATEST_ORDER)
    .limit(1)
)
_OF_INTENTS = WideIn(
    select(
        risk_events.c.intent_id, risk_events.c.ts_ns, risk_events.c.seq, risk_events.c.body
    ).where(risk_events.c.event_type != CONFLICT),
    risk_events.c.intent_id,
)
_IDS = WideIn(select(risk_events.c.event_id), risk_events.c.event_id)


def record_decision(conn: Connection, decision: RiskDecision, severity: str) -> bool:
    """Store the decision once (by decision id); False if it is already stored."""
    return _INSERT.run(conn, _params(decision, severity)) == 1


def record_decisions(conn: Connection, decisions: Sequence[tuple[RiskDecision, str]]) -> list[bool]:
    """Store each (decision, severity) once, in order, in one driver call; per decision
    whether it was new (False: already stored, or earlier in the same list)."""
    stored = {r[0] for r in _IDS.rows(conn, [str(d.decision_id) for d, _ in decisions])}
    new: list[bool] = []
    rows = []
    for decision, severity in decisions:
        key = str(decision.decision_id)
        new.append(key not in stored)
        if key not in stored:
            stored.add(key)
            rows.append(_params(decision, severity))
    _INSERT.executemany(conn, rows)
    return new


def decision_ids_stored(conn: Connection, ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """Which of these decision ids are stored."""
    return {uuid.UUID(r[0]) for r in _IDS.rows(conn, [str(i) for i in ids])}


def decisions_for_intents(
    conn: Connection, intent_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, RiskDecision]:
    """`get_decision_for_intent` of each intent that has one, in one lookup per 250."""
    latest: dict[str, tuple[int, int, bytes]] = {}
    for intent, ts, seq, body in _OF_INTENTS.rows(conn, [str(i) for i in intent_ids]):
        held = latest.get(intent)
        if held is None or (ts, seq) > held[:2]:
            latest[intent] = (ts, seq, body)
    return {uuid.UUID(k): _decoder.decode(v[2]) for k, v in latest.items()}


def _params(decision: RiskDecision, severity: str) -> dict[str, object]:
    return {
        "event_id": str(decision.decision_id),
        "intent_id": str(decision.intent.intent_id),
        "agent_id": decision.principal,
        "event_type": decision.phase.value,
        "severity": severity,
        "verdict": decision.verdict.value,
        "reasons": _encoder.encode(decision.reasons).decode(),
        "metrics": _encoder.encode(decision.metrics).decode(),
        "body": _encoder.encode(decision),
        "ts_ns": decision.ts_event,
    }


_SINCE = FastStatement(
    select(risk_events.c.body)
    .where(
        risk_events.c.ts_ns > bindparam("since"),
        risk_events.c.event_type == DecisionKind.INTENT.value,
    )
    .order_by(risk_events.c.ts_ns, risk_events.c.event_id)
)


def list_intent_decisions_since(conn: Connection, since_ns: int) -> list[RiskDecision]:
    """The initial decisions (one per intent) made after since_ns, oldest first."""
    return [_decoder.decode(r[0]) for r in _SINCE.rows(conn, {"since": since_ns})]


def get_decision_for_intent(conn: Connection, intent_id: uuid.UUID) -> RiskDecision | None:
    """The latest decision on the intent (a REVIEW is followed by the post-oversight one)."""
    body = _LATEST.scalar(conn, {"intent": str(intent_id)})
    return None if body is None else _decoder.decode(body)
