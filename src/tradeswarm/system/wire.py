"""The store and the wire: the store as a wire consumer's ledger (effects and the msg_ids
they came from, in one transaction: `bus.remote.Inlet` commits a fetched batch, then acks
it), and the store's log streamed to the wire (`LogShipper`)."""

from __future__ import annotations

import functools
import itertools
import logging
import uuid
from collections.abc import Sequence
from contextlib import AbstractContextManager

from tradeswarm.bus.resilience import Resilient
from tradeswarm.bus.transport import Transport, subject_of
from tradeswarm.core.errors import InvariantViolation, TradeswarmError
from tradeswarm.model.envelope import Envelope, decode_head
from tradeswarm.store import Store
from tradeswarm.store.events import EventRow

log = logging.getLogger(__name__)


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


SHIPPED_KEY = "wire.shipped_seq"


class LogShipper:
    """Streams the store's log to the wire: every entry (the charter, every envelope,
    every refusal), its canonical bytes on `<namespace>.<topic>`, in log order within a
    subject, once its unit of work has committed: the log is the outbox. At least once:
    the cursor (`meta` `wire.shipped_seq`) moves only after the server holds the batch,
    so an entry published and then lost to a crash is published again (NATS drops the
    copy by its Nats-Msg-Id; a consumer tells it by its leaf hash). The wire is
    downstream of the log: when it is down, trading goes on, `degraded` says so, and
    the next `ship` publishes what waited."""

    def __init__(self, store: Store, transport: Transport, resilient: Resilient | None = None):
        self.store = store
        self.transport = transport
        self.resilient = resilient or Resilient("wire", attempts=2)
        self.shipped = 0
        self.degraded = False

    async def ship(self) -> int:
        """Publish the entries logged since the cursor; how many went out (0 if down)."""
        after = int(self.store.get_meta(SHIPPED_KEY) or 0)
        rows = list(self.store.iter_events(after))
        if not rows:
            return 0
        ns, sent = self.transport.config.namespace, 0
        try:
            for topic, run in itertools.groupby(rows, key=_topic_of):
                batch = list(run)
                subject = subject_of(ns, topic)
                publish = functools.partial(
                    self.transport.publish, subject, [r.body for r in batch]
                )
                await self.resilient.call(publish)
                self.store.set_meta(SHIPPED_KEY, str(batch[-1].seq))
                sent += len(batch)
        except TradeswarmError as err:
            self.degraded = True
            log.warning("the wire is down, %d entries wait: %s", len(rows) - sent, err)
            return sent
        self.degraded = False
        self.shipped += sent
        return sent


def _topic_of(row: EventRow) -> str:
    head = decode_head(row.body)
    if head is None:  # the log's own bodies are envelopes; anything else is corruption
        raise InvariantViolation(f"log entry {row.seq} is no envelope")
    return head.topic
