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
    """Watches pending requests. Humans decide in the store (CLI or in-process);
    the desk publishes their decision with the human's own signature over it (the desk's
    envelope signature says only who relayed it), and denies what is still pending at
    the timeout."""

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
        """Publish decisions made since the last tick and auto-deny expired requests."""
        now = self.clock.now_ns()
        published = 0
        for record in self.store.list_oversight():
            if record.status is OversightStatus.PENDING and now >= record.request.timeout_ns:
                self.store.decide_oversight(
                    record.request.request_id,
                    OversightStatus.TIMEOUT,
                    AUTO_DENY,
                    "no answer within the timeout",
                    now,
                )
                record = self.store.get_oversight(record.request.request_id) or record  # noqa: PLW2901
            if record.status is not OversightStatus.PENDING and self._relay(record):
                published += 1
        return published

    def _relay(self, record: OversightRecord) -> bool:
        key = f"{record.request.request_id}:{record.status}"
        if self.store.get_meta(f"oversight.relayed:{key}") is not None:
            return False
        decided = OversightDecided(
            request_id=record.request.request_id,
            intent_id=record.request.intent.intent_id,
            status=record.status,
            approver=record.approver or AUTO_DENY,
            notes=record.notes or "",
            decided_ns=record.decision_ns or self.clock.now_ns(),
            human_signature=record.signature,
        )
        self.out.publish(OVERSIGHT_DECISIONS, decided, key=key)
        self.store.set_meta(f"oversight.relayed:{key}", "1")
        return True
