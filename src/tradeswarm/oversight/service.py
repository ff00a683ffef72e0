"""What a human does, from the CLI or in-process: decide requests, flip the kill switch.

Every function here takes the human's Identity and refuses any other role: only a human
may approve or deny a request or resume trading.
"""

from __future__ import annotations

import uuid

from tradeswarm.bus.identity import Identity
from tradeswarm.core.clock import iso
from tradeswarm.core.errors import AccessDenied, InvalidInput
from tradeswarm.model.enums import OversightStatus
from tradeswarm.store import OversightRecord, Store


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
    store: Store, request_id: str, who: Identity, approve: bool, note: str, now_ns: int
) -> OversightRecord:
    """Approve or deny a pending request as a human; refuse one that is decided or expired."""
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
    if not store.decide_oversight(rid, status, who.name, note, now_ns):
        raise InvalidInput("request_id", str(rid), "was decided concurrently; nothing changed")
    decided = store.get_oversight(rid)
    assert decided is not None
    return decided


def activate_killswitch(store: Store, who: Identity, reason: str, now_ns: int) -> bool:
    """Turn the kill switch on; returns False when it already was. Any identity may."""
    if store.killswitch_active():
        return False
    store.set_killswitch(True, f"{who}: {reason}", now_ns)
    return True


def resume_trading(store: Store, who: Identity, now_ns: int) -> bool:
    """Turn the kill switch off; human-only. Returns False when it was not on."""
    _require_human(who, "resume trading")
    if not store.killswitch_active():
        return False
    store.set_killswitch(False, f"{who}: resumed", now_ns)
    return True


def request_uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError as err:
        raise InvalidInput("request_id", value, "not a UUID") from err
