"""The bridge between a process's own bus and the transport: what leaves, what comes in.

**Out** (`Outlet`): `ExportSink` wraps the process's log sink; every envelope logged on an
exported topic is also queued for the wire, and `Outlet.flush()` publishes the queue as
batches of canonical bytes, a run per subject in publishing order, through `Resilient`
(retries with backoff and jitter, a timeout of 3x the observed p95, a circuit breaker).
A batch that cannot be published stays queued, in order, and is published by a later
flush: nothing is dropped. The queue is bounded (`max_pending`): past it, `ExportSink`
raises `Backpressure` so the producing loop stops before memory grows without bound.

**In** (`Inlet`): deliveries are admitted only through the process's `VerifyingGate`, in
one unit of work per fetched batch: the batch's envelopes are admitted (logged as
received), the bus delivers them and everything they cause, the ledger's transaction
commits, and only then is each delivery acked. So a consumer killed at any point either
committed the batch (the redelivery is a duplicate) or did not (the redelivery does it):
effects happen exactly once over at-least-once delivery.

- With a `WireCodec` (`bus.sealed_wire`), the confidential types travel sealed: the
  outlet seals them to their recipient roles' ML-KEM keys, the inlet opens them before
  the gate sees them, and a box it cannot open (or a sealed type sent in clear) is
  refused and logged like any other refusal.
- A delivery whose msg_id the ledger already holds with the same bytes is a duplicate of
  what was done: acked, counted, nothing logged. Different bytes under a logged msg_id go
  to the gate, which refuses and logs them as a replay.
- A refusal by the gate (bad signature, ACL, stale, replay) is final: logged as an
  `EnvelopeRejected` and acked; retrying cannot make it pass.
- A batch whose handling raises is rolled back (the ledger's transaction, the bus's and
  the gate's memory of it) and redone one delivery at a time; the one that raises again
  is naked with backoff, and on its `max_deliver`-th attempt goes to the dead-letter
  stream with the error. A delivery seen more than `max_redeliver` times without an
  answer (its consumers kept dying on it) goes there without being tried again.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import logging
import traceback
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, NamedTuple, Protocol

import msgspec

from tradeswarm.bus.inproc import EnvelopeSink, InProcessBus
from tradeswarm.bus.resilience import Backoff, CircuitOpen, Resilient
from tradeswarm.bus.sealed_wire import WireCodec, WireRefused
from tradeswarm.bus.signed import VerifyingGate
from tradeswarm.bus.transport import Consumer, Delivery, Transport, subject_of
from tradeswarm.core.errors import TradeswarmError
from tradeswarm.crypto.merkle import hash_leaf
from tradeswarm.model.envelope import Envelope, decode_head, encode_envelope

log = logging.getLogger(__name__)


class Backpressure(TradeswarmError):
    """The outlet holds max_pending envelopes the wire has not taken: stop producing."""


class Ledger(Protocol):
    """Where a consumer's effects are kept: its transaction and the msg_ids it logged."""

    def transaction(self) -> AbstractContextManager[None]: ...

    def logged_digest(self, msg_id: uuid.UUID) -> bytes | None:
        """The leaf hash (`crypto.merkle.hash_leaf`) of the logged envelope, or None."""
        ...


class MemoryLedger:
    """A ledger for a process without a store: the bus's sink, remembering digests."""

    def __init__(self) -> None:
        self.digests: dict[uuid.UUID, bytes] = {}
        self.logged: list[Envelope] = []
        self._open: list[Envelope] | None = None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        self._open = []
        try:
            yield
        except BaseException:
            self._open = None
            raise
        done, self._open = self._open, None
        for env in done:
            self.digests.setdefault(env.msg_id, _digest(env))
            self.logged.append(env)

    def append_events(self, envs: Sequence[Envelope]) -> list[int | None]:
        if self._open is not None:
            self._open.extend(envs)
        else:
            for env in envs:
                self.digests.setdefault(env.msg_id, _digest(env))
                self.logged.append(env)
        return [None] * len(envs)

    def logged_digest(self, msg_id: uuid.UUID) -> bytes | None:
        return self.digests.get(msg_id)


