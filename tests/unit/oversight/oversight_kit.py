"""Constants and builders shared by the oversight tests.

Humans reach the swarm only as signed envelopes: `oversight.service` builds them, a
VerifyingGate admits them onto the bus (logging them), and the risk manager moves a
request when an answer fits. `forged_answer` builds the answers the service would refuse
to build (late, for a decided request, signed by someone else, with a bad detached
signature), to show that the risk manager refuses them too.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from signed_kit import MEMBERS, TRADER
from tradeswarm.bus.identity import Identity
from tradeswarm.bus.inproc import InProcessBus
from tradeswarm.bus.signed import VerifyingGate
from tradeswarm.bus.topics import INTENTS, OVERSIGHT_DECISIONS, Role
from tradeswarm.core.clock import NS_PER_SECOND, SimClock
from tradeswarm.crypto import AgentIdentity, Signer, SigningPolicy, sign_bytes
from tradeswarm.data.view import MarketView
from tradeswarm.instruments import InstrumentMaster
from tradeswarm.model.enums import OversightStatus, Verdict
from tradeswarm.model.envelope import Envelope
from tradeswarm.model.market import Bar, Instrument, Quote
from tradeswarm.model.messages import (
    HUMAN_DECISION_CONTEXT,
    EnvelopeRejected,
    HumanApproval,
    OversightDecided,
    OversightRequested,
    RiskDecision,
)
from tradeswarm.oversight.desk import OversightDesk
from tradeswarm.oversight.service import human_envelope
from tradeswarm.store import Store
from tradeswarm.testkit import make_intent

TIMEOUT_NS = 300 * NS_PER_SECOND
PRICE = Decimal(120_000)  # one contract of ES at this price is over the $100,000 threshold
#: The swarm's default: every non-repudiable type signed, Ed25519.
POLICY = SigningPolicy()

#: A second registered human: a foreign key (and sender) for jane's decisions.
MALLORY = Identity("mallory", Role.HUMAN)
ROOM = (*MEMBERS, MALLORY)
#: jane's name, keys nobody registered.
STRANGER = AgentIdentity.from_seed("jane.doe@desk", "human", b"a seed nobody registered", 0)

#: ES on a 24/7 calendar with a unit multiplier: the gate values one contract at its quote.
INSTRUMENTS = InstrumentMaster(
    [Instrument(symbol="ES", asset_class="equity_index_future", calendar="24/7")],
    "the oversight kit",
)


def human_signature(
    request_id: uuid.UUID,
    approver: str,
    approved: bool,
    decided_ns: int,
    notes: str,
    signer: Signer,
    context: str = HUMAN_DECISION_CONTEXT,
) -> bytes:
    """A detached signature block over the HumanApproval these fields make."""
    answer = HumanApproval(
        request_id=request_id,
        approver=approver,
        approved=approved,
        decided_ns=decided_ns,
        notes=notes,
    )
    return sign_bytes(context, answer.signing_bytes(), signer)


def forged_answer(
    request: OversightRequested,
    *,
    sender: Identity,
    signer: Signer,
    sent_ns: int,
    status: OversightStatus = OversightStatus.APPROVED,
    approver: str | None = None,
    decided_ns: int | None = None,
    notes: str = "ok",
    signature: bytes | None = None,
    unsigned: bool = False,
) -> Envelope:
    """An answer to request in an envelope from sender signed by signer at sent_ns.

    approver defaults to the sender's name and decided_ns to sent_ns; the detached human
    signature is `signature` when given, none when unsigned, else signer's over the
    answer's own fields; a TIMEOUT carries none."""
    who = approver if approver is not None else sender.name
    when = decided_ns if decided_ns is not None else sent_ns
    if unsigned or status is OversightStatus.TIMEOUT:
        signature = None
    elif signature is None:
        approved = status is OversightStatus.APPROVED
        signature = human_signature(request.request_id, who, approved, when, notes, signer)
    decided = OversightDecided(
        request_id=request.request_id,
        intent_id=request.intent.intent_id,
        status=status,
        approver=who,
        notes=notes,
        decided_ns=when,
        human_signature=signature,
    )
    key = f"{request.request_id}:{status}:{sender}:{sent_ns}"
    return human_envelope(decided, OVERSIGHT_DECISIONS, sender, sent_ns, signer, key)


def quote_at(market: MarketView, ts: int, price: Decimal = PRICE) -> None:
    """ES trades at price at ts: a bar there and a quote with no spread."""
    market.on_bar(
        Bar(symbol="ES", ts_event=ts, open=price, high=price, low=price, close=price,
            volume=Decimal(1000))
    )  # fmt: skip
    market.set_quote(Quote(symbol="ES", ts_event=ts, bid=price, ask=price))


@dataclass
class Room:
    """The swarm's oversight path in miniature; `deliver` is what `Swarm.pump_inbox` does."""

    bus: InProcessBus
    clock: SimClock
    store: Store
    gate: VerifyingGate
    market: MarketView
    desk: OversightDesk
    keys: Callable[[Identity], Signer]
    decisions: list[RiskDecision] = field(default_factory=list)
    rejections: list[EnvelopeRejected] = field(default_factory=list)

    async def deliver(self, env: Envelope) -> bool:
        """Pass env through the gate and deliver what it admits; whether it was admitted."""
        admitted = self.gate.receive(env) is not None
        await self.bus.drain()
        return admitted

    async def review(self) -> OversightRequested:
        """A $120,000 intent (one ES contract), signed by the trader: the gate opens a
        request for a human; returns it."""
        intent = make_intent(
            intent_id=uuid.UUID(int=5), agent_id=TRADER.name, reference_price=PRICE,
            rationale="t", ts_event=self.clock.now_ns(),
        )  # fmt: skip
        self.bus.attach(TRADER).publish(INTENTS, intent, key="big")
        await self.bus.drain()
        assert [d.verdict for d in self.decisions] == [Verdict.REVIEW], self.decisions
        (record,) = self.store.list_oversight()
        return record.request

    def at(self, ts: int) -> None:
        """Move the clock to ts, with a fresh quote there (so only the approval's age and
        the request's window decide, never stale market data)."""
        self.clock.set(ts)
        quote_at(self.market, ts)
