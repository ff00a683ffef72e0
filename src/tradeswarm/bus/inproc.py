"""The in-process async bus: ACL on publish, log before delivery, dedup and TTL on delivery.

Delivery is by runs: `drain()` takes the maximal run of consecutive queued envelopes on one
topic (at most `max_batch`), drops the duplicates and the expired ones envelope by envelope,
and hands the run to each of the topic's subscribers in the order they subscribed: a batch
subscriber (`subscribe_batch`) gets the run in one call, a per-message subscriber
(`subscribe`) gets its envelopes one by one. What a handler publishes goes to the tail of
the queue, after the run, as it would have one envelope at a time; so as long as one
subscriber of a topic at most publishes or changes what the others read (true of every
topic the swarm has), the order of effects is exactly the per-message FIFO order.
"""

from __future__ import annotations

import collections
import hashlib
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NamedTuple, Protocol

import msgspec

from tradeswarm.bus.identity import Identity
from tradeswarm.bus.signing import BusSigning
from tradeswarm.bus.topics import REJECTIONS, Role, Topic
from tradeswarm.core.clock import Clock
from tradeswarm.core.errors import AccessDenied, InvalidInput
from tradeswarm.core.ids import derived_id
from tradeswarm.crypto.identity import AgentIdentity
from tradeswarm.model.enums import MessageIntent
from tradeswarm.model.envelope import Envelope, decode_envelope, encode_envelope
from tradeswarm.model.messages import AnyMessage, EnvelopeRejected

Handler = Callable[[Envelope], Awaitable[None]]
BatchHandler = Callable[[list[Envelope]], Awaitable[None]]
BUS_IDENTITY = Identity("bus", Role.SYSTEM)
#: The default bound on a delivered run: a burst's latency grows with its size.
MAX_BATCH = 1_000


class Outgoing(NamedTuple):
    """One message of a burst: its topic, payload, idempotency key and cause."""

    topic: Topic[Any]
    payload: AnyMessage
    key: str
    cause: Envelope | None = None
    intent: MessageIntent = MessageIntent.EVENT


class EnvelopeSink(Protocol):
    """Where every published envelope is appended (the log)."""

    def append_events(self, envs: Sequence[Envelope]) -> list[int | None]: ...


class NullSink:
    def append_events(self, envs: Sequence[Envelope]) -> list[int | None]:
        return [None] * len(envs)


class BusStats:
    __slots__ = ("delivered", "duplicates", "expired", "published")

    def __init__(self) -> None:
        self.published = 0
        self.delivered = 0
        self.duplicates = 0
        self.expired = 0


class Publisher:
    """A handle bound to one identity: the only way that identity can publish."""

    def __init__(
        self, bus: InProcessBus, identity: Identity, keys: AgentIdentity | None = None
    ) -> None:
        if keys is not None and keys.principal != str(identity):
            raise AccessDenied(f"keys of {keys.principal} cannot sign for {identity}")
        self._bus = bus
        self.identity = identity
        self.keys = keys

    def publish(
        self,
        topic: Topic[Any],
        payload: AnyMessage,
        *,
        key: str,
        cause: Envelope | None = None,
        intent: MessageIntent = MessageIntent.EVENT,
    ) -> Envelope:
        """Wrap payload in an envelope and publish it; key makes msg_id reproducible."""
        return self._bus.publish_as(
            self.identity, topic, payload, key=key, cause=cause, intent=intent, keys=self.keys
        )

    def publish_many(
        self,
        topic: Topic[Any],
        items: Sequence[tuple[AnyMessage, str, Envelope | None]],
        *,
        intent: MessageIntent = MessageIntent.EVENT,
    ) -> list[Envelope]:
        """Publish a burst on one topic: (payload, key, cause) per message, in order; the
        burst is signed in one call (``BusSigning.sign_many``)."""
        return self._bus.publish_many_as(self.identity, topic, items, intent=intent, keys=self.keys)

    def publish_burst(self, items: Sequence[Outgoing]) -> list[Envelope]:
        """Publish a burst over any topics, in order: checked whole, signed in one call."""
        return self._bus.publish_burst_as(self.identity, items, keys=self.keys)