class ExportSink:
    """The log sink, plus a copy of every envelope on an exported topic for the outlet:
    staged while its unit of work is open, queued for the wire when it commits (`commit`),
    dropped when it rolls back (`rollback`), so only what the log kept goes out."""

    def __init__(self, inner: EnvelopeSink, exports: Iterable[str], max_pending: int) -> None:
        self._inner = inner
        self.exports = frozenset(exports)
        self.staged: list[Envelope] = []
        self.queue: collections.deque[Envelope] = collections.deque()
        self.max_pending = max_pending

    def append_events(self, envs: Sequence[Envelope]) -> list[int | None]:
        out = [e for e in envs if e.topic in self.exports]
        if len(self.queue) + len(self.staged) + len(out) > self.max_pending:
            raise Backpressure(f"{len(self.queue)} envelopes wait for the wire")
        seqs = self._inner.append_events(envs)
        self.staged.extend(out)
        return seqs

    def full(self) -> bool:
        """Whether the outlet holds as many envelopes as it may."""
        return len(self.queue) + len(self.staged) >= self.max_pending

    def commit(self) -> None:
        self.queue.extend(self.staged)
        self.staged = []

    def rollback(self) -> None:
        self.staged = []


class Outlet:
    """See the module docstring."""

    def __init__(
        self,
        transport: Transport,
        sink: ExportSink,
        resilient: Resilient,
        codec: WireCodec | None = None,
    ) -> None:
        """codec: seals the confidential types (`bus.sealed_wire`); None sends every
        envelope as its canonical bytes."""
        self._transport = transport
        self._encode = encode_envelope if codec is None else codec.encode
        self.sink = sink
        self.resilient = resilient
        self.sent = 0
        self.degraded = False

    async def flush(self) -> int:
        """Publish what is queued; return how many went out. On failure what did not go
        out stays queued (`degraded` says so) and the error is raised."""
        queue, sent = self.sink.queue, 0
        ns = self._transport.config.namespace
        while queue:
            topic = queue[0].topic
            run = [queue[i] for i in range(_run_length(queue, topic))]
            wire = [self._encode(e) for e in run]
            subject = subject_of(ns, topic)
            try:
                await self.resilient.call(functools.partial(self._transport.publish, subject, wire))
            except (CircuitOpen, TradeswarmError):
                self.degraded = True
                raise
            for _ in run:
                queue.popleft()
            sent += len(run)
        self.degraded = False
        self.sent += sent
        return sent


class InletStats(msgspec.Struct):
    admitted: int = 0
    refused: int = 0
    duplicates: int = 0
    retried: int = 0
    dead: int = 0
    batches: int = 0


