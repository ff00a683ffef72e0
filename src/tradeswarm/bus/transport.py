"""The wire between processes: durable, at-least-once batches of canonical envelope bytes.

A `Transport` carries opaque bytes (an envelope's canonical encoding) on subjects named
after the swarm's topics; it knows nothing of signatures or ACLs: the receiving process
admits what it reads only through its `VerifyingGate` (`bus.remote`). Three backends keep
the same contract (tests/unit/bus/test_transport_contract.py holds each to it):

- `memory`, in one process (tests, and the reference the others are held to);
- `nats`, NATS JetStream (`bus.nats_transport`): a stream per topic family, durable pull
  consumers, explicit ack, nak with a delay, term;
- `redis`, Redis Streams (`bus.redis_transport`): a stream per topic, consumer groups,
  pending entries reclaimed with XAUTOCLAIM once idle for `ack_wait_s`.

The contract, per consumer group (`durable`):

- `publish(subject, batch)` returns once the server holds every message of the batch;
- `fetch` hands out each message to one member of the group; a message not acked within
  `ack_wait_s` (its consumer crashed or hung) is handed out again, `attempt` counting up;
- `nak(delay_s)` hands it out again after the delay; `ack` never again;
- `dead_letter(reason)` moves it to the dead-letter stream with the reason and the
  attempts it took, and never hands it out again (`dead_letters()` reads them back).

What to do on the `max_deliver`-th failure, or the `max_redeliver`-th delivery without an
answer, is the consumer's decision (`bus.remote`), so that the dead-letter record always
says why; the servers' own redelivery limits are set above it as a backstop.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol

import msgspec

from tradeswarm.core.errors import InvalidInput, TradeswarmError

#: The backends `open_transport` knows.
BACKENDS = ("memory", "nats", "redis")
_NAMESPACE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_TOPIC = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")


class TransportConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """`[bus]` in the swarm's config: which backend, where, and its delivery limits."""

    backend: str = "memory"
    url: str = ""
    namespace: str = "ts"
    """Prefix of every stream and subject, so that swarms can share one server."""
    ack_wait_s: float = 5.0
    """A message not acked this long after it was handed out is handed out again."""
    max_deliver: int = 3
    """Attempts before a message whose handling keeps failing (raising) goes to the
    dead-letter stream, with the error."""
    max_redeliver: int = 20
    """Deliveries before a message that never got an answer (its consumers kept dying
    or hanging on it) goes to the dead-letter stream. Kept well above max_deliver: a
    crash redelivers every message its consumer held, not only the one that caused it."""
    max_in_flight: int = 1_000
    """At most this many messages are fetched and not yet acked per consumer."""
    connect_timeout_s: float = 5.0

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise InvalidInput("bus.backend", self.backend, f"must be one of {BACKENDS}")
        if self.backend != "memory" and not self.url:
            raise InvalidInput("bus.url", self.url, f"the {self.backend} backend needs a url")
        if not _NAMESPACE.match(self.namespace):
            raise InvalidInput("bus.namespace", self.namespace, "must match [a-z][a-z0-9_]*")
        for name in ("ack_wait_s", "connect_timeout_s"):
            if not getattr(self, name) > 0:
                raise InvalidInput(f"bus.{name}", getattr(self, name), "must be positive")
        if self.max_deliver < 1:
            raise InvalidInput("bus.max_deliver", self.max_deliver, "must be at least 1")
        if self.max_redeliver < self.max_deliver:
            raise InvalidInput("bus.max_redeliver", self.max_redeliver, "must be >= max_deliver")
        if self.max_in_flight < 1:
            raise InvalidInput("bus.max_in_flight", self.max_in_flight, "must be at least 1")


class TransportUnavailable(TradeswarmError):
    """The bus server cannot be reached (at connect, or past every retry)."""


class DeadLetter(msgspec.Struct, frozen=True):
    """A message taken off its stream for good: its bytes and why."""

    subject: str
    data: bytes
    reason: str
    attempts: int
    ts_ns: int


class Delivery(Protocol):
    """One handing-out of a message to a consumer."""

    @property
    def subject(self) -> str: ...

    @property
    def data(self) -> bytes: ...

    @property
    def attempt(self) -> int:
        """1 the first time the group is handed this message, then 2, 3, ..."""
        ...

    async def ack(self) -> None: ...

    async def nak(self, delay_s: float) -> None: ...

    async def dead_letter(self, reason: str) -> None: ...


class Consumer(Protocol):
    """A member of a durable consumer group over some subjects."""

    async def fetch(self, max_messages: int, timeout_s: float) -> list[Delivery]:
        """Up to max_messages deliveries; fewer (or none) once timeout_s has passed."""
        ...

    async def ack_many(self, deliveries: Sequence[Delivery]) -> None:
        """Ack each of deliveries (its own), in as few round trips as the server allows."""
        ...

    async def close(self) -> None: ...


class Transport(Protocol):
    """See the module docstring."""

    config: TransportConfig

    async def connect(self) -> None: ...

    async def close(self) -> None: ...

    async def publish(self, subject: str, batch: Sequence[bytes]) -> None: ...

    async def consumer(self, subjects: Sequence[str], durable: str, member: str) -> Consumer:
        """Join group durable over subjects as member (its name in the group)."""
        ...

    async def dead_letters(self, limit: int = 10_000) -> list[DeadLetter]: ...


def subject_of(namespace: str, topic: str) -> str:
    """The wire subject of a topic: `<namespace>.<topic name>`."""
    if not _TOPIC.match(topic):
        raise InvalidInput("topic", topic, "must be dot-separated [a-z][a-z0-9_]* words")
    return f"{namespace}.{topic}"


def family_of(subject: str) -> str:
    """The topic family of a subject (its word after the namespace): one stream each."""
    parts = subject.split(".")
    if len(parts) < 3:
        raise InvalidInput("subject", subject, "must be <namespace>.<family>.<...>")
    return parts[1]


def check_durable(durable: str) -> str:
    if not _NAMESPACE.match(durable.replace("-", "_")):
        raise InvalidInput("durable", durable, "must match [a-z][a-z0-9_-]*")
    return durable
