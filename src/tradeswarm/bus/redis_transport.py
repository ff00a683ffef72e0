"""Redis Streams behind `bus.transport`: a stream per topic, consumer groups, XAUTOCLAIM.

- Streams: the key of a subject is the subject itself (`ts.trading.intent.created`), each
  entry one field `d` with the message's bytes; dead letters go to `<ns>.dlq`.
- Consumers: the group is created at the stream's start (`XGROUP CREATE ... 0 MKSTREAM`),
  so a group that joins late still reads everything. `fetch` first reclaims entries
  pending longer than `ack_wait_s` in any member (`XAUTOCLAIM`: a crashed or hung
  consumer's messages, and naks whose delay has passed), their attempt read from
  `XPENDING`, then reads new ones (`XREADGROUP ... >`, blocking up to the timeout).
- A nak re-claims the entry to its member with its idle time set back (`XCLAIM ... IDLE
  JUSTID`, which keeps the delivery count), so it is reclaimed once the delay has passed;
  Redis can only express a delay up to `ack_wait_s`, so longer ones are cut to it.
- A dead letter is added to the DLQ stream and the original acknowledged in one
  MULTI/EXEC transaction.
- Backpressure: a member never holds more than `max_in_flight` unacked entries: fetch
  asks for no more than the room left.

Durability across a server restart is the server's: run Redis with `appendonly yes`
(the tests' own server does; this machine's shared one keeps nothing on disk). A
publisher that retries after a lost reply may add an entry twice: consumers deduplicate
by msg_id (`bus.remote`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import msgspec
import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from tradeswarm.bus.transport import (
    Consumer,
    DeadLetter,
    Delivery,
    TransportConfig,
    TransportUnavailable,
    check_durable,
)
from tradeswarm.core.errors import InvalidInput

_RECLAIM_EVERY_S = 0.05


class RedisDelivery:
    __slots__ = ("_consumer", "attempt", "data", "entry_id", "subject")

    def __init__(
        self, consumer: RedisConsumer, subject: str, entry_id: bytes, data: bytes, attempt: int
    ) -> None:
        self._consumer = consumer
        self.entry_id = entry_id
        self.subject = subject
        self.data = data
        self.attempt = attempt

    async def ack(self) -> None:
        await self._consumer.settle(self.subject, self.entry_id)

    async def nak(self, delay_s: float) -> None:
        await self._consumer.nak(self.subject, self.entry_id, delay_s)

    async def dead_letter(self, reason: str) -> None:
        record = DeadLetter(self.subject, self.data, reason[:2000], self.attempt, time.time_ns())
        await self._consumer.settle(self.subject, self.entry_id, dead=record)


class RedisConsumer:
    def __init__(
        self, transport: RedisTransport, subjects: Sequence[str], group: str, member: str
    ) -> None:
        self._transport = transport
        self._r = transport.client
        self._subjects = list(subjects)
        self._group = group
        self._member = member
        self._held = 0
        self._last_reclaim = 0.0

    async def fetch(self, max_messages: int, timeout_s: float) -> list[Delivery]:
        room = min(max_messages, self._transport.config.max_in_flight - self._held)
        if room <= 0:
            return []
        out = await self._reclaim(room)
        if len(out) < room:
            block = None if out else max(1, int(timeout_s * 1000))
            reply = await self._r.xreadgroup(
                self._group,
                self._member,
                dict.fromkeys(self._subjects, ">"),
                count=room - len(out),
                block=block,
            )
            for key, entries in reply or []:
                subject = key.decode()
                out += [RedisDelivery(self, subject, i, f[b"d"], 1) for i, f in entries if f]
        self._held += len(out)
        return out

    async def _reclaim(self, room: int) -> list[Delivery]:
        now = time.monotonic()
        if now - self._last_reclaim < _RECLAIM_EVERY_S:
            return []
        self._last_reclaim = now
        idle_ms = int(self._transport.config.ack_wait_s * 1000)
        out: list[Delivery] = []
        for subject in self._subjects:
            if len(out) >= room:
                break
            _, entries, _ = await self._r.xautoclaim(
                subject, self._group, self._member, idle_ms, "0-0", count=room - len(out)
            )
            entries = [(i, f) for i, f in entries if f]  # deleted entries come back empty
            if not entries:
                continue
            async with self._r.pipeline(transaction=False) as pipe:
                for entry_id, _ in entries:
                    pipe.xpending_range(subject, self._group, entry_id, entry_id, 1)
                counts = await pipe.execute()
            for (entry_id, fields), rows in zip(entries, counts, strict=True):
                attempt = int(rows[0]["times_delivered"]) if rows else 1
                out.append(RedisDelivery(self, subject, entry_id, fields[b"d"], attempt))
        return out

    async def settle(self, subject: str, entry_id: bytes, dead: DeadLetter | None = None) -> None:
        async with self._r.pipeline(transaction=dead is not None) as pipe:
            if dead is not None:
                pipe.xadd(self._transport.dlq_key, {"d": msgspec.msgpack.encode(dead)})
            pipe.xack(subject, self._group, entry_id)
            await pipe.execute()
        self._held = max(0, self._held - 1)

    async def ack_many(self, deliveries: Sequence[Delivery]) -> None:
        """One XACK per stream for the lot, in one round trip."""
        by_subject: dict[str, list[bytes]] = {}
        for d in deliveries:
            assert isinstance(d, RedisDelivery)
            by_subject.setdefault(d.subject, []).append(d.entry_id)
        if not by_subject:
            return
        async with self._r.pipeline(transaction=False) as pipe:
            for subject, ids in by_subject.items():
                pipe.xack(subject, self._group, *ids)
            await pipe.execute()
        self._held = max(0, self._held - len(deliveries))

    async def nak(self, subject: str, entry_id: bytes, delay_s: float) -> None:
        wait_ms = int(self._transport.config.ack_wait_s * 1000)
        idle = max(0, wait_ms - int(delay_s * 1000))
        await self._r.xclaim(
            subject, self._group, self._member, 0, [entry_id], idle=idle, justid=True
        )
        self._held = max(0, self._held - 1)

    async def close(self) -> None:
        return None


class RedisTransport:
    """See the module docstring."""

    def __init__(self, config: TransportConfig) -> None:
        if config.backend != "redis":
            raise InvalidInput("bus.backend", config.backend, "RedisTransport needs 'redis'")
        self.config = config
        self.dlq_key = f"{config.namespace}.dlq"
        self._client: Any = None
        self._groups: set[tuple[str, str]] = set()

    @property
    def client(self) -> Any:
        if self._client is None:
            raise TransportUnavailable("the Redis transport is not connected")
        return self._client

    async def connect(self) -> None:
        self._client = aioredis.from_url(
            self.config.url,
            socket_connect_timeout=self.config.connect_timeout_s,
            retry_on_timeout=True,
        )
        try:
            await self._client.ping()
        except (RedisError, OSError) as err:
            await self._client.aclose()
            self._client = None
            raise TransportUnavailable(f"bus.url {self.config.url!r}: {err}") from err

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def publish(self, subject: str, batch: Sequence[bytes]) -> None:
        async with self.client.pipeline(transaction=False) as pipe:
            for data in batch:
                pipe.xadd(subject, {"d": data})
            await pipe.execute()

    async def consumer(self, subjects: Sequence[str], durable: str, member: str) -> Consumer:
        check_durable(durable)
        for subject in subjects:
            if (subject, durable) in self._groups:
                continue
            try:
                await self.client.xgroup_create(subject, durable, id="0", mkstream=True)
            except ResponseError as err:
                if "BUSYGROUP" not in str(err):
                    raise
            self._groups.add((subject, durable))
        return RedisConsumer(self, subjects, durable, member)

    async def dead_letters(self, limit: int = 10_000) -> list[DeadLetter]:
        entries = await self.client.xrange(self.dlq_key, count=limit)
        return [msgspec.msgpack.decode(f[b"d"], type=DeadLetter) for _, f in entries]
