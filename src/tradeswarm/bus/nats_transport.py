"""NATS JetStream behind `bus.transport`: a stream per topic family, durable pull consumers.

- Streams: `<NS>_<FAMILY>` (file storage) takes `<ns>.<family>.>`; `<NS>_DLQ` takes the
  dead letters on `<ns>.dlq.<family>`. Each message carries `Nats-Msg-Id` = SHA-256 of its
  bytes, so a publisher that retries after a lost acknowledgement stores nothing twice
  (within the stream's duplicate window, 2 minutes).
- Consumers: one durable pull consumer per (group, subject), named `<group>__<subject>`
  (one filter subject each, so NATS 2.9 servers serve them), explicit ack, `ack_wait`,
  `max_ack_pending` = `max_in_flight` (the server stops handing out more: backpressure),
  `max_deliver` two above our `max_redeliver` as a backstop. While a `fetch` waits, a
  task per subject long-polls for what it still wants into one bounded queue.
- A nak takes its delay (`Msg.nak(delay=)`); a dead letter is published to the DLQ stream,
  acknowledged by the server, and only then the original is terminated.

The client reconnects on its own (every 0.5 s, without end); a fetch loop that meets an
error waits and fetches again, and what was handed out and never acked comes back after
`ack_wait`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Sequence
from typing import Any

import msgspec
import nats
from nats.js import api
from nats.js.errors import NotFoundError

from tradeswarm.bus.transport import (
    Consumer,
    DeadLetter,
    Delivery,
    TransportConfig,
    TransportUnavailable,
    check_durable,
    family_of,
)
from tradeswarm.core.errors import InvalidInput

log = logging.getLogger(__name__)
_DUPLICATE_WINDOW_S = 120.0
_RETRY_S = 0.2


class NatsDelivery:
    __slots__ = ("_msg", "_transport", "attempt", "data", "subject")

    def __init__(self, transport: NatsTransport, msg: Any) -> None:
        self._transport = transport
        self._msg = msg
        self.subject: str = msg.subject
        self.data: bytes = msg.data
        self.attempt: int = int(msg.metadata.num_delivered)

    async def ack(self) -> None:
        await self._msg.ack()

    async def nak(self, delay_s: float) -> None:
        await self._msg.nak(delay=max(0.0, delay_s))

    async def dead_letter(self, reason: str) -> None:
        await self._transport.publish_dead(self.subject, self.data, reason, self.attempt)
        await self._msg.term()


class NatsConsumer:
    """Pulls only on demand: while a `fetch` waits, a task per subject long-polls for
    what it still wants; between fetches nothing is pulled, so no message ages in a
    local queue while its ack_wait runs (it would come back as a redelivery)."""

    def __init__(self, subs: list[Any], limit: int, ack_wait_s: float) -> None:
        self._queue: asyncio.Queue[tuple[float, Any]] = asyncio.Queue(maxsize=limit)
        self._stale_s = 0.8 * ack_wait_s
        self._poll_s = min(0.5, ack_wait_s / 4)
        self._want = 0
        self._demand = asyncio.Event()
        self._tasks = [asyncio.create_task(self._pull(sub)) for sub in subs]
        self._subs = subs
        self._transport: NatsTransport | None = None

    async def _pull(self, sub: Any) -> None:
        while True:
            await self._demand.wait()
            want = min(self._want - self._queue.qsize(), self._queue.maxsize - self._queue.qsize())
            if want <= 0:
                await asyncio.sleep(0.001)
                continue
            try:
                msgs = await sub.fetch(batch=min(want, 256), timeout=self._poll_s)
            except nats.errors.TimeoutError:
                continue
            except asyncio.CancelledError:
                raise
            except Exception as err:  # reconnecting, server restarting: wait, fetch again
                log.debug("fetch failed: %s", err)
                await asyncio.sleep(_RETRY_S)
                continue
            pulled = time.monotonic()
            for msg in msgs:
                await self._queue.put((pulled, msg))

    async def fetch(self, max_messages: int, timeout_s: float) -> list[Delivery]:
        assert self._transport is not None
        out: list[Delivery] = []
        deadline = time.monotonic() + timeout_s
        self._want = max_messages
        self._demand.set()
        try:
            while not out:
                left = deadline - time.monotonic()
                try:
                    item = await asyncio.wait_for(self._queue.get(), max(0.0, left))
                except TimeoutError:
                    return out
                self._take(item, out)
            while len(out) < max_messages and not self._queue.empty():
                self._take(self._queue.get_nowait(), out)
            return out
        finally:
            self._want = 0
            self._demand.clear()

    def _take(self, item: tuple[float, Any], out: list[Delivery]) -> None:
        """Hand out a prefetched message, unless it waited in the queue so long that the
        server is about to (or did) hand it out again: then it is left to come back."""
        pulled, msg = item
        assert self._transport is not None
        if time.monotonic() - pulled < self._stale_s:
            out.append(NatsDelivery(self._transport, msg))

    async def ack_many(self, deliveries: Sequence[Delivery]) -> None:
        for delivery in deliveries:  # an ack is a publish: no round trip each
            await delivery.ack()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for sub in self._subs:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()


class NatsTransport:
    """See the module docstring."""

    def __init__(self, config: TransportConfig) -> None:
        if config.backend != "nats":
            raise InvalidInput("bus.backend", config.backend, "NatsTransport needs 'nats'")
        self.config = config
        self._nc: Any = None
        self._js: Any = None
        self._streams: set[str] = set()

    async def connect(self) -> None:
        try:
            self._nc = await asyncio.wait_for(
                nats.connect(
                    self.config.url,
                    connect_timeout=self.config.connect_timeout_s,
                    allow_reconnect=True,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=0.5,
                    name="tradeswarm",
                    error_cb=_quiet,
                ),
                self.config.connect_timeout_s,
            )
        except Exception as err:
            raise TransportUnavailable(f"bus.url {self.config.url!r}: {err}") from err
        self._js = self._nc.jetstream(timeout=self.config.connect_timeout_s)

    async def close(self) -> None:
        if self._nc is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._nc.close(), self.config.connect_timeout_s)
            self._nc = None

    def _stream(self, family: str) -> str:
        return f"{self.config.namespace}_{family}".upper()

    async def _ensure_stream(self, family: str) -> str:
        name = self._stream(family)
        if name not in self._streams:
            subjects = [f"{self.config.namespace}.{family}.>"]
            try:
                await self._js.stream_info(name)
            except NotFoundError:
                await self._js.add_stream(
                    name=name,
                    subjects=subjects,
                    storage=api.StorageType.FILE,
                    duplicate_window=_DUPLICATE_WINDOW_S,
                )
            self._streams.add(name)
        return name

    async def publish(self, subject: str, batch: Sequence[bytes]) -> None:
        stream = await self._ensure_stream(family_of(subject))
        pending = [
            await self._js.publish_async(
                subject, data, stream=stream, headers={"Nats-Msg-Id": _msg_id(data)}
            )
            for data in batch
        ]
        await asyncio.wait_for(asyncio.gather(*pending), self.config.ack_wait_s)

    async def consumer(self, subjects: Sequence[str], durable: str, member: str) -> Consumer:
        check_durable(durable)
        subs = []
        for subject in subjects:
            stream = await self._ensure_stream(family_of(subject))
            name = f"{durable}__{subject.replace('.', '_')}".replace("-", "_")
            config = api.ConsumerConfig(
                durable_name=name,
                filter_subject=subject,
                ack_policy=api.AckPolicy.EXPLICIT,
                ack_wait=self.config.ack_wait_s,
                max_deliver=self.config.max_redeliver + 2,
                max_ack_pending=self.config.max_in_flight,
                deliver_policy=api.DeliverPolicy.ALL,
            )
            subs.append(
                await self._js.pull_subscribe(subject, durable=name, stream=stream, config=config)
            )
        consumer = NatsConsumer(subs, self.config.max_in_flight, self.config.ack_wait_s)
        consumer._transport = self
        return consumer

    async def publish_dead(self, subject: str, data: bytes, reason: str, attempts: int) -> None:
        family = family_of(subject)
        stream = await self._ensure_stream("dlq")
        record = DeadLetter(subject, data, reason[:2000], attempts, time.time_ns())
        await self._js.publish(
            f"{self.config.namespace}.dlq.{family}",
            msgspec.msgpack.encode(record),
            stream=stream,
            headers={"Nats-Msg-Id": _msg_id(data) + ":dead"},
        )

    async def dead_letters(self, limit: int = 10_000) -> list[DeadLetter]:
        stream = await self._ensure_stream("dlq")
        info = await self._js.stream_info(stream)
        out: list[DeadLetter] = []
        if not info.state.messages:
            return out
        seq = max(1, info.state.first_seq)
        while seq <= info.state.last_seq and len(out) < limit:
            with contextlib.suppress(NotFoundError):
                raw = await self._js.get_msg(stream, seq)
                out.append(msgspec.msgpack.decode(raw.data, type=DeadLetter))
            seq += 1
        return out


async def _quiet(err: Exception) -> None:
    """The client's errors while it reconnects: logged at debug, not printed per attempt."""
    log.debug("nats: %s", err)


def _msg_id(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
