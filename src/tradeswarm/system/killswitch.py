"""The kill switch's state, a projection of its log entries.

`KillSwitchState` subscribes to the activation and resume topics and sets the store's
flag (which the risk manager and the execution agent read before every trade) in the
unit of work that logs the entry, so the flag is always what the last logged activation
or resume says; the verifier rebuilds it the same way.
"""

from __future__ import annotations

from tradeswarm.bus.inproc import InProcessBus
from tradeswarm.bus.topics import KILLSWITCH, RESUME, Role
from tradeswarm.model.envelope import Envelope
from tradeswarm.model.messages import KillSwitchActivated, TradingResumed
from tradeswarm.store import Store


class KillSwitchState:
    """Keeps the store's kill-switch flag equal to the last logged command."""

    def __init__(self, bus: InProcessBus, store: Store) -> None:
        self.store = store
        bus.subscribe(KILLSWITCH, self.on_activated)
        bus.subscribe(RESUME, self.on_resumed)

    async def on_activated(self, env: Envelope) -> None:
        command = env.payload
        assert isinstance(command, KillSwitchActivated)
        self.store.set_killswitch(True, f"{env.sender}: {command.reason}", env.ts_ns)

    async def on_resumed(self, env: Envelope) -> None:
        assert isinstance(env.payload, TradingResumed)
        if env.sender.startswith(f"{Role.HUMAN}:"):  # the topic's ACL says so too
            self.store.set_killswitch(False, f"{env.sender}: resumed", env.ts_ns)
