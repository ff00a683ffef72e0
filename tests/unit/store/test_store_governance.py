from __future__ import annotations

import uuid
from decimal import Decimal

import msgspec
import pytest
from store_factories import BASE_NS, make_decision, make_request, uid

from tradeswarm.model.enums import DecisionKind, OversightStatus, Verdict
from tradeswarm.model.messages import RiskDecision
from tradeswarm.store import OversightRecord, Store


def _phase(
    decision: RiskDecision, phase: DecisionKind, n: int, verdict: Verdict | None = None
) -> RiskDecision:
    """Another decision (id 300 + n, ts BASE_NS + n) on the same intent, in phase."""
    return msgspec.structs.replace(
        decision,
        decision_id=uid(300 + n),
        phase=phase,
        verdict=verdict or decision.verdict,
        ts_event=BASE_NS + n,
    )


def test_decision_round_trip_and_idempotent_on_intent(store: Store) -> None:
    decision = make_decision(1)
    assert store.record_decision(decision, "WARN") is True
    again = make_decision(1, verdict=Verdict.DENY)
    assert store.record_decision(again, "HIGH") is False
    got = store.get_decision_for_intent(decision.intent.intent_id)
    assert got == decision
    assert got is not None and got.intent.reference_price == Decimal("4500.25")
    assert store.get_decision_for_intent(uid(12345)) is None
    assert store.list_decisions() == [decision]


def test_count_risk_events_by_half_open_window(store: Store) -> None:
    for n, ts in ((1, 10), (2, 20), (3, 30)):
        store.record_decision(make_decision(n, ts=ts), "HIGH")
    assert store.count_risk_events() == 3
    assert store.count_risk_events(BASE_NS + 20) == 2
    assert store.count_risk_events(BASE_NS + 10, BASE_NS + 30) == 2
    assert store.count_risk_events(day_end_ns=BASE_NS + 10) == 0
    assert [d.ts_event for d in store.list_decisions()] == [BASE_NS + t for t in (10, 20, 30)]


def test_decision_row_keeps_the_principal_and_the_phase(store: Store) -> None:
    decision = msgspec.structs.replace(make_decision(1), principal="signer-01")
    store.record_decision(decision, "WARN")
    (row,) = store.table_rows("risk_events")
    assert decision.intent.agent_id != "signer-01"
    assert (row["agent_id"], row["event_type"], row["severity"]) == ("signer-01", "intent", "WARN")
    assert store.get_decision(decision.decision_id) == decision


def test_decision_for_intent_is_the_latest_but_never_a_conflict(store: Store) -> None:
    first = make_decision(1)  # REVIEW, phase intent, at BASE_NS
    store.record_decision(first, "WARN")
    conflict = _phase(first, DecisionKind.CONFLICT, 50, Verdict.DENY)
    store.record_decision(conflict, "HIGH")
    assert store.get_decision_for_intent(first.intent.intent_id) == first
    answered = _phase(first, DecisionKind.OVERSIGHT, 20, Verdict.PERMIT)
    store.record_decision(answered, "INFO")
    assert store.get_decision_for_intent(first.intent.intent_id) == answered


def test_intent_decisions_since_are_the_first_decisions_after_the_time(store: Store) -> None:
    early, late = make_decision(1, ts=10), make_decision(2, ts=20)
    for d in (late, early):
        store.record_decision(d, "WARN")
    store.record_decision(_phase(early, DecisionKind.OVERSIGHT, 30), "INFO")
    store.record_decision(_phase(late, DecisionKind.CONFLICT, 40), "HIGH")
    assert store.list_intent_decisions_since(BASE_NS + 9) == [early, late]
    assert store.list_intent_decisions_since(BASE_NS + 10) == [late]  # strictly after
    assert store.list_intent_decisions_since(BASE_NS + 20) == []


def test_oversight_create_is_idempotent(store: Store) -> None:
    req = make_request(1)
    assert store.create_oversight(req, "momentum-1") is True
    assert store.create_oversight(req, "momentum-1") is False
    assert store.get_oversight(req.request_id) == OversightRecord(
        request=req, status=OversightStatus.PENDING
    )
    assert len(store.list_oversight()) == 1


def test_decide_only_from_pending_first_decision_stands(store: Store) -> None:
    req = make_request(1)
    store.create_oversight(req, "momentum-1")
    assert store.decide_oversight(req.request_id, OversightStatus.APPROVED, "alice", "ok", 7)
    assert not store.decide_oversight(req.request_id, OversightStatus.DENIED, "bob", "no", 8)
    assert not store.decide_oversight(uid(9999), OversightStatus.DENIED, "bob", "no", 8)
    rec = store.get_oversight(req.request_id)
    assert rec is not None
    assert (rec.status, rec.approver, rec.notes, rec.decision_ns) == (
        OversightStatus.APPROVED,
        "alice",
        "ok",
        7,
    )
    with pytest.raises(ValueError):
        store.decide_oversight(req.request_id, OversightStatus.PENDING, "x", "", 9)


def test_list_oversight_filters_and_orders_by_created(store: Store) -> None:
    late, early, mid = make_request(1, created=30), make_request(2, created=10), make_request(3, 20)
    for r in (late, early, mid):
        store.create_oversight(r, "a")
    store.decide_oversight(mid.request_id, OversightStatus.TIMEOUT, "system", "", 99)
    assert [r.request for r in store.list_oversight()] == [early, mid, late]
    pending = store.list_oversight(OversightStatus.PENDING)
    assert [r.request for r in pending] == [early, late]
    assert [r.request for r in store.list_oversight(OversightStatus.TIMEOUT)] == [mid]
    assert store.list_oversight(OversightStatus.APPROVED) == []


def test_find_oversight_by_prefix(store: Store) -> None:
    a, b = make_request(1), make_request(2)
    c = msgspec.structs.replace(make_request(3), request_id=uuid.UUID(int=0xABCD << 112))
    for req in (a, b, c):
        store.create_oversight(req, "x")
    found = store.find_oversight("ABCD")
    assert found is not None and found.request == c
    found = store.find_oversight(str(a.request_id).upper())
    assert found is not None and found.request == a
    with pytest.raises(ValueError, match="ambiguous"):
        store.find_oversight(str(a.request_id)[:8])
    assert store.find_oversight("ffff") is None
    with pytest.raises(ValueError):
        store.find_oversight("%")


def test_meta_get_set(store: Store) -> None:
    assert store.get_meta("k") is None
    store.set_meta("k", "v1")
    store.set_meta("k", "v2")
    assert store.get_meta("k") == "v2"
