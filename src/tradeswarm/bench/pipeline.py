"""Pipeline benchmark: synthetic intents -> gate -> execution -> paper fill -> store -> log.

The paper broker runs in memory here: it plays the external exchange, whose own
durability is not the swarm's cost. Each batch of intents is one unit of work:
published, decided, sent to the paper broker, filled on the next synthetic bar,
recorded, and committed durably (SQLite WAL, synchronous=FULL) with every envelope in
the log. An order's end-to-end time runs from its intent's publication to the commit
that makes its fill durable.

Peer, same run: sqlite3 `executemany` of the same number of order and fill rows with one
commit per batch — the floor a durable store sets on this machine.
"""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from tradeswarm.bus.identity import Identity
from tradeswarm.bus.topics import INTENTS, Role
from tradeswarm.core.clock import SimClock, SimSleeper
from tradeswarm.core.errors import InvalidInput
from tradeswarm.core.ids import derived_id
from tradeswarm.crypto.contexts import SigningPolicy
from tradeswarm.crypto.keys import Algorithm
from tradeswarm.instruments import InstrumentMaster, load_master
from tradeswarm.model.enums import TimeInForce
from tradeswarm.model.envelope import decode_envelope
from tradeswarm.model.market import Bar, Instrument, Session
from tradeswarm.model.messages import TradeIntent
from tradeswarm.risk.limits import RiskLimits
from tradeswarm.system.config import FeeConfig, SwarmConfig
from tradeswarm.system.swarm import Swarm
from tradeswarm.testkit import make_intent

SYMBOL = "BENCH"
PRICE = Decimal(100)
MINUTE = 60_000_000_000
START = 1_700_000_000 * 1_000_000_000


def bench_config() -> SwarmConfig:
    """Limits wide enough that every synthetic intent is PERMITted and filled (every
    control still evaluated: the throttle and credit limits are set out of reach, the
    duplicate check off, one bar of history enough)."""
    huge = Decimal(10) ** 12
    return SwarmConfig(
        symbol=SYMBOL,
        initial_cash=huge,
        risk=RiskLimits(
            position_limit=huge,
            max_concentration=2.0,
            max_daily_loss=huge,
            agent_tiers={"bench-trader": "professional"},
            max_intents_per_second=10**9,
            max_intents_per_minute=10**9,
            max_open_orders=10**9,
            max_gross_exposure=huge,
            duplicate_window_s=0,
            min_history_bars=1,
        ),
        broker=FeeConfig(participation=Decimal(1), rate_limit_per_sec=10**9),
    )


def bench_instruments() -> InstrumentMaster:
    """The bundled master and the synthetic instrument, trading around the clock."""
    return load_master().with_instruments(
        Instrument(symbol=SYMBOL, asset_class="equity", calendar="24/7", venue="PAPER")
    )


def _intent(n: int, ts: int) -> TradeIntent:
    return make_intent(
        intent_id=derived_id(ts, "bench", str(n)),
        agent_id="bench-trader",
        symbol=SYMBOL,
        quantity=Decimal(1),
        time_in_force=TimeInForce.GTC,
        reference_price=PRICE,
        strategy="bench",
        rationale="synthetic",
        ts_event=ts,
    )


def _bar(ts: int) -> Bar:
    return Bar(
        symbol=SYMBOL,
        ts_event=ts,
        open=PRICE,
        high=PRICE,
        low=PRICE,
        close=PRICE,
        volume=Decimal(10**9),
    )


SIGN_CHOICES = ("intents", "ed25519", "mldsa87")


def signing_policy(sign: str) -> SigningPolicy:
    """intents: only the intents (Ed25519), the least the gate needs, since an intent's
    principal is its signer; ed25519 / mldsa87: every non-repudiable type, in that
    algorithm (ed25519 is the swarm's default)."""
    if sign == "intents":
        return SigningPolicy(signed_types=frozenset({"TradeIntent"}))
    if sign == "ed25519":
        return SigningPolicy(default_algorithm=Algorithm.ED25519)
    if sign == "mldsa87":
        return SigningPolicy(default_algorithm=Algorithm.MLDSA87)
    raise InvalidInput("--sign", sign, f"use one of {list(SIGN_CHOICES)}")