class InProcessBus:
    """Typed topics in one process; delivery is FIFO and deterministic via `drain()`."""

    def __init__(
        self,
        clock: Clock,
        sink: EnvelopeSink | None = None,
        dedup_window: int = 100_000,
        group_log_writes: bool = False,
        signing: BusSigning | None = None,
        random_nonces: bool = False,
        max_batch: int = MAX_BATCH,
    ):
        """With group_log_writes, envelopes published during a `drain()` are appended to
        the sink in one batch when it ends; use it only inside a store unit of work, so
        the log entries commit atomically with the effects of their delivery.

        With signing, the policy's message types are signed by their publisher. Nonces
        derive from the msg_id (a replay rebuilds byte-identical envelopes) unless
        random_nonces: envelopes that cross a process boundary take os.urandom(16).

        max_batch bounds the runs `drain()` delivers (see the module docstring).
        """
        if max_batch < 1:
            raise InvalidInput("max_batch", max_batch, "must be at least 1")
        self._clock = clock
        self._max_batch = max_batch
        self.signing = signing
        self._random_nonces = random_nonces
        self._sink: EnvelopeSink = sink or NullSink()
        self._group = group_log_writes
        self._unlogged: list[Envelope] = []
        self._subs: dict[str, list[tuple[Any, bool]]] = collections.defaultdict(list)
        self._queue: collections.deque[Envelope] = collections.deque()
        self._seen: collections.OrderedDict[Any, None] = collections.OrderedDict()
        self._window = dedup_window
        self.stats = BusStats()
        self._journal: list[Any] | None = None  # msg_ids first seen in the open unit
        self.timing: dict[str, float] | None = None
        """Set to a dict to have `drain` add up the seconds each handler (by qualified
        name) and the log append take: a benchmark's per-stage shares."""

    def attach(self, identity: Identity, keys: AgentIdentity | None = None) -> Publisher:
        """A publisher for identity; it signs with keys, or the keys signing holds for it."""
        if keys is None and self.signing is not None:
            keys = self.signing.keys_for(identity)
        return Publisher(self, identity, keys)

    def subscribe(self, topic: Topic[Any], handler: Handler) -> None:
        """Deliver topic's envelopes to handler one at a time."""
        self._subs[topic.name].append((handler, False))

    def subscribe_batch(self, topic: Topic[Any], handler: BatchHandler) -> None:
        """Deliver topic's envelopes to handler a run at a time (a list, in FIFO order)."""
        self._subs[topic.name].append((handler, True))

    def publish_as(
        self,
        sender: Identity,
        topic: Topic[Any],
        payload: AnyMessage,
        *,
        key: str,
        cause: Envelope | None,
        intent: MessageIntent,
        keys: AgentIdentity | None = None,
    ) -> Envelope:
        if sender.role not in topic.publishers:
            refused = self._envelope(sender, topic, payload, key, cause, intent)
            self._refuse(refused, "sender's role may not publish on this topic", "at publish")
            raise AccessDenied(f"{sender} may not publish on {topic.name}")
        _check_type(topic, payload)
        env = self._envelope(sender, topic, payload, key, cause, intent)
        if self.signing is not None:
            env = self.signing.sign(env, keys)
        env = self._snapshot(env)
        if self._group:
            self._unlogged.append(env)
        else:
            self._sink.append_events([env])
        self._queue.append(env)
        self.stats.published += 1
        return env

    def publish_many_as(
        self,
        sender: Identity,
        topic: Topic[Any],
        items: Sequence[tuple[AnyMessage, str, Envelope | None]],
        *,
        intent: MessageIntent,
        keys: AgentIdentity | None = None,
    ) -> list[Envelope]:
        """``publish_as`` for a burst on one topic (see ``publish_burst_as``)."""
        burst = [Outgoing(topic, p, k, c, intent) for p, k, c in items]
        return self.publish_burst_as(sender, burst, keys=keys)

    def publish_burst_as(
        self, sender: Identity, items: Sequence[Outgoing], *, keys: AgentIdentity | None = None
    ) -> list[Envelope]:
        """``publish_as`` for a burst: every message is checked (ACL, type) before any is
        published, so a refused burst publishes nothing (but the refusal of its first
        refused message); then the burst is signed in one ``sign_many`` call, snapshotted,
        logged and queued in order."""
        if not items:
            return []
        for item in items:
            if sender.role not in item.topic.publishers:
                refused = self._envelope(
                    sender, item.topic, item.payload, item.key, item.cause, item.intent
                )
                self._refuse(refused, "sender's role may not publish on this topic", "at publish")
                raise AccessDenied(f"{sender} may not publish on {item.topic.name}")
        for item in items:
            _check_type(item.topic, item.payload)
        envs = [self._envelope(sender, t, p, k, c, i) for t, p, k, c, i in items]
        if self.signing is not None:
            envs = self.signing.sign_many(envs, keys)
        envs = [self._snapshot(env) for env in envs]
        if self._group:
            self._unlogged.extend(envs)
        else:
            self._sink.append_events(envs)
        self._queue.extend(envs)
        self.stats.published += len(envs)
        return envs

    def _envelope(
        self,
        sender: Identity,
        topic: Topic[Any],
        payload: AnyMessage,
        key: str,
        cause: Envelope | None,
        intent: MessageIntent,
    ) -> Envelope:
        now = self._clock.now_ns()
        msg_id = derived_id(now, topic.name, sender.name, key)
        return Envelope(
            msg_id=msg_id,
            type=type(payload).__name__,
            topic=topic.name,
            correlation_id=cause.correlation_id if cause else msg_id,
            causation_id=cause.msg_id if cause else None,
            ttl_ms=topic.ttl_ms,
            sender=str(sender),
            intent=intent,
            idempotency_key=key,
            ts_ns=now,
            nonce=os.urandom(16)
            if self._random_nonces
            else hashlib.sha256(msg_id.bytes).digest()[:16],
            payload=payload,
        )

    async def drain(self) -> int:
        """Deliver queued envelopes (and what handlers publish) until the queue is empty,
        a run of one topic at a time (see the module docstring)."""
        count = 0
        while self._queue:
            run = self._take_run()
            if not run:
                continue
            for handler, batch in self._subs.get(run[0].topic, ()):
                started = time.perf_counter()
                if batch:
                    await handler(run)
                else:
                    for env in run:
                        await handler(env)
                if self.timing is not None:
                    name = getattr(handler, "__qualname__", repr(handler))
                    self.timing[name] = self.timing.get(name, 0.0) + time.perf_counter() - started
            self.stats.delivered += len(run)
            count += len(run)
        started = time.perf_counter()
        self.flush()
        if self.timing is not None:
            self.timing["log append"] = self.timing.get("log append", 0.0) + (
                time.perf_counter() - started
            )
        return count

    def _take_run(self) -> list[Envelope]:
        """Pop the next run: consecutive envelopes on the first one's topic, at most
        max_batch of them, less the duplicates and the expired."""
        queue, run = self._queue, []
        topic = queue[0].topic
        for _ in range(self._max_batch):
            env = queue.popleft()
            if self._is_duplicate(env):
                pass
            elif env.expired(self._clock.now_ns()):
                self.stats.expired += 1
            else:
                run.append(env)
            if not queue or queue[0].topic != topic:
                break
        return run

    def flush(self) -> None:
        """Append the envelopes published since the last flush to the sink, in order."""
        if self._unlogged:
            batch, self._unlogged = self._unlogged, []
            self._sink.append_events(batch)

    def begin_unit(self) -> None:
        """Start a unit of work whose delivery `rollback_unit` can undo (the queue must be
        empty: what the unit delivers is what it admits or publishes)."""
        if self._queue or self._unlogged:
            raise InvalidInput("bus", len(self._queue), "a unit begins with an empty queue")
        self._journal = []

    def commit_unit(self) -> None:
        self._journal = None

    def rollback_unit(self) -> None:
        """Forget what the failed unit queued, logged-to-be and delivered, so that its
        envelopes are delivered again when it is redone (its store transaction rolled
        back, nothing of it happened)."""
        for msg_id in self._journal or ():
            self._seen.pop(msg_id, None)
        self._journal = None
        self._queue.clear()
        self._unlogged.clear()

    def _is_duplicate(self, env: Envelope) -> bool:
        if env.msg_id in self._seen:
            self.stats.duplicates += 1
            return True
        self._seen[env.msg_id] = None
        if self._journal is not None:
            self._journal.append(env.msg_id)
        if len(self._seen) > self._window:
            self._seen.popitem(last=False)
        return False

    def _snapshot(self, env: Envelope) -> Envelope:
        """The envelope as its canonical bytes decode: what is signed, logged and delivered
        is one immutable copy, never an object its publisher still holds (and could alter
        after publishing), and it passes the message's own field checks. A message that
        does not is refused, the refusal logged."""
        try:
            return decode_envelope(encode_envelope(env))
        except (InvalidInput, msgspec.ValidationError, msgspec.DecodeError, TypeError) as err:
            self._refuse(env, "message fails its own field checks", str(err))
            raise InvalidInput(f"{env.type}", env.msg_id, str(err)) from err

    def _refuse(self, env: Envelope, reason: str, detail: str) -> None:
        """Log that env was refused at publish, as an EnvelopeRejected record from the bus
        itself (the envelope is never logged or delivered)."""
        try:
            digest = hashlib.sha256(encode_envelope(env)).hexdigest()
        except (TypeError, ValueError):  # not even encodable: hash what it claims to be
            digest = hashlib.sha256(repr(env).encode()).hexdigest()
        record = EnvelopeRejected(
            msg_id=env.msg_id,
            type=env.type,
            topic=env.topic,
            sender=env.sender,
            reason=reason,
            detail=f"{env.sender} on {env.topic}: {detail}"[:500],
            envelope_sha256=digest,
            ts_event=env.ts_ns,
        )
        self.publish_as(
            BUS_IDENTITY, REJECTIONS, record, key=digest, cause=None, intent=MessageIntent.EVENT
        )

    def inject(self, env: Envelope) -> None:
        """Queue an envelope received from elsewhere for delivery, without logging it
        (a replay of the log itself)."""
        self._queue.append(env)

    def admit(self, env: Envelope) -> None:
        """Log and queue an envelope admitted from outside the process (by a
        VerifyingGate): it lands in the log exactly as received."""
        if self._group:
            self._unlogged.append(env)
        else:
            self._sink.append_events([env])
        self._queue.append(env)


def _check_type(topic: Topic[Any], payload: AnyMessage) -> None:
    if not isinstance(payload, topic.message_type):
        raise TypeError(
            f"{topic.name} carries {topic.message_type.__name__}, not {type(payload).__name__}"
        )
