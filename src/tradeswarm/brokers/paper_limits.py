"""The paper broker's rate limiter (on clock time) and its fault injector."""

from __future__ import annotations

from collections import deque

import msgspec

from tradeswarm.brokers.errors import ErrorCode
from tradeswarm.core.clock import NS_PER_MS, NS_PER_SECOND, Clock


class TokenBucket:
    """rate tokens per second of CLOCK time, holding at most rate tokens.

    Integer arithmetic: one token is NS_PER_SECOND units; each elapsed ns adds rate units.
    """

    def __init__(self, clock: Clock, rate: int) -> None:
        self._clock = clock
        self._rate = rate
        self._capacity = rate * NS_PER_SECOND
        self._units = self._capacity
        self._last_ns = clock.now_ns()

    def _refill(self) -> None:
        now = self._clock.now_ns()
        if now > self._last_ns:
            self._units = min(self._capacity, self._units + (now - self._last_ns) * self._rate)
        self._last_ns = now

    def try_take(self) -> int:
        """Take one token: 0 on success, else the ms to wait until one is free."""
        self._refill()
        if self._units >= NS_PER_SECOND:
            self._units -= NS_PER_SECOND
            return 0
        missing_ns = -(-(NS_PER_SECOND - self._units) // self._rate)
        return max(1, -(-missing_ns // NS_PER_MS))


class Fault(msgspec.Struct, frozen=True):
    code: ErrorCode
    after_accept: bool


class FaultQueue:
    """Faults to inject into the next place_order calls, one per call, in order (None:
    a call let through untouched)."""

    def __init__(self) -> None:
        self._pending: deque[Fault | None] = deque()

    def add(
        self, code: ErrorCode, times: int = 1, after_accept: bool = False, skip: int = 0
    ) -> None:
        if times < 1:
            raise ValueError(f"times={times} must be >= 1")
        if skip < 0:
            raise ValueError(f"skip={skip} must be >= 0")
        self._pending.extend(None for _ in range(skip))
        self._pending.extend(Fault(code, after_accept) for _ in range(times))

    def pop(self) -> Fault | None:
        return self._pending.popleft() if self._pending else None

    def __len__(self) -> int:
        return len(self._pending)
