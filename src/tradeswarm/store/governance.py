"""Risk decisions, oversight requests and the meta key/value table."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from sqlalchemy import Connection, Row, Select, Table, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from tradeswarm.model.enums import OversightStatus
from tradeswarm.model.messages import OversightRequested, RiskDecision
from tradeswarm.store.schema import meta, oversight_requests, oversight_signatures, risk_events

_decision_decoder = msgspec.json.Decoder(RiskDecision)
_request_decoder = msgspec.json.Decoder(OversightRequested)
_encoder = msgspec.json.Encoder(order="sorted")


class OversightRecord(msgspec.Struct, frozen=True, kw_only=True):
    """An oversight request with its current status and, once decided, who decided and when."""

    request: OversightRequested
    status: OversightStatus
    approver: str | None = None
    notes: str | None = None
    decision_ns: int | None = None
    signature: bytes | None = None  # the deciding human's detached signature block


def _insert(conn: Connection, table: Table) -> postgresql.Insert | sqlite.Insert:
    """The dialect's own INSERT (for its ON CONFLICT clauses)."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def get_decision(conn: Connection, decision_id: uuid.UUID) -> RiskDecision | None:
    stmt = select(risk_events.c.body).where(risk_events.c.event_id == str(decision_id))
    body = conn.execute(stmt).scalar()
    return None if body is None else _decision_decoder.decode(body)


def list_decisions(conn: Connection) -> list[RiskDecision]:
    stmt = select(risk_events.c.body).order_by(risk_events.c.ts_ns, risk_events.c.event_id)
    return [_decision_decoder.decode(b) for b in conn.execute(stmt).scalars()]


def count_risk_events(conn: Connection, start_ns: int | None, end_ns: int | None) -> int:
    """Decisions that were not a plain PERMIT (denials and reviews) in [start, end)."""
    stmt = select(func.count()).select_from(risk_events).where(risk_events.c.verdict != "PERMIT")
    if start_ns is not None:
        stmt = stmt.where(risk_events.c.ts_ns >= start_ns)
    if end_ns is not None:
        stmt = stmt.where(risk_events.c.ts_ns < end_ns)
    return int(conn.execute(stmt).scalar_one())


def create_oversight(conn: Connection, req: OversightRequested, agent_id: str) -> bool:
    stmt = _insert(conn, oversight_requests).values(
        request_id=str(req.request_id),
        intent_id=str(req.intent.intent_id),
        decision_id=str(req.decision_id),
        agent_id=agent_id,
        symbol=req.intent.symbol,
        trigger_type=req.trigger,
        trade_amount=req.trade_amount,
        status=OversightStatus.PENDING.value,
        created_ns=req.created_ns,
        timeout_ns=req.timeout_ns,
        body=_encoder.encode(req),
    )
    stmt = stmt.on_conflict_do_nothing().execution_options(preserve_rowcount=True)
    return conn.execute(stmt).rowcount == 1  # an INSERT's count, kept on every driver


def decide_oversight(
    conn: Connection,
    request_id: uuid.UUID,
    status: OversightStatus,
    *,
    approver: str,
    notes: str,
    ts_ns: int,
    signature: bytes | None = None,
) -> bool:
    """Compare-and-set: only a PENDING request moves; return whether this call moved it.

    signature (the human's, over the decision) is stored with it, in the same transaction.
    """
    if status is OversightStatus.PENDING:
        raise ValueError("a decision must move a request out of PENDING")
    stmt = (
        update(oversight_requests)
        .where(
            oversight_requests.c.request_id == str(request_id),
            oversight_requests.c.status == OversightStatus.PENDING.value,
        )
        .values(status=status.value, approver_id=approver, decision_notes=notes, decision_ns=ts_ns)
    )
    moved = conn.execute(stmt).rowcount == 1
    if moved and signature is not None:
        conn.execute(
            oversight_signatures.insert().values(request_id=str(request_id), signature=signature)
        )
    return moved


def _select_records() -> Select[Any]:
    return select(oversight_requests, oversight_signatures.c.signature).outerjoin(
        oversight_signatures,
        oversight_signatures.c.request_id == oversight_requests.c.request_id,
    )


def _record_from(r: Row[Any]) -> OversightRecord:
    return OversightRecord(
        request=_request_decoder.decode(r.body),
        status=OversightStatus(r.status),
        approver=r.approver_id,
        notes=r.decision_notes,
        decision_ns=r.decision_ns,
        signature=r.signature,
    )


def get_oversight(conn: Connection, request_id: uuid.UUID) -> OversightRecord | None:
    stmt = _select_records().where(oversight_requests.c.request_id == str(request_id))
    row = conn.execute(stmt).first()
    return None if row is None else _record_from(row)


def find_oversight(conn: Connection, prefix: str) -> OversightRecord | None:
    """The one request whose id starts with prefix; ValueError if several do."""
    cleaned = prefix.strip().lower()
    if not cleaned or any(c in cleaned for c in "%_\\"):
        raise ValueError(f"invalid request id prefix {prefix!r}")
    stmt = (
        _select_records()
        .where(oversight_requests.c.request_id.like(cleaned + "%"))
        .order_by(oversight_requests.c.created_ns)
        .limit(2)
    )
    rows = conn.execute(stmt).all()
    if len(rows) > 1:
        raise ValueError(f"request id prefix {prefix!r} is ambiguous")
    return _record_from(rows[0]) if rows else None


def list_oversight(conn: Connection, status: OversightStatus | None) -> list[OversightRecord]:
    stmt = _select_records().order_by(
        oversight_requests.c.created_ns, oversight_requests.c.request_id
    )
    if status is not None:
        stmt = stmt.where(oversight_requests.c.status == status.value)
    return [_record_from(r) for r in conn.execute(stmt)]


def get_meta(conn: Connection, key: str) -> str | None:
    found = conn.execute(select(meta.c.value).where(meta.c.key == key)).scalar()
    return None if found is None else str(found)


def set_meta(conn: Connection, key: str, value: str) -> None:
    stmt = _insert(conn, meta).values(key=key, value=value)
    conn.execute(stmt.on_conflict_do_update(index_elements=[meta.c.key], set_={"value": value}))