class Inlet:
    """See the module docstring."""

    def __init__(
        self,
        consumer: Consumer,
        gate: VerifyingGate,
        bus: InProcessBus,
        ledger: Ledger,
        *,
        max_deliver: int = 3,
        max_redeliver: int = 20,
        backoff: Backoff | None = None,
        before: Callable[[], Any] | None = None,
        exports: ExportSink | None = None,
        codec: WireCodec | None = None,
    ) -> None:
        """before: called inside each unit of work before its envelopes are admitted
        (a process that must do something first in the unit, e.g. advance its clock).
        exports: the bus's sink when this process also publishes to the wire (what a
        unit publishes is queued for the outlet only once the unit commits)."""
        self._consumer = consumer
        self._gate = gate
        self._bus = bus
        self._ledger = ledger
        self._exports = exports
        self._codec = codec
        self._max_deliver = max_deliver
        self._max_redeliver = max_redeliver
        self._backoff = backoff or Backoff(base_s=0.1, cap_s=10.0)
        self._before = before
        self.stats = InletStats()

    async def pump(self, max_messages: int = 256, timeout_s: float = 0.5) -> int:
        """Fetch one batch and handle it (see the module docstring); return its size.
        While the outlet holds as many envelopes as it may (`Backpressure`), nothing is
        fetched: a consumer that cannot publish what it causes stops consuming."""
        if self._exports is not None and self._exports.full():
            return 0
        fetched = await self._consumer.fetch(max_messages, timeout_s)
        if not fetched:
            return 0
        fresh = await self._settle_known([_Opened(d, self._open(d)) for d in fetched])
        if fresh:
            try:
                await self._unit(fresh)
            except Backpressure:  # not the messages' fault: back later, none dead-lettered
                for item in fresh:
                    await item.delivery.nak(self._backoff.delay(1))
            except Exception:
                log.warning("a batch of %d failed; redone one at a time", len(fresh))
                for item in fresh:
                    await self._one(item)
            else:
                await self._consumer.ack_many([item.delivery for item in fresh])
        self.stats.batches += 1
        return len(fetched)

    def _open(self, delivery: Delivery) -> bytes | WireRefused:
        """The envelope's canonical bytes (opened from its sealed box), or why not."""
        if self._codec is None:
            return delivery.data
        topic = delivery.subject.split(".", 1)[1]
        try:
            return self._codec.open(delivery.data, topic)
        except WireRefused as err:
            return err

    async def _settle_known(self, items: Sequence[_Opened]) -> list[_Opened]:
        """Ack the duplicates of what is done; dead-letter what outlived max_redeliver."""
        fresh = []
        for item in items:
            delivery, wire = item
            held = None if isinstance(wire, WireRefused) else _logged(self._ledger, wire)
            if held is not None and isinstance(wire, bytes) and held == hash_leaf(wire):
                self.stats.duplicates += 1
                await delivery.ack()
            elif delivery.attempt > self._max_redeliver:
                self.stats.dead += 1
                await delivery.dead_letter(
                    f"not acked after {delivery.attempt - 1} deliveries (consumers died on it)"
                )
            else:
                fresh.append(item)
        return fresh

    async def _unit(self, items: Sequence[_Opened]) -> None:
        admitted: list[Envelope] = []
        self._bus.begin_unit()
        try:
            with self._ledger.transaction():
                if self._before is not None:
                    self._before()
                wires = []
                for delivery, wire in items:
                    if isinstance(wire, WireRefused):
                        self._gate.refuse_wire(delivery.data, str(wire))
                    else:
                        wires.append(wire)
                got = self._gate.receive_many_bytes(wires)
                admitted = [env for env in got if env is not None]
                await self._bus.drain()
        except BaseException:
            self._bus.rollback_unit()
            if self._exports is not None:
                self._exports.rollback()
            for env in admitted:
                self._gate.forget(env)
            raise
        self._bus.commit_unit()
        if self._exports is not None:
            self._exports.commit()
        self.stats.admitted += len(admitted)
        self.stats.refused += len(items) - len(admitted)

    async def _one(self, item: _Opened) -> None:
        delivery = item.delivery
        try:
            await self._unit([item])
        except Backpressure:
            await delivery.nak(self._backoff.delay(1))
        except Exception as err:
            reason = f"{type(err).__name__}: {err}"
            if delivery.attempt >= self._max_deliver:
                self.stats.dead += 1
                detail = "".join(traceback.format_exception_only(err)).strip()
                await delivery.dead_letter(f"{reason} (attempt {delivery.attempt}); {detail}")
            else:
                self.stats.retried += 1
                await delivery.nak(self._backoff.delay(delivery.attempt))
        else:
            await delivery.ack()


def _logged(ledger: Ledger, wire: bytes) -> bytes | None:
    head = decode_head(wire)
    return None if head is None else ledger.logged_digest(head.msg_id)  # else the gate refuses


class _Opened(NamedTuple):
    delivery: Delivery
    wire: bytes | WireRefused


def _digest(env: Envelope) -> bytes:
    return hash_leaf(encode_envelope(env))


def _run_length(queue: collections.deque[Envelope], topic: str, cap: int = 1_000) -> int:
    n = 0
    for env in queue:
        if env.topic != topic or n >= cap:
            break
        n += 1
    return n
