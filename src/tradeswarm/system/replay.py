"""Drive a swarm over a trading day on the SimClock; resumable after a crash at any point.

Each bar is one unit of work in the swarm's store (one commit). A replay on an existing
store warms the indicators up on the bars it already processed, then goes on from the
first unprocessed bar; ids derive from the data, so redone work meets itself and stops.
"""

from __future__ import annotations

from collections.abc import Callable

from tradeswarm.core.clock import SimClock
from tradeswarm.data.replay import TradingDay
from tradeswarm.model.envelope import decode_envelope
from tradeswarm.model.market import Bar
from tradeswarm.model.messages import DailySummary
from tradeswarm.system.operator import ScriptedOperator
from tradeswarm.system.swarm import Swarm

CURSOR = "replay.cursor_ns"
DONE = "replay.done"


class DayReplay:
    def __init__(
        self,
        swarm: Swarm,
        clock: SimClock,
        operator: ScriptedOperator | None = None,
        on_bar: Callable[[Bar], None] | None = None,
    ) -> None:
        self.swarm = swarm
        self.clock = clock
        self.operator = operator
        self.on_bar = on_bar
        self.resumed_from: int | None = None

    def warm_up(self, days: list[TradingDay]) -> None:
        """Feed history to the indicators; nothing is published or traded."""
        for day in days:
            for bar in day.bars:
                self._advance(bar)
                self.swarm.analyzer.on_bar(bar, publish=False)
                for agent in self.swarm.strategies:
                    agent.on_bar(bar, publish=False)

    def _advance(self, bar: Bar) -> None:
        if bar.ts_event > self.clock.now_ns():
            self.clock.set(bar.ts_event)
        self.swarm.market.on_bar(bar)

    def _restore(self) -> None:
        for row in self.swarm.store.iter_events():
            env = decode_envelope(row.body)
            self.swarm.trader.restore(env)
            for agent in self.swarm.strategies:
                agent.restore(env)

    async def run(self, day: TradingDay, until_ns: int | None = None) -> DailySummary | None:
        """Trade the day (up to until_ns); return the compliance summary when it ends."""
        s = self.swarm
        cursor = int(s.store.get_meta(CURSOR) or 0)
        if cursor:
            self.resumed_from = cursor
            self._restore()
        s.market.open_session(day.session)
        s.broker.open_session(day.session)
        for bar in day.bars:
            if until_ns is not None and bar.ts_event > until_ns:
                return None
            self._advance(bar)
            if bar.ts_event <= cursor:
                s.analyzer.on_bar(bar, publish=False)
                for agent in s.strategies:
                    agent.on_bar(bar, publish=False)
                continue
            if self.on_bar is not None:
                self.on_bar(bar)
            await self._step(bar, day.session.day)
        return await self._close(day)

    async def _step(self, bar: Bar, day: str) -> None:
        s = self.swarm
        s.risk.mark_session_open(day)  # once per day: it records equity at the first bar only
        s.broker.on_bar(bar)
        with s.store.transaction():
            s.pump_inbox()  # humans' commands first: a kill switch stops this bar's trades
            await s.bus.drain()
            await s.execution.sync()
            await s.feed_bar(bar)
            await s.bus.drain()
            if self.operator is not None:
                self.operator.act()
                s.pump_inbox()
            s.desk.tick()
            await s.bus.drain()
            s.store.set_meta(CURSOR, str(bar.ts_event))
            s.record_health()
        if s.shipper is not None:  # the committed unit's entries, to the wire
            await s.shipper.ship()

    async def _close(self, day: TradingDay) -> DailySummary:
        s = self.swarm
        s.broker.close_session()
        with s.store.transaction():
            s.pump_inbox()
            await s.bus.drain()
            await s.execution.sync()
            s.desk.tick()
            await s.bus.drain()
            summary = s.compliance.publish_summary(day.session)
            await s.bus.drain()
            s.store.set_meta(DONE, day.session.day)
            s.record_health()
        if s.shipper is not None:
            await s.shipper.ship()
        return summary
