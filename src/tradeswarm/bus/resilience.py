"""Calling a dependency that can fail: backoff with jitter, a timeout of 3x the observed
p95, and a circuit breaker that opens after 3 consecutive failures (seed 002 §2, §4).

`Resilient.call(op)` runs an async operation under all three: each attempt is bounded by
the adaptive timeout, a failed attempt waits `Backoff.delay(n)` and tries again (at most
`attempts` times), and while the breaker is open every call fails at once with
`CircuitOpen` instead of piling onto a dependency that is down; after `cooldown_s` one
trial call is let through (half-open), and its success closes the breaker again. What to
fall back to is the caller's choice (`bus.remote.Outlet` keeps the batch and reports
itself degraded; nothing is dropped).
"""

from __future__ import annotations

import asyncio
import collections
import math
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tradeswarm.core.errors import TradeswarmError

T = TypeVar("T")


class CircuitOpen(TradeswarmError):
    """A dependency's breaker is open: the call was not made."""


class Backoff:
    """Exponential backoff with jitter: attempt n waits base * 2**(n-1), capped, times a
    random factor in [0.5, 1] so that many clients retrying at once spread out."""

    def __init__(self, base_s: float = 0.05, cap_s: float = 5.0, rng: random.Random | None = None):
        self.base_s = base_s
        self.cap_s = cap_s
        self._rng = rng or random.Random()

    def delay(self, attempt: int) -> float:
        ceiling = min(self.cap_s, self.base_s * 2.0 ** max(0, attempt - 1))
        return float(ceiling * self._rng.uniform(0.5, 1.0))


class AdaptiveTimeout:
    """3x the p95 of the last `window` successful latencies, never below floor_s (nor above
    ceiling_s); floor_s until `min_samples` were seen."""

    def __init__(
        self,
        floor_s: float = 0.5,
        ceiling_s: float = 30.0,
        window: int = 256,
        min_samples: int = 20,
    ) -> None:
        self.floor_s = floor_s
        self.ceiling_s = ceiling_s
        self._recent: collections.deque[float] = collections.deque(maxlen=window)
        self._min = min_samples

    def observe(self, seconds: float) -> None:
        self._recent.append(seconds)

    def p95(self) -> float | None:
        if len(self._recent) < self._min:
            return None
        ordered = sorted(self._recent)
        return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]

    def current(self) -> float:
        p95 = self.p95()
        if p95 is None:
            return self.floor_s
        return min(self.ceiling_s, max(self.floor_s, 3.0 * p95))


class CircuitBreaker:
    """Closed until `threshold` consecutive failures; then open for cooldown_s; then one
    trial (half-open) decides."""

    def __init__(
        self, name: str, threshold: int = 3, cooldown_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:  # fmt: skip
        self.name = name
        self.threshold = threshold
        self.cooldown_s = cooldown_s
        self._clock = clock
        self.failures = 0
        self.opened_at: float | None = None
        self.trips = 0

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        return "half-open" if self._clock() - self.opened_at >= self.cooldown_s else "open"

    def before(self) -> None:
        if self.state == "open":
            raise CircuitOpen(f"{self.name}: circuit open after {self.failures} failures")

    def success(self) -> None:
        self.failures = 0
        self.opened_at = None

    def failure(self) -> None:
        self.failures += 1
        if self.opened_at is not None or self.failures >= self.threshold:
            if self.opened_at is None:
                self.trips += 1
            self.opened_at = self._clock()


class Resilient:
    """See the module docstring."""

    def __init__(
        self,
        name: str,
        attempts: int = 5,
        backoff: Backoff | None = None,
        timeout: AdaptiveTimeout | None = None,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self.name = name
        self.attempts = attempts
        self.backoff = backoff or Backoff()
        self.timeout = timeout or AdaptiveTimeout()
        self.breaker = breaker or CircuitBreaker(name)
        self.retries = 0

    async def call(self, op: Callable[[], Awaitable[T]]) -> T:
        last: BaseException | None = None
        for attempt in range(1, self.attempts + 1):
            self.breaker.before()
            started = time.monotonic()
            try:
                result = await asyncio.wait_for(op(), self.timeout.current())
            except Exception as err:  # timeouts, sockets, each client library's own errors
                self.breaker.failure()
                last = err
            else:
                self.breaker.success()
                self.timeout.observe(time.monotonic() - started)
                return result
            if attempt < self.attempts:
                self.retries += 1
                await asyncio.sleep(self.backoff.delay(attempt))
        raise TradeswarmError(f"{self.name}: failed {self.attempts} times: {last!r}") from last
