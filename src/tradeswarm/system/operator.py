"""The demo's scripted human. Real humans use `tradeswarm oversight approve|deny`."""

from __future__ import annotations

from tradeswarm.bus.identity import Identity
from tradeswarm.bus.topics import Role
from tradeswarm.core.clock import NS_PER_SECOND, Clock
from tradeswarm.crypto.keys import Signer
from tradeswarm.model.enums import OversightStatus
from tradeswarm.oversight.service import decide_request
from tradeswarm.store import OversightRecord, Store
from tradeswarm.system.config import OperatorConfig


class ScriptedOperator:
    """Answers oversight requests through the same service the CLI uses."""

    def __init__(
        self, store: Store, clock: Clock, config: OperatorConfig, signer: Signer | None
    ) -> None:
        """signer: the approver's own key; each decision is signed with it."""
        self.store = store
        self.clock = clock
        self.config = config
        self.signer = signer
        self.identity = Identity(config.approver, Role.HUMAN)

    def act(self) -> list[OversightRecord]:
        """Approve due requests whose number is 1 mod approve_every; ignore the others."""
        now = self.clock.now_ns()
        decided = []
        for number, record in enumerate(self.store.list_oversight(), start=1):
            if record.status is not OversightStatus.PENDING:
                continue
            due = record.request.created_ns + self.config.respond_after_s * NS_PER_SECOND
            if (number - 1) % self.config.approve_every == 0 and now >= due:
                decided.append(
                    decide_request(
                        self.store,
                        str(record.request.request_id),
                        self.identity,
                        True,
                        "momentum confirmed, size acceptable",
                        now,
                        signer=self.signer,
                    )
                )
        return decided
