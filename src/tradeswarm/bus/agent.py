"""The base every agent shares: an identity, a publisher handle, a clock."""

from __future__ import annotations

from typing import ClassVar

from tradeswarm.bus.identity import Identity
from tradeswarm.bus.inproc import InProcessBus, Publisher
from tradeswarm.bus.topics import Role
from tradeswarm.core.clock import Clock


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
