"""The messages agents exchange; each travels inside an Envelope."""

from __future__ import annotations

import math
import uuid
from decimal import Decimal

import msgspec

from tradeswarm.core.errors import InvalidInput
from tradeswarm.model.enums import (
    DecisionKind,
    OrderType,
    OversightStatus,
    Side,
    SignalDirection,
    TimeInForce,
    Verdict,
)
from tradeswarm.model.killswitch import KillSwitchQuorum
from tradeswarm.model.order import Order, OrderState
from tradeswarm.model.portfolio import Fill


class Message(msgspec.Struct, frozen=True, kw_only=True, tag_field="kind", tag=True):
    """Base of every bus payload; the class name is its wire tag."""


def _unit_interval(value: float, field: str) -> None:
    if not isinstance(value, float | int) or not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise InvalidInput(field, value, "must be a finite number in [0, 1]")


def _positive(value: Decimal | None, field: str) -> None:
    if value is None:
        return
    if not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
        raise InvalidInput(field, value, "must be a finite Decimal greater than zero")


class MarketSignal(Message, frozen=True, kw_only=True):
    signal_id: uuid.UUID
    symbol: str
    direction: SignalDirection
    strength: float
    confidence: float
    price: Decimal
    ts_event: int
    expiry_ns: int
    setup: str = ""
    regime: str = "UNKNOWN"
    indicators: dict[str, float] = {}

    def __post_init__(self) -> None:
        _unit_interval(self.strength, "signal.strength")
        _unit_interval(self.confidence, "signal.confidence")
        _positive(self.price, "signal.price")


def _check_order_prices(kind: OrderType, limit: Decimal | None, stop: Decimal | None) -> None:
    """A LIMIT carries a limit price only, a STOP a stop price only, a MARKET neither."""
    wants = {OrderType.LIMIT: ("limit_price",), OrderType.STOP: ("stop_price",)}.get(kind, ())
    for name, value in (("limit_price", limit), ("stop_price", stop)):
        if name in wants and value is None:
            raise InvalidInput(f"intent.{name}", None, f"a {kind} order needs a {name}")
        if name not in wants and value is not None:
            raise InvalidInput(f"intent.{name}", value, f"a {kind} order takes no {name}")


class TradeIntent(Message, frozen=True, kw_only=True):
    """A trade an agent proposes; nothing happens to it without a PERMIT.

    Everything here is the proposing agent's claim. The gate values the trade from its
    own market view and the instrument master (``reference_price`` is the agent's own
    price, shown to people, never trusted), and takes the principal from the envelope's
    signature, checking that ``agent_id`` names the same agent.
    """

    intent_id: uuid.UUID
    signal_id: uuid.UUID | None
    agent_id: str
    symbol: str
    side: Side
    quantity: Decimal
    order_type: OrderType
    time_in_force: TimeInForce
    reference_price: Decimal
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None
    strategy: str
    rationale: str
    confidence: float
    ts_event: int

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check every field (InvalidInput naming it). Construction and decoding run this;
        the gate runs it again, since an object handed over in process may have been
        altered after it was built."""
        for name, kind in (
            ("side", Side),
            ("order_type", OrderType),
            ("time_in_force", TimeInForce),
        ):
            if not isinstance(getattr(self, name), kind):
                raise InvalidInput(f"intent.{name}", getattr(self, name), f"not a {kind.__name__}")
        if self.quantity is None:
            raise InvalidInput("intent.quantity", None, "is required")
        _positive(self.quantity, "intent.quantity")
        for name in ("reference_price", "limit_price", "stop_price", "stop_loss", "take_profit"):
            _positive(getattr(self, name), f"intent.{name}")
        _check_order_prices(self.order_type, self.limit_price, self.stop_price)
        _unit_interval(self.confidence, "intent.confidence")
        if not isinstance(self.symbol, str) or not self.symbol:
            raise InvalidInput("intent.symbol", self.symbol, "must be a non-empty string")
        if not isinstance(self.agent_id, str):
            raise InvalidInput("intent.agent_id", self.agent_id, "must be a string")

    @property
    def claimed_notional(self) -> Decimal:
        """The trade's value as the agent prices it (quantity x its own price): for
        display only; the gate's valuation is in the decision's metrics."""
        price = self.limit_price or self.stop_price or self.reference_price
        return self.quantity * price


#: The signing context of a human's oversight decision (crypto.sign_bytes type name).
HUMAN_DECISION_CONTEXT = "HumanApproval"

_canonical = msgspec.json.Encoder(order="sorted")


class HumanApproval(msgspec.Struct, frozen=True, kw_only=True):
    """A human's answer to an oversight request: what the human signs (approve or deny)."""

    request_id: uuid.UUID
    approver: str
    approved: bool
    decided_ns: int
    notes: str = ""

    def signing_bytes(self) -> bytes:
        """The canonical bytes the human's detached signature covers (sorted-key JSON)."""
        return _canonical.encode(self)


class RiskDecision(Message, frozen=True, kw_only=True):
    """The gate's verdict on one intent, with every reason that determined it.

    principal is who was judged: the agent whose signature the intent's envelope carried
    ("" when the signature itself was refused). metrics hold the gate's own numbers,
    among them its valuation of the trade (notional, reference_price, valuation_price).
    phase: the first decision on an intent, the one after its oversight answer, or a
    decision on an intent whose id was already decided for another body (a conflict).
    """

    decision_id: uuid.UUID
    intent: TradeIntent
    verdict: Verdict
    reasons: list[str]
    metrics: dict[str, str]
    ts_event: int
    approval: HumanApproval | None = None
    principal: str = ""
    phase: DecisionKind = DecisionKind.INTENT


