"""Humans' answers reach the risk manager through the gate; only a fitting one moves a request.

An answer fits when it comes from the human it names, inside the request's window
(created <= decided < timeout, and not in the future), or, for a TIMEOUT, from the desk
once the request timed out; the first fitting answer moves the request (CAS) and the
intent is decided again with it. An approval's detached human signature must verify, and
an approval too old at the re-decision never permits. Whatever does not fit stays in the
log as received and changes nothing.
"""

from __future__ import annotations

import json
import uuid

import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from oversight_kit import MALLORY, STRANGER, Room, forged_answer, human_signature

from signed_kit import DESK, HUMAN, keys_for
from tradeswarm.core.clock import NS_PER_SECOND
from tradeswarm.crypto import KeyRegistry, Signer, sign_bytes, verify_envelope
from tradeswarm.model.enums import OversightStatus, Verdict
from tradeswarm.model.envelope import Envelope, decode_envelope
from tradeswarm.model.messages import (
    HUMAN_DECISION_CONTEXT,
    HumanApproval,
    OversightDecided,
    OversightRequested,
)
from tradeswarm.oversight.desk import AUTO_DENY
from tradeswarm.oversight.service import answer_request, submit
from tradeswarm.risk.limits import RiskLimits
from tradeswarm.store import OversightRecord

SECOND = NS_PER_SECOND


def _record(room: Room, req: OversightRequested) -> OversightRecord:
    record = room.store.get_oversight(req.request_id)
    assert record is not None
    return record


def _logged(room: Room, type_name: str) -> list[Envelope]:
    envs = [decode_envelope(r.body) for r in room.store.iter_events()]
    return [e for e in envs if e.type == type_name]


async def _pump(room: Room) -> int:
    """What the swarm does with its inbox at the start of a bar."""
    wires = room.store.take_inbox()
    for wire in wires:
        room.gate.receive_bytes(wire)
    await room.bus.drain()
    return len(wires)


def _unmoved(room: Room, req: OversightRequested, answer: Envelope) -> None:
    """answer was logged as received and moved nothing: still pending, no new decision."""
    assert _record(room, req).status is OversightStatus.PENDING
    assert [d.verdict for d in room.decisions] == [Verdict.REVIEW]
    assert answer in _logged(room, "OversightDecided")


# -- a fitting answer -----------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_signed_approval_from_the_inbox_is_logged_moves_the_request_and_permits(
    room: Room, registry: KeyRegistry
) -> None:
    req = await room.review()
    room.at(req.created_ns + 30 * SECOND)
    now = room.clock.now_ns()
    env = answer_request(room.store, str(req.request_id), HUMAN, True, "ok", now,
                         signer=room.keys(HUMAN))  # fmt: skip
    submit(room.store, env)
    assert await _pump(room) == 1
    record = _record(room, req)
    assert (record.status, record.approver, record.decision_ns) == (
        OversightStatus.APPROVED, HUMAN.name, now,
    )  # fmt: skip
    assert isinstance(env.payload, OversightDecided)
    assert record.signature == env.payload.human_signature
    final = room.decisions[-1]
    assert final.verdict is Verdict.PERMIT, final.reasons
    assert final.approval is not None and final.approval.approver == HUMAN.name
    (logged,) = _logged(room, "OversightDecided")
    assert logged == env  # exactly what the human signed, from the human
    assert verify_envelope(logged, registry).principal == "human:jane.doe@desk"
    assert room.rejections == []


@pytest.mark.asyncio
async def test_a_human_denial_denies_with_the_humans_note(room: Room) -> None:
    req = await room.review()
    room.at(req.created_ns + SECOND)
    env = answer_request(room.store, str(req.request_id), HUMAN, False, "too big",
                         room.clock.now_ns(), signer=room.keys(HUMAN))  # fmt: skip
    assert await room.deliver(env)
    assert _record(room, req).status is OversightStatus.DENIED
    final = room.decisions[-1]
    assert final.verdict is Verdict.DENY
    assert final.reasons == [f"oversight: denied by {HUMAN.name}: too big"]


