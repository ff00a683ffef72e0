"""The in-process transport: the contract of `bus.transport` held in memory.

It is the reference the server backends are tested against and what a test of the bridge
(`bus.remote`) runs on without a server. Nothing survives the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence

from tradeswarm.bus.transport import (
    Consumer,
    DeadLetter,
    Delivery,
    TransportConfig,
    check_durable,
    subject_of,
)
from tradeswarm.core.errors import InvalidInput


class _Pending:
    __slots__ = ("attempts", "member", "visible_at")

    def __init__(self, attempts: int, member: str, visible_at: float) -> None:
        self.attempts = attempts
        self.member = member
        self.visible_at = visible_at


class _Group:
    """A consumer group: how far it read each subject, and what is out, not acked."""

    def __init__(self, subjects: Sequence[str]) -> None:
        self.subjects = tuple(subjects)
        self.cursor = dict.fromkeys(subjects, 0)
        self.pending: dict[tuple[str, int], _Pending] = {}


class MemoryDelivery:
    __slots__ = ("_group", "_key", "_transport", "attempt", "data", "subject")

    def __init__(
        self, transport: MemoryTransport, group: _Group, key: tuple[str, int], attempt: int
    ) -> None:
        self._transport = transport
        self._group = group
        self._key = key
        self.subject = key[0]
        self.data = transport.log[key[0]][key[1]]
        self.attempt = attempt

    async def ack(self) -> None:
        self._group.pending.pop(self._key, None)

    async def nak(self, delay_s: float) -> None:
        held = self._group.pending.get(self._key)
        if held is not None:
            held.visible_at = time.monotonic() + max(0.0, delay_s)
            self._transport.wake()

    async def dead_letter(self, reason: str) -> None:
        if self._group.pending.pop(self._key, None) is not None:
            self._transport.dead.append(
                DeadLetter(self.subject, self.data, reason, self.attempt, time.time_ns())
            )


class MemoryConsumer:
    def __init__(self, transport: MemoryTransport, group: _Group, member: str) -> None:
        self._transport = transport
        self._group = group
        self._member = member

    async def fetch(self, max_messages: int, timeout_s: float) -> list[Delivery]:
        deadline = time.monotonic() + timeout_s
        while True:
            got = self._take(max_messages)
            left = deadline - time.monotonic()
            if got or left <= 0:
                return got
            event = self._transport.arrival
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), timeout=min(left, 0.05))

    def _take(self, limit: int) -> list[Delivery]:
        now, group = time.monotonic(), self._group
        out: list[Delivery] = []
        wait = self._transport.config.ack_wait_s
        mine = sum(1 for p in group.pending.values() if p.member == self._member)
        limit = min(limit, self._transport.config.max_in_flight - mine)
        for key, held in sorted(group.pending.items()):
            if len(out) >= limit:
                return out
            if held.visible_at <= now:
                held.attempts += 1
                held.member, held.visible_at = self._member, now + wait
                out.append(MemoryDelivery(self._transport, group, key, held.attempts))
        for subject in group.subjects:
            log = self._transport.log.get(subject, [])
            while len(out) < limit and group.cursor[subject] < len(log):
                key = (subject, group.cursor[subject])
                group.cursor[subject] += 1
                group.pending[key] = _Pending(1, self._member, now + wait)
                out.append(MemoryDelivery(self._transport, group, key, 1))
        return out

    async def ack_many(self, deliveries: Sequence[Delivery]) -> None:
        for delivery in deliveries:
            await delivery.ack()

    async def close(self) -> None:
        """Leave the group: what this member holds unacked is handed out again at once."""
        for held in self._group.pending.values():
            if held.member == self._member:
                held.visible_at = 0.0


class MemoryTransport:
    """See the module docstring."""

    def __init__(self, config: TransportConfig | None = None) -> None:
        self.config = config or TransportConfig()
        self.log: dict[str, list[bytes]] = {}
        self.dead: list[DeadLetter] = []
        self._groups: dict[str, _Group] = {}
        self.arrival = asyncio.Event()

    def wake(self) -> None:
        self.arrival.set()
        self.arrival = asyncio.Event()

    async def connect(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def publish(self, subject: str, batch: Sequence[bytes]) -> None:
        self.log.setdefault(subject, []).extend(bytes(b) for b in batch)
        self.wake()

    async def consumer(self, subjects: Sequence[str], durable: str, member: str) -> Consumer:
        check_durable(durable)
        for subject in subjects:
            subject_of(self.config.namespace, subject.split(".", 1)[1])
        group = self._groups.setdefault(durable, _Group(subjects))
        if group.subjects != tuple(subjects):
            raise InvalidInput("durable", durable, f"already reads {group.subjects}")
        return MemoryConsumer(self, group, member)

    async def dead_letters(self, limit: int = 10_000) -> list[DeadLetter]:
        return self.dead[:limit]
