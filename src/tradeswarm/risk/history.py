"""Each agent's recent intents, for the message throttle and duplicate-order detection.

The risk manager counts an agent's intents over the last second and minute (every intent
counts, denied ones too: it is a message throttle) and finds an earlier intent with the
same side, symbol and quantity inside the duplicate window (only intents that could still
become orders count: a denied one does not). The history lives in memory, a sorted list
of times per agent (counting is a bisection); it is seeded from the store's recorded
initial decisions the first time an agent is seen, so a restarted risk manager remembers
the last minute.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import NamedTuple

from tradeswarm.core.clock import NS_PER_SECOND
from tradeswarm.model.enums import Side, Verdict
from tradeswarm.model.messages import RiskDecision

MINUTE_NS = 60 * NS_PER_SECOND

Key = tuple[str, Side, Decimal]


class Traffic(NamedTuple):
    last_second: int  # this intent included
    last_minute: int
    duplicate_of: str  # the earlier live intent's id, or ""


class _Agent:
    __slots__ = ("live", "start", "times")

    def __init__(self) -> None:
        self.times: list[int] = []
        self.start = 0
        self.live: dict[Key, tuple[int, str]] = {}

    def expire(self, before_ns: int) -> None:
        self.start = bisect.bisect_right(self.times, before_ns, lo=self.start)
        if self.start > 1024 and self.start * 2 > len(self.times):
            del self.times[: self.start]
            self.start = 0
            self.live = {k: v for k, v in self.live.items() if v[0] > before_ns}

    def since(self, after_ns: int) -> int:
        return len(self.times) - bisect.bisect_right(self.times, after_ns, lo=self.start)


class IntentHistory:
    """Recent intents per principal. ``seed(since_ns)`` yields the initial decisions the
    store recorded since a time (to rebuild an agent's history after a restart)."""

    def __init__(
        self, duplicate_window_ns: int, seed: Callable[[int], Iterable[RiskDecision]]
    ) -> None:
        self._window = max(duplicate_window_ns, MINUTE_NS)
        self._duplicate_ns = duplicate_window_ns
        self._seed = seed
        self._agents: dict[str, _Agent] = {}

    def _agent(self, principal: str, now_ns: int) -> _Agent:
        agent = self._agents.get(principal)
        if agent is None:
            agent = self._agents[principal] = _Agent()
            for decision in self._seed(now_ns - self._window):
                if decision.principal == principal:
                    self._add(agent, decision)
        agent.expire(now_ns - self._window)
        return agent

    @staticmethod
    def _add(agent: _Agent, decision: RiskDecision) -> None:
        i, ts = decision.intent, decision.ts_event
        bisect.insort(agent.times, ts, lo=agent.start)
        if decision.verdict is not Verdict.DENY:
            agent.live[(i.symbol, i.side, i.quantity)] = (ts, str(i.intent_id))

    def traffic(self, principal: str, symbol: str, side: Side, qty: Decimal, now: int) -> Traffic:
        """The principal's traffic as it stands with one more intent at now."""
        agent = self._agent(principal, now)
        twin = agent.live.get((symbol, side, qty)) if self._duplicate_ns else None
        duplicate = twin[1] if twin is not None and twin[0] > now - self._duplicate_ns else ""
        second = 1 + agent.since(now - NS_PER_SECOND)
        return Traffic(second, 1 + agent.since(now - MINUTE_NS), duplicate)

    def record(self, decision: RiskDecision) -> None:
        """Remember an agent's initial decision on an intent (post-oversight decisions
        are not new traffic, so the caller records only initial ones)."""
        if decision.principal:
            self._add(self._agent(decision.principal, decision.ts_event), decision)