def test_the_human_signature_verifies_with_an_independent_ed25519_over_plain_json() -> None:
    """Outside oracle: the `cryptography` package and the json module, not our encoder."""
    signer = keys_for([HUMAN])[str(HUMAN)].ed25519
    answer = HumanApproval(
        request_id=uuid.UUID(int=9), approver="jane.doe@desk", approved=True,
        decided_ns=1_704_205_800 * SECOND, notes="size ok — ünïcode",
    )  # fmt: skip
    block = msgspec.msgpack.decode(
        sign_bytes(HUMAN_DECISION_CONTEXT, answer.signing_bytes(), signer)
    )
    assert block[:3] == [1, "ed25519", signer.key_id]
    plain = {
        "approved": True, "approver": "jane.doe@desk", "decided_ns": 1_704_205_800 * SECOND,
        "notes": "size ok — ünïcode", "request_id": str(uuid.UUID(int=9)),
    }  # fmt: skip
    data = json.dumps(plain, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    public = Ed25519PublicKey.from_public_bytes(signer.public_key_bytes())
    public.verify(block[3], b"tradeswarm/v1/HumanApproval\x00" + data)  # raises if wrong


# -- answers that do not fit ----------------------------------------------------------------


@pytest.mark.asyncio
async def test_an_approval_for_jane_sent_by_another_human_moves_nothing(room: Room) -> None:
    req = await room.review()
    room.at(req.created_ns + 30 * SECOND)
    env = forged_answer(req, sender=MALLORY, signer=room.keys(MALLORY), approver=HUMAN.name,
                        sent_ns=room.clock.now_ns())  # fmt: skip
    assert await room.deliver(env)  # mallory's own valid envelope: the gate admits and logs it
    _unmoved(room, req, env)


@pytest.mark.asyncio
async def test_an_approval_from_jane_signed_with_another_humans_key_is_refused_at_the_gate(
    room: Room,
) -> None:
    req = await room.review()
    room.at(req.created_ns + 30 * SECOND)
    env = forged_answer(req, sender=HUMAN, signer=room.keys(MALLORY), sent_ns=room.clock.now_ns())
    assert not await room.deliver(env)
    assert _record(room, req).status is OversightStatus.PENDING
    assert [d.verdict for d in room.decisions] == [Verdict.REVIEW]
    assert _logged(room, "OversightDecided") == []
    (rejected,) = room.rejections
    assert (rejected.msg_id, rejected.sender) == (env.msg_id, str(HUMAN))
    assert rejected.reason == "key belongs to another identity"
    assert [e.payload for e in _logged(room, "EnvelopeRejected")] == [rejected]


@pytest.mark.asyncio
async def test_an_answer_after_the_timeout_moves_nothing_and_the_desks_timeout_does(
    room: Room,
) -> None:
    req = await room.review()
    late = req.timeout_ns + SECOND
    room.at(late)
    env = forged_answer(req, sender=HUMAN, signer=room.keys(HUMAN), sent_ns=late)
    assert await room.deliver(env)
    _unmoved(room, req, env)
    assert room.desk.tick() == 1
    await room.bus.drain()
    record = _record(room, req)
    assert (record.status, record.approver) == (OversightStatus.TIMEOUT, AUTO_DENY)
    final = room.decisions[-1]
    assert final.verdict is Verdict.DENY
    assert final.reasons == ["oversight: auto-denied, no human answer within the timeout"]
    assert len(room.decisions) == 2


@pytest.mark.asyncio
async def test_a_timeout_before_the_timeout_or_from_a_human_moves_nothing(room: Room) -> None:
    req = await room.review()
    room.at(req.created_ns + 30 * SECOND)
    early = forged_answer(req, sender=DESK, signer=room.keys(DESK), approver=AUTO_DENY,
                          status=OversightStatus.TIMEOUT, sent_ns=room.clock.now_ns())  # fmt: skip
    assert await room.deliver(early)
    _unmoved(room, req, early)
    room.at(req.timeout_ns + SECOND)
    human = forged_answer(req, sender=HUMAN, signer=room.keys(HUMAN), approver=AUTO_DENY,
                          status=OversightStatus.TIMEOUT, sent_ns=room.clock.now_ns())  # fmt: skip
    assert await room.deliver(human)
    _unmoved(room, req, human)


@pytest.mark.asyncio
async def test_a_second_answer_for_a_decided_request_changes_nothing(room: Room) -> None:
    req = await room.review()
    room.at(req.created_ns + 30 * SECOND)
    yes = answer_request(room.store, str(req.request_id), HUMAN, True, "ok", room.clock.now_ns(),
                         signer=room.keys(HUMAN))  # fmt: skip
    assert await room.deliver(yes)
    decided = _record(room, req)
    assert decided.status is OversightStatus.APPROVED
    assert [d.verdict for d in room.decisions] == [Verdict.REVIEW, Verdict.PERMIT]
    room.at(req.created_ns + 60 * SECOND)
    no = forged_answer(req, sender=HUMAN, signer=room.keys(HUMAN), status=OversightStatus.DENIED,
                       notes="changed my mind", sent_ns=room.clock.now_ns())  # fmt: skip
    assert await room.deliver(no)
    room.at(req.timeout_ns + SECOND)
    assert room.desk.tick() == 0
    await room.bus.drain()
    assert _record(room, req) == decided
    assert [d.verdict for d in room.decisions] == [Verdict.REVIEW, Verdict.PERMIT]
    assert _logged(room, "OversightDecided") == [yes, no]  # the second one: logged, ignored
    assert [d.verdict for d in room.store.list_decisions()] == [Verdict.REVIEW, Verdict.PERMIT]


def _bad_signature(kind: str, req: OversightRequested, now: int, jane: Signer, other: Signer,
                   ) -> tuple[bytes | None, str]:  # fmt: skip
    """(detached signature block, the reason the gate must give) for each kind of forgery."""
    rid, name = req.request_id, HUMAN.name
    if kind == "unsigned":
        return None, "unsigned"
    if kind == "another human's key":
        return human_signature(rid, name, True, now, "ok", other), "key belongs to another identity"
    if kind == "unregistered key":
        return human_signature(rid, name, True, now, "ok", STRANGER.ed25519), "unknown key"
    if kind == "another context":
        block = human_signature(rid, name, True, now, "ok", jane, context="OversightDecided")
        return block, "signature made for another message type"
    # the answer was altered after it was signed: it said deny
    return human_signature(rid, name, False, now, "ok", jane), "signature does not verify"


@pytest.mark.parametrize(
    "kind", ["unsigned", "another human's key", "unregistered key", "another context", "altered"]
)
@pytest.mark.asyncio
async def test_an_approval_with_a_bad_human_signature_in_a_valid_envelope_is_a_logged_deny(
    room: Room, kind: str
) -> None:
    req = await room.review()
    room.at(req.created_ns + 30 * SECOND)
    now = room.clock.now_ns()
    signature, reason = _bad_signature(kind, req, now, room.keys(HUMAN), room.keys(MALLORY))
    env = forged_answer(req, sender=HUMAN, signer=room.keys(HUMAN), sent_ns=now,
                        signature=signature, unsigned=signature is None)  # fmt: skip
    assert await room.deliver(env)  # the envelope itself is jane's and valid
    final = room.decisions[-1]
    assert final.verdict is Verdict.DENY
    (why,) = final.reasons
    assert why.startswith(f"oversight: approval by {HUMAN.name} refused: human signature")
    assert reason in why
    assert final.approval is None
    assert len(room.decisions) == 2
    # logged: in the risk events and in the envelope log, after the admitted approval
    assert room.store.get_decision_for_intent(final.intent.intent_id) == final
    assert _logged(room, "RiskDecision")[-1].payload == final
    assert _logged(room, "OversightDecided") == [env]
    assert room.store.count_risk_events() == 2  # the REVIEW and this DENY
    record = room.store.get_oversight(req.request_id)
    assert record is not None and record.status is OversightStatus.REFUSED  # not APPROVED


@pytest.mark.asyncio
async def test_a_stale_approval_never_permits(room: Room) -> None:
    """Signed inside the window but reaching the swarm more than approval_valid_s later
    (the desk had not yet timed the request out): the gate refuses it as older than its
    replay window, and nothing permits."""
    req = await room.review()
    decided = req.created_ns + 10 * SECOND
    env = forged_answer(req, sender=HUMAN, signer=room.keys(HUMAN), sent_ns=decided)
    room.at(decided + RiskLimits().approval_valid_ns() + SECOND)
    assert not await room.deliver(env)
    assert all(d.verdict is not Verdict.PERMIT for d in room.decisions)


@pytest.mark.asyncio
async def test_a_backdated_approval_is_ignored(room: Room) -> None:
    """An answer whose decided_ns is not its envelope's (gate-checked) time moves nothing:
    backdating it past the timeout or the approval's validity is not possible."""
    req = await room.review()
    room.at(req.created_ns + 200 * SECOND)
    env = forged_answer(
        req, sender=HUMAN, signer=room.keys(HUMAN), sent_ns=room.clock.now_ns(),
        decided_ns=req.created_ns + 10 * SECOND,
    )  # fmt: skip
    assert await room.deliver(env)  # the envelope itself is sound: logged as received
    assert room.store.get_oversight(req.request_id).status is OversightStatus.PENDING  # type: ignore[union-attr]
    assert [d.verdict for d in room.decisions] == [Verdict.REVIEW]


@pytest.mark.asyncio
async def test_an_approval_just_inside_approval_valid_s_permits(room: Room) -> None:
    """The stale test's boundary: the same approval reaching the swarm exactly
    approval_valid_s after it was signed still lifts the review."""
    req = await room.review()
    decided = req.created_ns + 10 * SECOND
    env = forged_answer(req, sender=HUMAN, signer=room.keys(HUMAN), sent_ns=decided)
    room.at(decided + RiskLimits().approval_valid_ns())
    assert await room.deliver(env)
    assert room.decisions[-1].verdict is Verdict.PERMIT, room.decisions[-1].reasons
