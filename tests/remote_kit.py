"""Two ends of the wire for bridge tests: a trader's process that publishes signed
intents to the transport, and a risk process that admits them through its VerifyingGate
and answers each with a signed decision, both kept in a ledger (one unit of work per
batch). A handler that meets the symbol POISON raises: a poison message."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal
from typing import Any

from signed_kit import RISK, TRADER, keys_for
from tradeswarm.bus.inproc import InProcessBus
from tradeswarm.bus.remote import ExportSink, Inlet, MemoryLedger, Outlet
from tradeswarm.bus.resilience import AdaptiveTimeout, Backoff, CircuitBreaker, Resilient
from tradeswarm.bus.signed import VerifyingGate
from tradeswarm.bus.signing import BusSigning
from tradeswarm.bus.topics import INTENTS, RISK_DECISIONS
from tradeswarm.bus.transport import Transport, subject_of
from tradeswarm.core.clock import Clock
from tradeswarm.crypto.contexts import SigningPolicy
from tradeswarm.crypto.registry import KeyRegistry
from tradeswarm.model.envelope import Envelope
from tradeswarm.model.messages import RiskDecision, TradeIntent
from tradeswarm.testkit import T0, make_decision, make_intent

IDENTITIES = keys_for((TRADER, RISK))
REGISTRY = KeyRegistry(i.public() for i in IDENTITIES.values())


def quick_resilient(name: str = "wire", attempts: int = 3) -> Resilient:
    return Resilient(
        name,
        attempts=attempts,
        backoff=Backoff(base_s=0.01, cap_s=0.05),
        timeout=AdaptiveTimeout(floor_s=2.0),
        breaker=CircuitBreaker(name, threshold=3, cooldown_s=0.2),
    )


class TraderEnd:
    """Publishes intents on the wire: the local log (a MemoryLedger) and the outlet."""

    def __init__(self, transport: Transport, clock: Clock) -> None:
        self.ledger = MemoryLedger()
        self.sink = ExportSink(self.ledger, {INTENTS.name}, max_pending=100_000)
        signing = BusSigning(SigningPolicy(), [IDENTITIES[str(TRADER)]])
        self.bus = InProcessBus(clock, sink=self.sink, signing=signing, random_nonces=True)
        self.out = self.bus.attach(TRADER)
        self.outlet = Outlet(transport, self.sink, quick_resilient())

    def propose(self, n: int, start: int = 0, poison: frozenset[int] = frozenset()) -> None:
        items = []
        for i in range(start, start + n):
            symbol = "POISON" if i in poison else "ES"
            intent = make_intent(
                intent_id=uuid.UUID(int=10_000 + i), symbol=symbol, quantity=Decimal(1 + i)
            )
            items.append((intent, f"intent-{i}", None))
        self.out.publish_many(INTENTS, items)
        self.sink.commit()


class RiskEnd:
    """Admits intents through its gate and answers each with a decision. The ledger is a
    MemoryLedger by default, or a `system.wire.StoreLedger` (a real store)."""

    def __init__(
        self, transport: Transport, clock: Clock, ledger: Any = None, delay_s: float = 0.0
    ) -> None:
        self.ledger = ledger or MemoryLedger()
        self.delay_s = delay_s
        signing = BusSigning(SigningPolicy(), [IDENTITIES[str(RISK)]])
        self.bus = InProcessBus(
            clock, sink=self.ledger, group_log_writes=True, signing=signing, random_nonces=True
        )
        self.gate = VerifyingGate(
            self.bus, REGISTRY, clock, logged=lambda m: self.ledger.logged_digest(m) is not None
        )
        self.out = self.bus.attach(RISK)
        self.bus.subscribe(INTENTS, self.on_intent)
        self.transport = transport

    async def on_intent(self, env: Envelope) -> None:
        intent = env.payload
        assert isinstance(intent, TradeIntent)
        if intent.symbol == "POISON":
            raise ValueError(f"cannot size {intent.intent_id}")
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        decision = make_decision(intent=intent, decision_id=uuid.uuid5(intent.intent_id, "d"))
        self.out.publish(RISK_DECISIONS, decision, key=str(intent.intent_id), cause=env)

    async def inlet(self, member: str = "risk-1", max_deliver: int = 3) -> Inlet:
        """Join the risk group on the intents' subject."""
        subject = subject_of(self.transport.config.namespace, INTENTS.name)
        consumer = await self.transport.consumer([subject], "risk", member)
        backoff = Backoff(base_s=0.05, cap_s=0.1)
        return Inlet(
            consumer,
            self.gate,
            self.bus,
            self.ledger,
            max_deliver=max_deliver,
            max_redeliver=self.transport.config.max_redeliver,
            backoff=backoff,
        )

    def decisions(self) -> list[RiskDecision]:
        return [e.payload for e in self.ledger.logged if isinstance(e.payload, RiskDecision)]

    def intents(self) -> list[TradeIntent]:
        return [e.payload for e in self.ledger.logged if isinstance(e.payload, TradeIntent)]


def clock_at_t0() -> Clock:
    from tradeswarm.core.clock import SimClock

    return SimClock(T0)
