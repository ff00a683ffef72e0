"""ComplianceAgent: trade surveillance and the end-of-day summary, from the books."""

from __future__ import annotations

from decimal import Decimal

import msgspec

from tradeswarm.audit.report import day_window
from tradeswarm.bus.agent import Agent, Outbox
from tradeswarm.bus.inproc import InProcessBus
from tradeswarm.bus.topics import COMPLIANCE_FLAGS, DAILY_SUMMARY, FILLS, Role
from tradeswarm.core.clock import NS_PER_SECOND, Clock
from tradeswarm.core.config import ConfigBase
from tradeswarm.model.enums import OversightStatus, Side
from tradeswarm.model.envelope import Envelope
from tradeswarm.model.market import Session
from tradeswarm.model.messages import ComplianceFlag, DailySummary, FillReceived
from tradeswarm.model.portfolio import Fill
from tradeswarm.store import Store


class ComplianceConfig(ConfigBase, frozen=True):
    wash_window_s: int = 1800
    restricted_symbols: list[str] = msgspec.field(default_factory=list)


def _fill(env: Envelope) -> FillReceived:
    assert isinstance(env.payload, FillReceived)
    return env.payload


class ComplianceAgent(Agent):
    """Watches every fill; flags a fill that reverses a fill of the same symbol within the
    wash window, and any fill in a restricted symbol."""

    role = Role.COMPLIANCE

    def __init__(
        self,
        name: str,
        bus: InProcessBus,
        clock: Clock,
        *,
        store: Store,
        config: ComplianceConfig | None = None,
    ) -> None:
        self.store = store
        self.config = config or ComplianceConfig()
        self.flags: list[ComplianceFlag] = []
        super().__init__(name, bus, clock)

    def subscribe(self, bus: InProcessBus) -> None:
        bus.subscribe_batch(FILLS, self.on_fills)

    async def on_fills(self, envs: list[Envelope]) -> None:
        """Check a run of fills, in order, against the books: the first opposite trade
        in each wash window, looked up once per (symbol, side, window start) in the run
        (fills at one bar's time share one lookup)."""
        firsts: dict[tuple[str, Side, int], Fill | None] = {}
        outbox = Outbox(self.out)
        for env in envs:
            fill = _fill(env)
            for flag, detail in self._checks(fill, firsts):
                found = ComplianceFlag(
                    flag=flag,
                    symbol=fill.symbol,
                    detail=detail,
                    order_id=fill.order_id,
                    ts_event=fill.ts_event,
                )
                self.flags.append(found)
                outbox.add(COMPLIANCE_FLAGS, found, key=f"{fill.fill_id}:{flag}", cause=env)
        outbox.flush()

    def _checks(
        self, fill: FillReceived, firsts: dict[tuple[str, Side, int], Fill | None]
    ) -> list[tuple[str, str]]:
        found = []
        if fill.symbol in self.config.restricted_symbols:
            found.append(("RESTRICTED_SYMBOL", f"{fill.symbol} is on the restricted list"))
        opposite = Side.SELL if fill.side is Side.BUY else Side.BUY
        key = (fill.symbol, opposite, fill.ts_event - self.config.wash_window_s * NS_PER_SECOND)
        if key not in firsts:
            firsts[key] = self.store.first_trade(*key)
        prior = firsts[key]
        if prior is not None and prior.ts_event <= fill.ts_event:
            mins = (fill.ts_event - prior.ts_event) / (60 * NS_PER_SECOND)
            found.append(
                (
                    "WASH_TRADE_SUSPECT",
                    f"{fill.side} {fill.quantity} reverses {prior.side} {prior.quantity} "
                    f"of {mins:.0f} min before (fill {prior.fill_id})",
                )
            )
        return found

    def summarize(self, session: Session) -> DailySummary:
        """The day's totals from the books (trades, oversight, risk events) and the flags.

        The day is the session's UTC calendar day, [00:00, 24:00), the window
        `tradeswarm audit report --date` counts too (audit.report.day_window). The summary
        is cut after the close's own work (the last bar's decisions, the final sync and
        desk tick), so it counts everything the day holds; only what happens later on the
        same date (nothing, in a replay) would reach the report and not the summary.
        """
        lo, hi = day_window(session.day)

        def today(ts: int) -> bool:
            return lo <= ts < hi

        trades = [t for t in self.store.list_trades(since_ns=lo) if today(t.ts_event)]
        requests = [r for r in self.store.list_oversight() if today(r.request.created_ns)]
        statuses = [r.status for r in requests]
        return DailySummary(
            day=session.day,
            trades=len(trades),
            volume=sum((t.quantity * t.price for t in trades), Decimal(0)),
            oversight_requests=len(requests),
            approvals=statuses.count(OversightStatus.APPROVED),
            denials=statuses.count(OversightStatus.DENIED),
            auto_denials=statuses.count(OversightStatus.TIMEOUT),
            risk_events=self.store.count_risk_events(lo, hi),
            flags=self.store.count_events_of_type("ComplianceFlag", lo, hi),
            ts_event=self.clock.now_ns(),
        )

    def publish_summary(self, session: Session) -> DailySummary:
        summary = self.summarize(session)
        self.out.publish(DAILY_SUMMARY, summary, key=f"summary:{session.day}")
        return summary
