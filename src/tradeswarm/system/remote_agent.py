"""The kernel's stand-in for an agent that runs in its own process.

It sits where the agent would sit: subscribed to the same topics at the same place in
the kernel's bus, so a run is delivered to it exactly when it would reach the agent, and
it answers in the same turn: the run goes out as one call (`bus.rpc`), the envelopes the
agent published come back, and they enter the kernel's bus only through its
VerifyingGate (signature, role ACL, TTL, replay) and only if their sender is the agent
this channel belongs to; every refusal is logged. Bars and the log's envelopes the
agent rebuilds from are queued and go out ahead of the next call. The kernel's bus
queues what the agent published where the agent itself would have queued it, so the
day plays out as it does in one process: the same decisions, books and story."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal

import msgspec

from tradeswarm.bus.identity import Identity
from tradeswarm.bus.inproc import InProcessBus
from tradeswarm.bus.rpc import RpcClient
from tradeswarm.bus.signed import VerifyingGate
from tradeswarm.bus.topics import Role, Topic
from tradeswarm.core.clock import Clock
from tradeswarm.core.errors import TradeswarmError
from tradeswarm.core.percentiles import p50_p99_ms
from tradeswarm.crypto.sealing import SealError
from tradeswarm.model.envelope import Envelope, decode_envelope, decode_head, encode_envelope
from tradeswarm.model.market import Bar
from tradeswarm.model.messages import Message
from tradeswarm.system.role_calls import (
    ANSWER,
    ENCODER,
    BarItem,
    DeliverItem,
    Item,
    RestoreItem,
    RoleCall,
)
from tradeswarm.system.role_seal import ChannelSeal

Books = Callable[[], tuple[Decimal, Decimal]]


class RemoteAgent:
    """An agent of the swarm that runs elsewhere, seen from the kernel."""

    def __init__(
        self,
        name: str,
        role: Role,
        bus: InProcessBus,
        clock: Clock,
        gate: VerifyingGate,
        client: RpcClient,
        inputs: Sequence[Topic[Message]] = (),
        books: Books | None = None,
        sealing: ChannelSeal | None = None,
    ) -> None:
        """sealing: calls sealed to the agent, answers opened (None: a trace replayed in
        this process)."""
        self.identity = Identity(name, role)
        self._sealing = sealing
        self._clock, self._gate, self.client = clock, gate, client
        self._books = books
        self._pending: list[Item] = []
        for topic in inputs:
            bus.subscribe_batch(topic, self._deliver)

    def on_bar(self, bar: Bar, publish: bool = True) -> None:
        """Queue a bar; it goes out with the next `flush` (or call)."""
        self._pending.append(BarItem(bar, publish))

    def restore(self, env: Envelope) -> None:
        """Queue a log entry the agent rebuilds its books from."""
        self._pending.append(RestoreItem(encode_envelope(env)))

    async def _deliver(self, run: list[Envelope]) -> None:
        self._pending.append(DeliverItem([encode_envelope(e) for e in run]))
        await self.flush()

    async def flush(self) -> None:
        """Send what is queued as one call; admit what the agent answers."""
        if not self._pending:
            return
        items, self._pending = self._pending, []
        books = None if self._books is None else self._books()
        body = ENCODER.encode(RoleCall(self._clock.now_ns(), items, books))
        if self._sealing is not None:
            body = self._sealing.seal(body, "call")
        raw = await self.client.call(body)
        try:
            if self._sealing is not None:
                raw = self._sealing.open(raw, "answer")
            answer = ANSWER.decode(raw)
        except (SealError, msgspec.DecodeError, msgspec.ValidationError) as err:
            # signed by the agent, yet no box for us or no answer inside: refused, logged
            self._gate.refuse_wire(raw, f"{self.identity}'s answer: {err}")
            return
        self._admit(answer.envelopes)

    def _admit(self, wires: list[bytes]) -> None:
        """The gate judges each envelope; one from another sender than this channel's
        agent is refused first (its head read without the payload: the gate decodes)."""
        mine = str(self.identity)
        passed = []
        for wire in wires:
            head = decode_head(wire)
            if head is None or head.sender == mine:
                passed.append(wire)  # the gate logs what does not decode, as any refusal
                continue
            try:
                self._gate.refuse(decode_envelope(wire), f"{head.sender} on {mine}'s channel")
            except (msgspec.DecodeError, msgspec.ValidationError, TradeswarmError, ValueError):
                passed.append(wire)  # a head without an envelope: the gate's to log
        self._gate.receive_many_bytes(passed)


def health(agent: RemoteAgent) -> dict[str, object]:
    """What the kernel saw of one remote agent: for `tradeswarm health`."""
    c = agent.client
    spread = p50_p99_ms(c.latencies_s)
    return {
        "principal": str(agent.identity),
        "channel": c.channel,
        "calls": len(c.latencies_s),
        "round_trip_p50_ms": spread["p50_ms"],
        "round_trip_p99_ms": spread["p99_ms"],
        "processes_seen": len(c.boots),
        "catch_ups": c.catch_ups,
        "forged_answers_dropped": c.forged,
        "rebuilds": c.resets,
        "last_answer_ns": c.last_answer_ns,
    }
