"""A run of fills checked at once flags exactly what one query per fill would.

The reference is the per-fill check the agent made before it read each symbol's window
once per run: the first opposite-side trade of the symbol from the fill's time less the
wash window on, in the books' (ts_event, fill_id) order, if it is not later than the fill.
Every fill is booked before any is announced, as the execution agent's sync does.
"""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from tradeswarm.bus.identity import Identity
from tradeswarm.bus.inproc import InProcessBus
from tradeswarm.bus.topics import FILLS, Role
from tradeswarm.compliance.agent import ComplianceAgent, ComplianceConfig
from tradeswarm.core.clock import NS_PER_SECOND, SimClock
from tradeswarm.model.enums import Side
from tradeswarm.model.messages import FillReceived
from tradeswarm.model.portfolio import Fill
from tradeswarm.store import Store
from tradeswarm.testkit import T0

WINDOW_S = 1800
EXECUTION = Identity("order-executor-01", Role.EXECUTION)


def _fill(n: int, symbol: str, side: Side, minute: int) -> Fill:
    return Fill(
        fill_id=f"f{n:03d}",
        order_id=uuid.uuid5(uuid.NAMESPACE_OID, str(n)),
        client_order_id=f"c{n}",
        symbol=symbol,
        side=side,
        quantity=Decimal(n + 1),
        price=Decimal(100),
        fee=Decimal(0),
        ts_event=T0 + minute * 60 * NS_PER_SECOND,
    )


def _reference(store: Store, fills: list[Fill]) -> list[tuple[str, str, str]]:
    window = WINDOW_S * NS_PER_SECOND
    found = []
    for fill in fills:
        if fill.symbol == "XX":
            found.append(
                (fill.fill_id, "RESTRICTED_SYMBOL", f"{fill.symbol} is on the restricted list")
            )
        opposite = Side.SELL if fill.side is Side.BUY else Side.BUY
        for prior in store.list_trades(fill.symbol, fill.ts_event - window, opposite):
            if prior.ts_event <= fill.ts_event:
                mins = (fill.ts_event - prior.ts_event) / (60 * NS_PER_SECOND)
                detail = (
                    f"{fill.side} {fill.quantity} reverses {prior.side} {prior.quantity} "
                    f"of {mins:.0f} min before (fill {prior.fill_id})"
                )
                found.append((fill.fill_id, "WASH_TRADE_SUSPECT", detail))
                break
    return found


async def _flags(fills: list[Fill], booked_before: int) -> tuple[list[tuple[str, str, str]], ...]:
    clock = SimClock(T0)
    store = Store.open(":memory:")
    try:
        bus = InProcessBus(clock, sink=store)
        config = ComplianceConfig(wash_window_s=WINDOW_S, restricted_symbols=["XX"])
        agent = ComplianceAgent("compliance-agent-01", bus, clock, store=store, config=config)
        for fill in fills:
            assert store.record_fill(fill, "trading-agent-01")
        executor = bus.attach(EXECUTION)
        run = fills[booked_before:]
        executor.publish_many(FILLS, [(FillReceived.of(f), f.fill_id, None) for f in run])
        await bus.drain()
        got = [(str(f.order_id), f.flag, f.detail) for f in agent.flags]
        by_order = {str(f.order_id): f.fill_id for f in run}
        return [(by_order[o], flag, d) for o, flag, d in got], _reference(store, run)
    finally:
        store.close()


fills = st.lists(
    st.tuples(
        st.sampled_from(("ES", "NQ", "XX")),
        st.sampled_from(tuple(Side)),
        st.integers(min_value=0, max_value=18).map(lambda k: k * 5),  # 30 min apart often
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=150, deadline=None)
@given(drawn=fills, booked_before=st.integers(min_value=0, max_value=10))
def test_a_run_of_fills_flags_what_one_query_per_fill_flags(
    drawn: list[tuple[str, Side, int]], booked_before: int
) -> None:
    made = [_fill(n, sym, side, minute) for n, (sym, side, minute) in enumerate(drawn)]
    made.sort(key=lambda f: f.ts_event)  # fills arrive in time order, as the broker reports
    got, expected = asyncio.run(_flags(made, min(booked_before, len(made) - 1)))
    assert got == expected
