"""UUIDv7 ids: time-ordered, and reproducible when drawn from a seeded generator."""

from __future__ import annotations

import hashlib
import random
import uuid

from tradeswarm.core.clock import NS_PER_MS, Clock


def uuid7(ts_ns: int, rand: int) -> uuid.UUID:
    """Build a UUIDv7 from a timestamp and 74 random bits (RFC 9562, section 5.7)."""
    ms = (ts_ns // NS_PER_MS) & ((1 << 48) - 1)
    rand_a = (rand >> 62) & 0xFFF
    rand_b = rand & ((1 << 62) - 1)
    value = (ms << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b
    return uuid.UUID(int=value)


class IdGenerator:
    """Draws UUIDv7 ids from the injected clock and a seeded generator.

    The same seed and the same clock readings give the same ids, so a replay
    of the same day produces the same message and order ids.
    """

    def __init__(self, clock: Clock, seed: int = 0) -> None:
        self._clock = clock
        self._rng = random.Random(seed)

    def next(self) -> uuid.UUID:
        return uuid7(self._clock.now_ns(), self._rng.getrandbits(74))


def derived_id(ts_ns: int, *parts: str) -> uuid.UUID:
    """A UUIDv7 whose random bits are a hash of parts: the same inputs, the same id.

    Use it where an id must survive a crash and restart (an intent for a given bar,
    the client order id for a given intent), so a replay recomputes it exactly.
    """
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return uuid7(ts_ns, int.from_bytes(digest[:10], "big"))
