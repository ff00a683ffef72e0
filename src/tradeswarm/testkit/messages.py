"""Builders for the messages tests keep constructing: a valid default, keyword overrides.

Every builder fills each field of its message with a documented, deterministic default,
so a test names only what it is about (`make_intent(side=Side.SELL, quantity=5)`).
An override name that is not a field of the message raises a `TypeError` naming it.
Money fields (quantity, prices, trade_amount) also take `int` or `str`, converted
exactly to `Decimal`; floats are refused, as everywhere else.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import msgspec

from tradeswarm.core.clock import NS_PER_SECOND
from tradeswarm.model.enums import MessageIntent, OrderType, Side, TimeInForce, Verdict
from tradeswarm.model.envelope import Envelope
from tradeswarm.model.messages import Message, OversightRequested, RiskDecision, TradeIntent
from tradeswarm.model.money import to_decimal

#: The default event time: 2024-01-02 14:30:00 UTC, a US cash-session open, in ns.
DEFAULT_TS_NS = 1_704_205_800 * NS_PER_SECOND
#: The same instant under the short name tests use for "the start of the test".
T0 = DEFAULT_TS_NS
#: The default agent that proposes intents.
DEFAULT_AGENT = "trading-agent-01"
#: Default ids, one per message kind, so a test can tell them apart.
DEFAULT_INTENT_ID = uuid.UUID(int=1)
DEFAULT_DECISION_ID = uuid.UUID(int=2)
DEFAULT_REQUEST_ID = uuid.UUID(int=3)
DEFAULT_MSG_ID = uuid.UUID(int=4)
#: How long a default oversight request waits for a human before it times out.
DEFAULT_OVERSIGHT_TIMEOUT_NS = 300 * NS_PER_SECOND

_INTENT_MONEY = (
    "quantity",
    "reference_price",
    "limit_price",
    "stop_price",
    "stop_loss",
    "take_profit",
)


def _check_names(cls: type[msgspec.Struct], overrides: dict[str, Any], builder: str) -> None:
    known = cls.__struct_fields__
    unknown = sorted(set(overrides) - set(known))
    if unknown:
        raise TypeError(
            f"{builder}: {', '.join(map(repr, unknown))} is not a field of {cls.__name__}"
            f" (fields: {', '.join(known)})"
        )


def _money(fields: dict[str, Any], names: tuple[str, ...], prefix: str) -> None:
    for name in names:
        value = fields.get(name)
        if value is not None and not isinstance(value, Decimal):
            fields[name] = to_decimal(value, f"{prefix}.{name}")


def make_intent(**overrides: Any) -> TradeIntent:
    """Build a TradeIntent: by default one ES contract bought at market, reference 100.

    Defaults: intent_id UUID(int=1), no signal, agent `trading-agent-01`, DAY, strategy
    `momentum`, rationale `test`, confidence 0.5, ts_event `DEFAULT_TS_NS`.
    """
    _check_names(TradeIntent, overrides, "make_intent")
    fields: dict[str, Any] = {
        "intent_id": DEFAULT_INTENT_ID,
        "signal_id": None,
        "agent_id": DEFAULT_AGENT,
        "symbol": "ES",
        "side": Side.BUY,
        "quantity": Decimal(1),
        "order_type": OrderType.MARKET,
        "time_in_force": TimeInForce.DAY,
        "reference_price": Decimal(100),
        "strategy": "momentum",
        "rationale": "test",
        "confidence": 0.5,
        "ts_event": DEFAULT_TS_NS,
    }
    fields.update(overrides)
    _money(fields, _INTENT_MONEY, "intent")
    return TradeIntent(**fields)


def make_decision(**overrides: Any) -> RiskDecision:
    """Build a RiskDecision: by default a PERMIT of `make_intent()` with no reasons.

    Defaults: decision_id UUID(int=2), empty reasons and metrics, no approval, and
    ts_event the intent's own ts_event.
    """
    _check_names(RiskDecision, overrides, "make_decision")
    intent = overrides["intent"] if "intent" in overrides else make_intent()
    fields: dict[str, Any] = {
        "decision_id": DEFAULT_DECISION_ID,
        "intent": intent,
        "verdict": Verdict.PERMIT,
        "reasons": [],
        "metrics": {},
        "ts_event": intent.ts_event,
    }
    fields.update(overrides)
    return RiskDecision(**fields)


def make_oversight_request(**overrides: Any) -> OversightRequested:
    """Build an OversightRequested: by default a human review of `make_intent()`.

    Defaults: request_id UUID(int=3), decision_id UUID(int=2), trade_amount the intent's
    claimed notional, trigger `HighValueTrade`, reasons `["big"]`, created_ns the intent's
    ts_event, timeout_ns created_ns plus `DEFAULT_OVERSIGHT_TIMEOUT_NS`.
    """
    _check_names(OversightRequested, overrides, "make_oversight_request")
    intent = overrides["intent"] if "intent" in overrides else make_intent()
    created = overrides.get("created_ns", intent.ts_event)
    fields: dict[str, Any] = {
        "request_id": DEFAULT_REQUEST_ID,
        "decision_id": DEFAULT_DECISION_ID,
        "intent": intent,
        "trade_amount": intent.claimed_notional,
        "trigger": "HighValueTrade",
        "reasons": ["big"],
        "created_ns": created,
        "timeout_ns": created + DEFAULT_OVERSIGHT_TIMEOUT_NS,
    }
    fields.update(overrides)
    _money(fields, ("trade_amount",), "oversight")
    return OversightRequested(**fields)


def make_envelope(
    payload: Message, *, topic: str, sender: str, ts_ns: int, **overrides: Any
) -> Envelope:
    """Wrap `payload` in an unsigned Envelope.

    Defaults: type the payload's class name, msg_id UUID(int=4), correlation_id the
    msg_id, no causation, ttl_ms 60000, intent COMMAND, idempotency_key str(msg_id),
    nonce 16 zero bytes.
    """
    _check_names(Envelope, overrides, "make_envelope")
    msg_id = overrides.get("msg_id", DEFAULT_MSG_ID)
    fields: dict[str, Any] = {
        "msg_id": msg_id,
        "type": type(payload).__name__,
        "topic": topic,
        "correlation_id": msg_id,
        "causation_id": None,
        "ttl_ms": 60_000,
        "sender": sender,
        "intent": MessageIntent.COMMAND,
        "idempotency_key": str(msg_id),
        "ts_ns": ts_ns,
        "nonce": b"\x00" * 16,
        "payload": payload,
    }
    fields.update(overrides)
    return Envelope(**fields)
