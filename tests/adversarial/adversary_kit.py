"""A real swarm (bus, store, paper broker, gate, log) and a compromised trading agent.

The attacker holds the trading agent's own valid keys and nothing else. It speaks through
the two doors a trading agent has: its own Publisher on the in-process bus (signed by the
bus with its key, the topic ACLs applied), and, as an agent in another process would, raw
envelopes it builds and signs itself, handed to a VerifyingGate over every topic. After
each attack the rig can say what the gate decided about the attack's intents, whether
any order reached the broker, and what the log holds.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec

from tradeswarm.bus.identity import Identity
from tradeswarm.bus.signed import VerifyingGate
from tradeswarm.bus.topics import INTENTS, Role, Topic
from tradeswarm.core.clock import NS_PER_SECOND, SimClock, SimSleeper
from tradeswarm.core.ids import derived_id
from tradeswarm.crypto import Algorithm, sign_envelope
from tradeswarm.model.enums import MessageIntent, OrderType, Side, Verdict
from tradeswarm.model.envelope import Envelope, decode_envelope
from tradeswarm.model.market import Bar, Session
from tradeswarm.model.messages import AnyMessage, EnvelopeRejected, RiskDecision, TradeIntent
from tradeswarm.risk.limits import RiskLimits
from tradeswarm.system.config import SwarmConfig
from tradeswarm.system.swarm import Swarm
from tradeswarm.testkit import make_intent

MINUTE = 60 * NS_PER_SECOND
START = int(dt.datetime(2006, 1, 4, 9, 0, tzinfo=dt.UTC).timestamp()) * NS_PER_SECOND
PRICE = Decimal(3660)
TRADER = Identity("trading-agent-01", Role.TRADER)
HUMAN = Identity("jane.doe@desk", Role.HUMAN)


def _bar(ts: int, price: Decimal, symbol: str = "IDXF") -> Bar:
    return Bar(
        symbol=symbol,
        ts_event=ts,
        open=price,
        high=price,
        low=price,
        close=price,
        volume=Decimal(10**6),
    )


class Rig:
    """The swarm under attack, on a SimClock inside an XEUR session."""

    def __init__(self, db: Path, risk: RiskLimits | None = None) -> None:
        self.clock = SimClock(START)
        config = SwarmConfig(risk=risk or RiskLimits())
        self.swarm = Swarm(config, db, self.clock, SimSleeper(self.clock))
        session = Session(day="2006-01-04", open_ns=START - MINUTE, close_ns=START + 600 * MINUTE)
        self.swarm.market.open_session(session)
        self.swarm.broker.open_session(session)
        self.keys = self.swarm.identities.by_name[TRADER.name]
        self.own = self.swarm.bus.attach(TRADER)  # the attacker's own, signed, ACL'd door
        self.remote = VerifyingGate(  # the door an agent in another process would use
            self.swarm.bus,
            self.swarm.registry,
            self.clock,
            policy=self.swarm.identities.policy,
            logged=self.swarm.store.has_event,
        )
        self._n = 0
        for _ in range(31):  # 31 one-minute bars: a full volatility and VaR window
            self.bar(PRICE)

    def close(self) -> None:
        self.swarm.close()

    # -- the world ---------------------------------------------------------------------

    def bar(self, price: Decimal, symbol: str = "IDXF", advance: bool = True) -> None:
        if advance:
            self.clock.advance(MINUTE)
        self.swarm.market.on_bar(_bar(self.clock.now_ns(), price, symbol))
        if symbol == "IDXF":
            self.swarm.broker.on_bar(_bar(self.clock.now_ns(), price, symbol))

    async def step(self, act: Callable[[], Any] | None = None) -> None:
        """One unit of work as the day replay does it: humans' inbox, the attack, delivery,
        the desk's timeouts, delivery, and the broker's fills."""
        s = self.swarm
        with s.store.transaction():
            s.pump_inbox()
            if act is not None:
                result = act()
                if isinstance(result, Awaitable):
                    await result
            await s.bus.drain()
            s.desk.tick()
            await s.bus.drain()
            await s.execution.sync()
            await s.bus.drain()

    # -- the attacker --------------------------------------------------------------------

    def intent(self, qty: str | int = 1, **changes: Any) -> TradeIntent:
        """An intent as the compromised agent writes it (its own name, the market price
        as its reference, a fresh id) with any field changed."""
        self._n += 1
        fields: dict[str, Any] = {
            "intent_id": derived_id(self.clock.now_ns(), "attack", str(self._n)),
            "agent_id": TRADER.name,
            "symbol": "IDXF",
            "side": Side.BUY,
            "quantity": Decimal(qty),
            "order_type": OrderType.MARKET,
            "reference_price": PRICE,
            "ts_event": self.clock.now_ns(),
        }
        return make_intent(**(fields | changes))

    def publish(self, payload: AnyMessage, topic: Topic[Any] = INTENTS) -> Envelope:
        """Through the agent's own Publisher (its key, the bus's ACL)."""
        self._n += 1
        return self.own.publish(topic, payload, key=f"attack-{self._n}")

    def envelope(self, payload: AnyMessage, topic: Topic[Any] = INTENTS, **fields: Any) -> Envelope:
        """A raw envelope the attacker builds, signed with its own key (after any change)."""
        now = self.clock.now_ns()
        msg_id = uuid.uuid4()
        env = Envelope(
            msg_id=msg_id,
            type=type(payload).__name__,
            topic=topic.name,
            correlation_id=msg_id,
            causation_id=None,
            ttl_ms=topic.ttl_ms,
            sender=str(TRADER),
            intent=MessageIntent.COMMAND,
            idempotency_key=str(msg_id),
            ts_ns=now,
            nonce=os.urandom(16),
            payload=payload,
        )
        env = msgspec.structs.replace(env, **fields)
        return sign_envelope(env, self.keys.signer(Algorithm.ED25519))

    # -- what happened -------------------------------------------------------------------

    def decisions(self, intent: TradeIntent) -> list[RiskDecision]:
        return [
            d for d in self.swarm.store.list_decisions() if d.intent.intent_id == intent.intent_id
        ]

    def verdicts(self, *intents: TradeIntent) -> list[Verdict]:
        return [d.verdict for i in intents for d in self.decisions(i)]

    def reasons(self, intent: TradeIntent) -> list[str]:
        return [r for d in self.decisions(intent) for r in d.reasons]

    async def broker_has(self, intent: TradeIntent) -> bool:
        """Whether any order for this intent reached the paper broker."""
        order_id = derived_id(intent.ts_event, "order", str(intent.intent_id))
        found = await self.swarm.broker.get_order_by_client_id(f"ts-{order_id}")
        return found is not None or any(
            o.intent_id == intent.intent_id for o in self.swarm.store.list_orders()
        )

    def log(self) -> list[Envelope]:
        return [decode_envelope(r.body) for r in self.swarm.store.iter_events()]

    def logged_intent(self, intent: TradeIntent) -> bool:
        return any(
            isinstance(e.payload, TradeIntent) and e.payload.intent_id == intent.intent_id
            for e in self.log()
        )

    def rejections(self) -> list[EnvelopeRejected]:
        return [e.payload for e in self.log() if isinstance(e.payload, EnvelopeRejected)]