async def _run_batches(
    swarm: Swarm, clock: SimClock, orders: int, batch: int, tick: Any
) -> list[float]:
    swarm.identities.enroll("bench-trader", Role.TRADER)
    trader = swarm.bus.attach(Identity("bench-trader", Role.TRADER))
    latencies: list[float] = []
    for start in range(0, orders, batch):
        ts = clock.now_ns() + MINUTE
        clock.set(ts)
        swarm.market.on_bar(_bar(ts))
        count = min(batch, orders - start)
        t0 = time.perf_counter()
        with swarm.store.transaction():
            sent = []
            for n in range(start, start + count):
                trader.publish(INTENTS, _intent(n, ts), key=str(n))
                sent.append(time.perf_counter())
            await swarm.bus.drain()
            clock.set(ts + MINUTE // 2)
            swarm.broker.on_bar(_bar(ts + MINUTE // 2))
            await swarm.execution.sync()
            await swarm.bus.drain()
        done = time.perf_counter()
        latencies.extend((done - s) * 1e3 for s in sent)
        tick(count, done - t0)
    return latencies


def raw_floor(orders: int, batch: int, folder: Path) -> float:
    """sqlite3 executemany of the same rows (an order and a fill per order), FULL sync."""
    con = sqlite3.connect(folder / "peer.sqlite", isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=FULL")
    con.execute("CREATE TABLE o (id TEXT PRIMARY KEY, sym TEXT, qty TEXT, px TEXT, st TEXT)")
    con.execute("CREATE TABLE f (id TEXT PRIMARY KEY, oid TEXT, qty TEXT, px TEXT)")
    t0 = time.perf_counter()
    for start in range(0, orders, batch):
        rows = [(f"o{n}", SYMBOL, "1", "100", "FILLED") for n in range(start, start + batch)]
        con.execute("BEGIN")
        con.executemany("INSERT INTO o VALUES (?,?,?,?,?)", rows)
        con.executemany(
            "INSERT INTO f VALUES (?,?,?,?)", [(r[0] + "f", r[0], "1", "100") for r in rows]
        )
        con.execute("COMMIT")
    elapsed = time.perf_counter() - t0
    con.close()
    return orders / elapsed


def run_pipeline_bench(
    orders: int = 2_000, batch: int = 500, progress: bool = True, sign: str = "ed25519"
) -> dict[str, Any]:
    """Run the pipeline and the peer; return the figures as one JSON-able dict.

    sign picks what the swarm signs (see signing_policy); the default is the swarm's own.
    """
    from rich.progress import Progress

    policy = signing_policy(sign)
    with tempfile.TemporaryDirectory() as tmp, Progress(disable=not progress) as bar:
        task = bar.add_task("pipeline", total=orders)
        clock = SimClock(START)
        swarm = Swarm(
            bench_config(),
            Path(tmp) / "bench.sqlite",
            clock,
            SimSleeper(clock),
            broker_db=":memory:",
            signing=policy,
            instruments=bench_instruments(),
        )
        session = Session(day="bench", open_ns=START, close_ns=START + 10**6 * MINUTE)
        swarm.market.open_session(session)
        swarm.broker.open_session(session)
        clock.set(START + MINUTE)
        swarm.broker.on_bar(_bar(START + MINUTE))  # the broker needs a price for market orders
        t0 = time.perf_counter()
        try:
            lat = asyncio.run(
                _run_batches(swarm, clock, orders, batch, lambda n, _: bar.advance(task, n))
            )
            elapsed = time.perf_counter() - t0
            fills, events = len(swarm.store.list_trades()), swarm.store.event_count()
            signed = sum(
                decode_envelope(row.body).signature is not None for row in swarm.store.iter_events()
            )
        finally:
            swarm.close()
        peer = raw_floor(orders, batch, Path(tmp))
    arr = np.array(lat)
    return {
        "bench": "pipeline",
        "orders": orders,
        "batch": batch,
        "fills": fills,
        "events_logged": events,
        "signing": sign,
        "signed_events": signed,
        "orders_per_sec": round(orders / elapsed, 1),
        "e2e_ms_p50": round(float(np.percentile(arr, 50)), 3),
        "e2e_ms_p99": round(float(np.percentile(arr, 99)), 3),
        "peer": "sqlite3 executemany, same rows, WAL+FULL, one commit per batch",
        "peer_orders_per_sec": round(peer, 1),
        "ratio_vs_peer": round((orders / elapsed) / peer, 4),
        "target_orders_per_sec": 10_000,
    }