class OversightRequested(Message, frozen=True, kw_only=True):
    request_id: uuid.UUID
    decision_id: uuid.UUID
    intent: TradeIntent
    trade_amount: Decimal
    trigger: str
    reasons: list[str]
    created_ns: int
    timeout_ns: int


class OversightDecided(Message, frozen=True, kw_only=True, omit_defaults=True):
    """A decided oversight request, relayed by the desk.

    human_signature is the human's own detached signature block (crypto.sign_bytes
    under HUMAN_DECISION_CONTEXT) over `self.answer().signing_bytes()`; None for an
    auto-denial. It is left out of the encoding when None, so older logs re-encode
    to the same bytes.
    """

    request_id: uuid.UUID
    intent_id: uuid.UUID
    status: OversightStatus
    approver: str
    notes: str
    decided_ns: int
    human_signature: bytes | None = None

    def answer(self) -> HumanApproval | None:
        """The human's answer this relays (what was signed); None for an auto-denial."""
        if self.status not in (OversightStatus.APPROVED, OversightStatus.DENIED):
            return None
        return HumanApproval(
            request_id=self.request_id,
            approver=self.approver,
            approved=self.status is OversightStatus.APPROVED,
            decided_ns=self.decided_ns,
            notes=self.notes,
        )


class OrderUpdated(Message, frozen=True, kw_only=True):
    """An order moved to a new state (submitted, acknowledged, rejected, canceled ...).

    It carries the whole order as the execution agent stored it, so the orders table can
    be rebuilt from the log field by field; note says what moved it."""

    order: Order
    note: str = ""
    ts_event: int

    @property
    def order_id(self) -> uuid.UUID:
        return self.order.order_id

    @property
    def client_order_id(self) -> str:
        return self.order.client_order_id

    @property
    def intent_id(self) -> uuid.UUID:
        return self.order.intent_id

    @property
    def symbol(self) -> str:
        return self.order.symbol

    @property
    def side(self) -> Side:
        return self.order.side

    @property
    def quantity(self) -> Decimal:
        return self.order.quantity

    @property
    def state(self) -> OrderState:
        return self.order.state

    @property
    def filled_qty(self) -> Decimal:
        return self.order.filled_qty

    @property
    def broker_order_id(self) -> str | None:
        return self.order.broker_order_id

    @property
    def reason(self) -> str:
        """The note, else the order's own reason."""
        return self.note or self.order.reason


class FillReceived(Message, frozen=True, kw_only=True):
    fill_id: str
    order_id: uuid.UUID
    client_order_id: str
    symbol: str
    side: Side
    quantity: Decimal
    price: Decimal
    fee: Decimal
    ts_event: int

    @classmethod
    def of(cls, fill: Fill) -> FillReceived:
        """The message announcing a recorded fill: the same fields, field for field."""
        return cls(**msgspec.structs.asdict(fill))


class ExecutionRejected(Message, frozen=True, kw_only=True):
    """A permitted trade the execution agent refused or the broker rejected."""

    intent_id: uuid.UUID
    client_order_id: str
    reason: str
    ts_event: int


class KillSwitchActivated(Message, frozen=True, kw_only=True):
    reason: str
    triggered_by: str
    ts_event: int


class TradingResumed(Message, frozen=True, kw_only=True):
    resumed_by: str
    ts_event: int


class ComplianceFlag(Message, frozen=True, kw_only=True):
    flag: str
    symbol: str
    detail: str
    order_id: uuid.UUID | None
    ts_event: int


class DailySummary(Message, frozen=True, kw_only=True):
    day: str
    trades: int
    volume: Decimal
    oversight_requests: int
    approvals: int
    denials: int
    auto_denials: int
    risk_events: int
    flags: int
    ts_event: int


class SwarmCharter(Message, frozen=True, kw_only=True, omit_defaults=True):
    """What every later entry of the log is held to, recorded by the audit log and signed
    with the log's own key (the key the auditor pins): the public-key registry that
    envelope signatures verify against, the signing policy (which message types must be
    signed, in which algorithm, which never by a burst's root), and the books' opening
    cash, and the kill switch's quorum rule. A new charter is recorded whenever one of
    them changes. ``per_message_types`` and ``killswitch`` are left out of the encoding
    when at their defaults (no such types; any one human moves the kill switch): a
    charter without them is byte for byte the charter from before the fields existed."""

    registry: str  # the KeyRegistry's canonical JSON
    signed_types: list[str]
    default_algorithm: str
    algorithms: dict[str, str]
    initial_cash: Decimal
    ts_event: int
    per_message_types: list[str] = msgspec.field(default_factory=list)
    killswitch: KillSwitchQuorum | None = None


class EnvelopeRejected(Message, frozen=True, kw_only=True):
    """An envelope the receiving side refused: unsigned, wrongly signed, expired, replayed.

    The fields are as the rejected envelope claimed them; envelope_sha256 is over its
    canonical encoding (signature included), so the exact bytes can be matched later.
    """

    msg_id: uuid.UUID
    type: str
    topic: str
    sender: str
    reason: str
    detail: str
    envelope_sha256: str
    ts_event: int


AnyMessage = (
    MarketSignal
    | TradeIntent
    | RiskDecision
    | OversightRequested
    | OversightDecided
    | OrderUpdated
    | FillReceived
    | ExecutionRejected
    | KillSwitchActivated
    | TradingResumed
    | ComplianceFlag
    | DailySummary
    | EnvelopeRejected
    | SwarmCharter
)
