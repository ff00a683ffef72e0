"""The paper broker keeps its books in a real SQLite file and survives restarts and replays.

A trading-day replay restarted from the beginning after a crash must neither
double-fill nor lose orders: known client order ids come back as duplicates and bars
at or before the persisted cursor are ignored.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import pytest

from tradeswarm.brokers.paper import PaperBroker
from tradeswarm.brokers.paper_config import PaperBrokerConfig
from tradeswarm.brokers.port import OrderRequest
from tradeswarm.core.clock import NS_PER_SECOND, SimClock
from tradeswarm.model.enums import OrderType, Side, TimeInForce
from tradeswarm.model.market import Bar, Session
from tradeswarm.testkit import T0

MIN = 60 * NS_PER_SECOND
SESSION = Session(day="2024-01-02", open_ns=T0, close_ns=T0 + 390 * MIN)
D = Decimal


def _config(cash: str = "1000000") -> PaperBrokerConfig:
    return PaperBrokerConfig(initial_cash=D(cash), symbols=["ES", "NQ"])


def _bar(minute: int, o: str, h: str, lo: str, c: str, *, symbol: str = "ES") -> Bar:
    return Bar(
        symbol=symbol, ts_event=T0 + minute * MIN, open=D(o), high=D(h), low=D(lo),
        close=D(c), volume=D(1000),
    )  # fmt: skip


def _order(
    cid: str, side: Side, qty: str, kind: OrderType = OrderType.MARKET, price: str | None = None
) -> OrderRequest:
    return OrderRequest(
        client_order_id=cid,
        internal_order_id=f"int-{cid}",
        symbol="ES",
        side=side,
        quantity=D(qty),
        order_type=kind,
        time_in_force=TimeInForce.GTC,
        limit_price=D(price) if kind is OrderType.LIMIT and price else None,
        stop_price=D(price) if kind is OrderType.STOP and price else None,
    )


# (ns after T0, event): a small trading day, in time order.
DAY: list[tuple[int, Bar | OrderRequest]] = [
    (0, _bar(0, "5000", "5002", "4998", "5001")),
    (0, _bar(0, "18000", "18010", "17990", "18005", symbol="NQ")),
    (10 * NS_PER_SECOND, _order("m1", Side.BUY, "150")),  # fills 100 + 50 over two bars
    (20 * NS_PER_SECOND, _order("l1", Side.BUY, "30", OrderType.LIMIT, "4990")),
    (1 * MIN, _bar(1, "5003", "5006", "5000", "5005")),
    (2 * MIN, _bar(2, "5004", "5004", "4988", "4992")),
    (2 * MIN + 5, _order("s1", Side.SELL, "120", OrderType.STOP, "4985")),
    (3 * MIN, _bar(3, "4991", "4995", "4980", "4983")),
    (4 * MIN, _bar(4, "4984", "4990", "4979", "4986")),
    (4 * MIN + 5, _order("l2", Side.SELL, "20", OrderType.LIMIT, "4999")),
    (5 * MIN, _bar(5, "4990", "5001", "4989", "5000")),
    (6 * MIN, _bar(6, "5000", "5004", "4997", "5002")),
]
SPLIT = 8  # the first run "crashes" after this many events


async def _play(
    broker: PaperBroker, clock: SimClock, events: Sequence[tuple[int, Bar | OrderRequest]]
) -> int:
    """Play events; return how many fills they produced (placed orders, bars)."""
    fills = 0
    for offset, event in events:
        clock.set(max(clock.now_ns(), T0 + offset))
        if isinstance(event, Bar):
            fills += len(broker.on_bar(event))
        else:
            assert isinstance(event, OrderRequest)
            await broker.place_order(event)
    return fills


async def _snapshot(broker: PaperBroker) -> tuple[object, ...]:
    orders = [await broker.get_order_status(f"brk-{i:06d}") for i in range(1, 5)]
    return (
        await broker.get_fills(0),
        await broker.get_account(),
        await broker.get_positions(),
        orders,
    )


async def _reference() -> tuple[object, ...]:
    clock = SimClock(T0)
    broker = PaperBroker(clock, _config())
    broker.open_session(SESSION)
    await _play(broker, clock, DAY)
    snap = await _snapshot(broker)
    broker.close()
    return snap


@pytest.mark.asyncio
async def test_reopen_and_replay_from_the_start_neither_double_fills_nor_loses(
    tmp_path: Path,
) -> None:
    path = tmp_path / "paper.db"
    clock = SimClock(T0)
    first = PaperBroker(clock, _config(), path)
    first.open_session(SESSION)
    assert await _play(first, clock, DAY[:SPLIT]) > 0
    fills_before = await first.get_fills(0)
    account_before = await first.get_account()
    first.close()

    clock = SimClock(T0)  # the replay restarts the day from the beginning
    second = PaperBroker(clock, _config(cash="1"), path)  # initial_cash ignored on reopen
    second.open_session(SESSION)
    assert await _play(second, clock, DAY[:SPLIT]) == 0
    assert await second.get_fills(0) == fills_before
    assert await second.get_account() == account_before
    for _, event in DAY[:SPLIT]:
        if isinstance(event, OrderRequest):
            again = await second.place_order(event)
            assert again.duplicate
    assert await _play(second, clock, DAY[SPLIT:]) > 0
    final = await _snapshot(second)
    second.close()
    assert final == await _reference()


def test_file_database_uses_wal_and_persists_the_session(tmp_path: Path) -> None:
    path = tmp_path / "paper.db"
    broker = PaperBroker(SimClock(T0), _config(), path)
    broker.open_session(SESSION)
    broker.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in conn.execute("select name from sqlite_master where type='table'")}
    conn.close()
    assert {"broker_orders", "broker_fills", "broker_account", "broker_positions"} <= tables
    assert "broker_cursor" in tables
    reopened = PaperBroker(SimClock(T0), _config(), path)
    assert reopened.session() == SESSION
    reopened.close()


CHILD = textwrap.dedent(
    """
    import asyncio, os, signal, sys
    sys.path.insert(0, {here!r})
    from test_paper_broker_persistence import DAY, SESSION, SPLIT, T0, _config, _play
    from tradeswarm.brokers.paper import PaperBroker
    from tradeswarm.core.clock import SimClock

    async def main():
        clock = SimClock(T0)
        broker = PaperBroker(clock, _config(), {path!r})
        broker.open_session(SESSION)
        await _play(broker, clock, DAY[:SPLIT])
        os.kill(os.getpid(), signal.SIGKILL)  # no close, no flush: a hard crash

    asyncio.run(main())
    """
)


@pytest.mark.asyncio
async def test_state_survives_kill_9_and_the_replay_resumes(tmp_path: Path) -> None:
    path = str(tmp_path / "paper.db")
    script = CHILD.format(here=str(Path(__file__).parent), path=path)
    proc = subprocess.run(
        [sys.executable, "-c", script],
        env=dict(os.environ),
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == -9, proc.stderr.decode()
    clock = SimClock(T0)
    broker = PaperBroker(clock, _config(), path)
    broker.open_session(SESSION)
    assert len(await broker.get_fills(0)) > 0
    assert await _play(broker, clock, DAY[:SPLIT]) == 0
    await _play(broker, clock, DAY[SPLIT:])
    final = await _snapshot(broker)
    broker.close()
    assert final == await _reference()
