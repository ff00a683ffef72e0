"""OversightDesk: relays human decisions onto the bus and auto-denies at the timeout."""

from __future__ import annotations

from collections.abc import Callable

from tradeswarm.bus.agent import Agent
from tradeswarm.bus.inproc import InProcessBus
from tradeswarm.bus.topics import OVERSIGHT_DECISIONS, OVERSIGHT_REQUESTS, Role
from tradeswarm.core.clock import Clock
from tradeswarm.model.enums import OversightStatus
from tradeswarm.model.envelope import Envelope
from tradeswarm.model.messages import OversightDecided, OversightRequested
from tradeswarm.store import OversightRecord, Store

AUTO_DENY = "system:auto-deny"
Notifier = Callable[[OversightRequested], None]


class OversightDesk(Agent):
    """Watches pending requests: tells the notifier of each new one, and answers every
    request still pending at its timeout with an auto-denial. Humans answer through
    their own signed envelopes (oversight.service); the risk manager applies whichever
    answer comes first, in the unit of work that logs it."""

    role = Role.OVERSIGHT

    def __init__(
        self,
        name: str,
        bus: InProcessBus,
        clock: Clock,
        *,
        store: Store,
        notify: Notifier | None = None,
    ) -> None:
        self.store = store
        self.notify = notify
        super().__init__(name, bus, clock)

    def subscribe(self, bus: InProcessBus) -> None:
        bus.subscribe(OVERSIGHT_REQUESTS, self.on_request)

    async def on_request(self, env: Envelope) -> None:
        assert isinstance(env.payload, OversightRequested)
        if self.notify is not None:
            self.notify(env.payload)

    def tick(self) -> int:
        """Auto-deny every pending request whose timeout has passed; return how many."""
        now = self.clock.now_ns()
        denied = 0
        for record in self.store.list_oversight(OversightStatus.PENDING):
            if now >= record.request.timeout_ns:
                self._auto_deny(record, now)
                denied += 1
        return denied

    def _auto_deny(self, record: OversightRecord, now: int) -> None:
        request = record.request
        decided = OversightDecided(
            request_id=request.request_id,
            intent_id=request.intent.intent_id,
            status=OversightStatus.TIMEOUT,
            approver=AUTO_DENY,
            notes="no answer within the timeout",
            decided_ns=now,
        )
        self.out.publish(OVERSIGHT_DECISIONS, decided, key=f"{request.request_id}:TIMEOUT")
