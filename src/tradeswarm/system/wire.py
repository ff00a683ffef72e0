"""The store as a wire consumer's ledger: effects and the msg_ids they came from, in one
transaction (`bus.remote.Inlet` commits a fetched batch, then acks it)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from contextlib import AbstractContextManager

from tradeswarm.model.envelope import Envelope
from tradeswarm.store import Store


class StoreLedger:
    """`bus.remote.Ledger` over a Store; also the bus's sink (the store is the log)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def transaction(self) -> AbstractContextManager[None]:
        return self.store.transaction()

    def logged_digest(self, msg_id: uuid.UUID) -> bytes | None:
        return self.store.leaf_hash_of(msg_id)

    def append_events(self, envs: Sequence[Envelope]) -> list[int | None]:
        return self.store.append_events(envs)
