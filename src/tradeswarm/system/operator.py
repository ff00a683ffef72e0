"""The demo's scripted human. Real humans use `tradeswarm oversight approve|deny`."""

from __future__ import annotations

from tradeswarm.bus.identity import Identity
from tradeswarm.bus.topics import Role
from tradeswarm.core.clock import NS_PER_SECOND, Clock
from tradeswarm.crypto.keys import Signer
from tradeswarm.model.enums import OversightStatus
from tradeswarm.model.envelope import Envelope
from tradeswarm.oversight.service import answer_request, derived_nonce, submit
from tradeswarm.store import Store
from tradeswarm.system.config import OperatorConfig


class ScriptedOperator:
    """Answers oversight requests the way the CLI does: a signed envelope in the inbox."""

    def __init__(self, store: Store, clock: Clock, config: OperatorConfig, signer: Signer) -> None:
        """signer: the approver's own key; each answer is signed with it."""
        self.store = store
        self.clock = clock
        self.config = config
        self.signer = signer
        self.identity = Identity(config.approver, Role.HUMAN)

    def act(self) -> list[Envelope]:
        """Approve due requests whose number is 1 mod approve_every; ignore the others."""
        now = self.clock.now_ns()
        sent = []
        for number, record in enumerate(self.store.list_oversight(), start=1):
            if record.status is not OversightStatus.PENDING:
                continue
            due = record.request.created_ns + self.config.respond_after_s * NS_PER_SECOND
            if (number - 1) % self.config.approve_every == 0 and now >= due:
                key = f"{record.request.request_id}:{self.identity}"
                env = answer_request(
                    self.store,
                    str(record.request.request_id),
                    self.identity,
                    True,
                    "momentum confirmed, size acceptable",
                    now,
                    signer=self.signer,
                    nonce=derived_nonce(key),
                )
                submit(self.store, env)
                sent.append(env)
        return sent
