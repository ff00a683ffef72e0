"""A fault layer over any transport, for chaos tests (ours and users'): it drops,
duplicates, delays and reorders what is published, reproducibly from a seed.

- drop: the publish of a batch fails after a random prefix of it went out (a lost
  acknowledgement, a connection cut mid-batch): the publisher must retry, and the retry
  sends the prefix again;
- duplicate: a message is published twice;
- reorder: a batch goes out shuffled;
- delay: each publish waits up to delay_s first.

What it cannot do is lose a message whose publish reported success: that would be a
broken server, not a fault a correct client can survive.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence

from tradeswarm.bus.transport import Consumer, DeadLetter, Transport


class InjectedFault(ConnectionError):
    """A publish the fault layer failed on purpose."""


class FaultyTransport:
    """See the module docstring."""

    def __init__(
        self,
        inner: Transport,
        *,
        seed: int = 0,
        drop: float = 0.0,
        duplicate: float = 0.0,
        reorder: float = 0.0,
        delay_s: float = 0.0,
    ) -> None:
        self.inner = inner
        self.config = inner.config
        self._rng = random.Random(seed)
        self.drop, self.duplicate, self.reorder, self.delay_s = drop, duplicate, reorder, delay_s
        self.injected = {"drop": 0, "duplicate": 0, "reorder": 0}

    async def connect(self) -> None:
        await self.inner.connect()

    async def close(self) -> None:
        await self.inner.close()

    async def publish(self, subject: str, batch: Sequence[bytes]) -> None:
        rng, out = self._rng, list(batch)
        if self.delay_s:
            await asyncio.sleep(rng.uniform(0, self.delay_s))
        if len(out) > 1 and rng.random() < self.reorder:
            rng.shuffle(out)
            self.injected["reorder"] += 1
        doubled = []
        for data in out:
            doubled.append(data)
            if rng.random() < self.duplicate:
                doubled.append(data)
                self.injected["duplicate"] += 1
        if rng.random() < self.drop:
            cut = rng.randrange(len(doubled) + 1)
            if cut:
                await self.inner.publish(subject, doubled[:cut])
            self.injected["drop"] += 1
            raise InjectedFault(f"dropped {len(doubled) - cut} of {len(doubled)} on {subject}")
        await self.inner.publish(subject, doubled)

    async def consumer(self, subjects: Sequence[str], durable: str, member: str) -> Consumer:
        return await self.inner.consumer(subjects, durable, member)

    async def dead_letters(self, limit: int = 10_000) -> list[DeadLetter]:
        return await self.inner.dead_letters(limit)
