"""The base every agent shares: an identity, a publisher handle, a clock; and the outbox a
burst handler publishes through."""

from __future__ import annotations

from typing import Any, ClassVar

from tradeswarm.bus.identity import Identity
from tradeswarm.bus.inproc import InProcessBus, Outgoing, Publisher
from tradeswarm.bus.topics import Role, Topic
from tradeswarm.core.clock import Clock
from tradeswarm.model.envelope import Envelope
from tradeswarm.model.messages import AnyMessage


class Agent:
    """An agent talks only through the bus: it holds a publisher bound to its identity."""

    role: ClassVar[Role]

    def __init__(self, name: str, bus: InProcessBus, clock: Clock) -> None:
        self.identity = Identity(name, self.role)
        self.out: Publisher = bus.attach(self.identity)
        self.clock = clock
        self.subscribe(bus)

    def subscribe(self, bus: InProcessBus) -> None:
        """Register this agent's handlers; agents that only publish keep the default."""


class Outbox:
    """The messages a burst handler publishes, held in the order it made them and
    published in one burst (`Publisher.publish_burst`: checked whole, signed in one call).

    The bus queues what is published for delivery after the run being handled, so holding
    a burst's messages until its handler is done changes nothing a subscriber sees, as
    long as the clock does not move in between (a handler that waits flushes first).
    """

    __slots__ = ("_items", "_publisher")

    def __init__(self, publisher: Publisher) -> None:
        self._publisher = publisher
        self._items: list[Outgoing] = []

    def __len__(self) -> int:
        return len(self._items)

    def add(
        self, topic: Topic[Any], payload: AnyMessage, *, key: str, cause: Envelope | None = None
    ) -> None:
        self._items.append(Outgoing(topic, payload, key, cause))

    def flush(self) -> list[Envelope]:
        """Publish what is held, in order; return the envelopes."""
        items, self._items = self._items, []
        return self._publisher.publish_burst(items)
