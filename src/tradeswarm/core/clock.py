"""Clocks: inject one everywhere; nothing else reads the wall time."""

from __future__ import annotations

import time
from typing import Protocol

NS_PER_SECOND = 1_000_000_000
NS_PER_MS = 1_000_000


class Clock(Protocol):
    """A source of time in int nanoseconds since the Unix epoch (UTC)."""

    def now_ns(self) -> int: ...


class SimClock:
    """A clock that moves only when told: backtests and the demo replay on it."""

    def __init__(self, start_ns: int = 0) -> None:
        self._now = start_ns

    def now_ns(self) -> int:
        return self._now

    def set(self, ts_ns: int) -> None:
        """Move the clock to ts_ns; time never runs backwards."""
        if ts_ns < self._now:
            raise ValueError(f"ts_ns={ts_ns} is before the clock's now={self._now}")
        self._now = ts_ns

    def advance(self, delta_ns: int) -> None:
        if delta_ns < 0:
            raise ValueError(f"delta_ns={delta_ns} must not be negative")
        self._now += delta_ns


class LiveClock:
    """The wall clock, for paper and live trading."""

    def now_ns(self) -> int:
        return time.time_ns()


def iso(ts_ns: int) -> str:
    """Render ts_ns as an ISO-8601 UTC timestamp with millisecond precision."""
    secs, rem = divmod(ts_ns, NS_PER_SECOND)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
    return f"{stamp}.{rem // NS_PER_MS:03d}Z"


class Sleeper(Protocol):
    """Waits on the injected clock: backoff in a replay advances sim time, not wall time."""

    async def sleep(self, delta_ns: int) -> None: ...


class SimSleeper:
    def __init__(self, clock: SimClock) -> None:
        self._clock = clock

    async def sleep(self, delta_ns: int) -> None:
        self._clock.advance(delta_ns)


class LiveSleeper:
    async def sleep(self, delta_ns: int) -> None:
        import asyncio

        await asyncio.sleep(delta_ns / NS_PER_SECOND)
