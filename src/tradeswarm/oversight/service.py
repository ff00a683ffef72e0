"""What a human does, from the CLI or in-process: decide requests, flip the kill switch.

Every function here takes the human's Identity and refuses any other role: only a human
may approve or deny a request or resume trading. Each takes the human's signer too: the
decision (a `HumanApproval`) is signed with the human's own key under
`HUMAN_DECISION_CONTEXT` and stored with it, so the risk manager and the auditor can
check it was this human who decided, not whoever relayed it. Kill-switch commands are
signed the same way (context `command/<type>`) and kept beside the flag.
"""

from __future__ import annotations

import uuid

import msgspec

from tradeswarm.bus.identity import Identity
from tradeswarm.core.clock import iso
from tradeswarm.core.errors import AccessDenied, InvalidInput
from tradeswarm.crypto import KeyRegistry, Signer, VerifiedSignature, sign_bytes, verify_bytes
from tradeswarm.model.enums import OversightStatus
from tradeswarm.model.messages import (
    HUMAN_DECISION_CONTEXT,
    HumanApproval,
    KillSwitchActivated,
    TradingResumed,
)
from tradeswarm.store import OversightRecord, Store

COMMAND_META_KEY = "killswitch.command"
_canonical = msgspec.json.Encoder(order="sorted")
Command = KillSwitchActivated | TradingResumed


class SignedCommand(msgspec.Struct, frozen=True, kw_only=True):
    """The last kill-switch command, its canonical bytes and its signer's block."""

    command: Command
    signer: str  # the principal that signed (role:name)
    signature: bytes | None

    def signed_bytes(self) -> bytes:
        return _canonical.encode(self.command)


def command_context(command: Command) -> str:
    return f"command/{type(command).__name__}"


def _require_human(who: Identity, act: str) -> None:
    if not who.is_human:
        raise AccessDenied(f"{who} may not {act}: only a human identity may")


def find_request(store: Store, request_id: str) -> OversightRecord:
    """Look a request up by full id or unique prefix; name the id when it is unknown."""
    try:
        record = store.find_oversight(request_id)
    except ValueError as err:
        raise InvalidInput("request_id", request_id, str(err)) from err
    if record is None:
        raise InvalidInput("request_id", request_id, "no such oversight request")
    return record


def decide_request(
    store: Store,
    request_id: str,
    who: Identity,
    approve: bool,
    note: str,
    now_ns: int,
    *,
    signer: Signer | None,
) -> OversightRecord:
    """Approve or deny a pending request as a human; refuse one that is decided or expired.

    signer: the human's own key; the decision is stored with its signature. Without one
    the decision is stored unsigned, and a swarm that verifies approvals refuses it.
    """
    _require_human(who, "decide oversight requests")
    record = find_request(store, request_id)
    rid = record.request.request_id
    if record.status is not OversightStatus.PENDING:
        raise InvalidInput("request_id", str(rid), f"already {record.status} by {record.approver}")
    if now_ns >= record.request.timeout_ns:
        raise InvalidInput(
            "request_id",
            str(rid),
            f"timed out at {iso(record.request.timeout_ns)}; it is auto-denied",
        )
    status = OversightStatus.APPROVED if approve else OversightStatus.DENIED
    answer = HumanApproval(
        request_id=rid, approver=who.name, approved=approve, decided_ns=now_ns, notes=note
    )
    signature = (
        None
        if signer is None
        else sign_bytes(HUMAN_DECISION_CONTEXT, answer.signing_bytes(), signer)
    )
    if not store.decide_oversight(rid, status, who.name, note, now_ns, signature):
        raise InvalidInput("request_id", str(rid), "was decided concurrently; nothing changed")
    decided = store.get_oversight(rid)
    assert decided is not None
    return decided


def verify_decision(record: OversightRecord, registry: KeyRegistry) -> VerifiedSignature | None:
    """Check a decided record's human signature; None for a request not decided by a human.

    Raises crypto.SignatureInvalid (unsigned, unknown or foreign key, bad signature).
    """
    if record.status not in (OversightStatus.APPROVED, OversightStatus.DENIED):
        return None
    assert record.approver is not None and record.decision_ns is not None
    answer = HumanApproval(
        request_id=record.request.request_id,
        approver=record.approver,
        approved=record.status is OversightStatus.APPROVED,
        decided_ns=record.decision_ns,
        notes=record.notes or "",
    )
    return verify_bytes(
        HUMAN_DECISION_CONTEXT,
        answer.signing_bytes(),
        record.signature,
        registry,
        principal=f"human:{record.approver}",
        signed_ns=record.decision_ns,
    )


def _record_command(store: Store, who: Identity, command: Command, signer: Signer | None) -> None:
    signed = SignedCommand(command=command, signer=str(who), signature=None)
    if signer is not None:
        block = sign_bytes(command_context(command), signed.signed_bytes(), signer)
        signed = msgspec.structs.replace(signed, signature=block)
    store.set_meta(COMMAND_META_KEY, _canonical.encode(signed).decode())


def last_command(store: Store) -> SignedCommand | None:
    """The last kill-switch command recorded, with its signature (if it was signed)."""
    raw = store.get_meta(COMMAND_META_KEY)
    return None if raw is None else msgspec.json.decode(raw, type=SignedCommand)


def verify_command(signed: SignedCommand, registry: KeyRegistry) -> VerifiedSignature:
    """Check a kill-switch command's signature (SignatureInvalid if it does not verify)."""
    ts = signed.command.ts_event
    return verify_bytes(
        command_context(signed.command),
        signed.signed_bytes(),
        signed.signature,
        registry,
        principal=signed.signer,
        signed_ns=ts,
    )


def activate_killswitch(
    store: Store, who: Identity, reason: str, now_ns: int, *, signer: Signer | None = None
) -> bool:
    """Turn the kill switch on; returns False when it already was. Any identity may.

    With signer (the caller's key) the command is signed and kept beside the flag."""
    if store.killswitch_active():
        return False
    with store.transaction():
        store.set_killswitch(True, f"{who}: {reason}", now_ns)
        command = KillSwitchActivated(reason=reason, triggered_by=str(who), ts_event=now_ns)
        _record_command(store, who, command, signer)
    return True


def resume_trading(
    store: Store, who: Identity, now_ns: int, *, signer: Signer | None = None
) -> bool:
    """Turn the kill switch off; human-only. Returns False when it was not on.

    With signer (the human's key) the command is signed and kept beside the flag."""
    _require_human(who, "resume trading")
    if not store.killswitch_active():
        return False
    with store.transaction():
        store.set_killswitch(False, f"{who}: resumed", now_ns)
        _record_command(store, who, TradingResumed(resumed_by=str(who), ts_event=now_ns), signer)
    return True


def request_uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError as err:
        raise InvalidInput("request_id", value, "not a UUID") from err
