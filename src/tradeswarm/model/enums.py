"""The choices the domain model names; enums, never bare strings."""

from __future__ import annotations

from enum import StrEnum


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1


class OrderType(StrEnum):
    MARKET = "MARKET"
    LIMIT = "LIMIT"
    STOP = "STOP"


class TimeInForce(StrEnum):
    DAY = "DAY"
    GTC = "GTC"
    IOC = "IOC"


class Verdict(StrEnum):
    PERMIT = "PERMIT"
    DENY = "DENY"
    REVIEW = "REVIEW"


#: The severity a decision is recorded with (risk_events.severity).
VERDICT_SEVERITY = {Verdict.PERMIT: "INFO", Verdict.REVIEW: "WARNING", Verdict.DENY: "CRITICAL"}


class SignalDirection(StrEnum):
    BUY = "BUY"
    SELL = "SELL"
    HOLD = "HOLD"


class OversightStatus(StrEnum):
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    DENIED = "DENIED"
    TIMEOUT = "TIMEOUT"
    REFUSED = "REFUSED"  # an approval whose human signature did not verify: the trade is denied


class MessageIntent(StrEnum):
    """What the sender wants from the receiver: act (command) or know (event)."""

    COMMAND = "COMMAND"
    EVENT = "EVENT"


class MarketStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    HALTED = "halted"


class DecisionKind(StrEnum):
    """Which decision on an intent a RiskDecision is."""

    INTENT = "intent"  # the first decision on the intent
    OVERSIGHT = "oversight"  # after a human's (or the timeout's) answer
    CONFLICT = "conflict"  # on an intent whose id was already decided for another body
