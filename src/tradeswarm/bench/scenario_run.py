"""`bench pipeline --scenario`: a swarm driven by a scenario's traffic, and its peers.

Each unit of work offers `batch` intents at the scenario's rate of simulated time: a
bar per symbol, the intents published by their agents (each agent's share of the unit
as one burst), decided, sent, filled at the next bar, booked, and committed durably
(SQLite WAL, synchronous=FULL) with every envelope in the signed log. An order's
end-to-end time runs from its intent's publication to the commit that makes its fill
durable. Wall time is split into stages: the bus's per-handler timing
(`InProcessBus.timing`) and the steps between deliveries.

Peers, same run: the naive design (every handler one message at a time, every envelope
signed on its own, cedarpy as the gate) on a share of the orders, and the raw floor
(`bench.pipeline`'s sqlite `executemany` of the same rows). `shards=N` runs N
processes, each a whole swarm over a disjoint share of the symbols and agents.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import multiprocessing
import os
import resource
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from tradeswarm.bench.pipeline import MINUTE, START, raw_floor
from tradeswarm.bench.scenarios import Scenario, Traffic, scenario, units
from tradeswarm.bus.identity import Identity
from tradeswarm.bus.inproc import MAX_BATCH, Publisher
from tradeswarm.bus.topics import INTENTS, RISK_DECISIONS, Role
from tradeswarm.core.clock import SimClock, SimSleeper
from tradeswarm.crypto.contexts import NON_REPUDIABLE, SigningPolicy
from tradeswarm.instruments import load_master
from tradeswarm.model.envelope import Envelope
from tradeswarm.model.market import Session
from tradeswarm.model.messages import TradeIntent
from tradeswarm.risk.limits import EngineKind, RiskLimits
from tradeswarm.system.config import BusConfig, FeeConfig, SwarmConfig
from tradeswarm.system.swarm import Swarm

NAIVE_SHARE = 20  # the naive peer runs 1/NAIVE_SHARE of the orders (at least one batch)


def scenario_config(sc: Scenario, traffic: Traffic, naive: bool) -> SwarmConfig:
    """Limits out of reach but every control evaluated (as `bench_config`), the
    oversight threshold at the scenario's quantile, the volatility breaker above the
    scenario's volatility (else high_volatility would be all denials)."""
    huge = Decimal(10) ** 12
    return SwarmConfig(
        symbol=traffic.symbols[0],
        initial_cash=huge,
        quote_spread=Decimal("0.02"),  # the synthetic quotes' bid-ask: 2 cents
        risk=RiskLimits(
            position_limit=huge,
            max_concentration=2.0,
            max_daily_loss=huge,
            agent_tiers={a: "professional" for a in traffic.agents},
            max_intents_per_second=10**9,
            max_intents_per_minute=10**9,
            max_open_orders=10**9,
            max_gross_exposure=huge,
            max_order_quantity=huge,
            duplicate_window_s=0,
            min_history_bars=1,
            oversight_threshold=sc.oversight_threshold(),
            volatility_limit=10.0,
            engine=EngineKind.CEDARPY if naive else EngineKind.COMPILED,
        ),
        broker=FeeConfig(participation=Decimal(1), rate_limit_per_sec=10**9),
        bus=BusConfig(max_batch=1 if naive else MAX_BATCH),
    )


class Stages:
    """Seconds per stage of the run."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds

    @contextmanager
    def timed(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        yield
        self.add(name, time.perf_counter() - started)


def _build(sc: Scenario, traffic: Traffic, folder: Path, naive: bool) -> tuple[Swarm, SimClock]:
    clock = SimClock(START)
    policy = SigningPolicy(per_message_types=NON_REPUDIABLE if naive else frozenset())
    swarm = Swarm(
        scenario_config(sc, traffic, naive),
        folder / ("naive.sqlite" if naive else "swarm.sqlite"),
        clock,
        SimSleeper(clock),
        broker_db=":memory:",
        signing=policy,
        instruments=load_master().with_instruments(*traffic.instruments()),
        broker_symbols=traffic.symbols,
        burst=not naive,
    )
    session = Session(day="bench", open_ns=START, close_ns=START + 10**6 * MINUTE)
    swarm.market.open_session(session)
    swarm.broker.open_session(session)
    swarm.market.halted.update(traffic.halted)
    clock.set(START + MINUTE)
    for bar in traffic.bars(START + MINUTE):
        swarm.market.on_bar(bar)
        swarm.broker.on_bar(bar)  # the broker needs a price for market orders
    return swarm, clock


def _publish(
    publishers: dict[str, Publisher], intents: list[TradeIntent], naive: bool
) -> list[float]:
    """Each agent's intents of the unit, as one burst (naive: one message at a time);
    returns when each intent was out."""
    by_agent: dict[str, list[TradeIntent]] = {}
    for intent in intents:
        by_agent.setdefault(intent.agent_id, []).append(intent)
    sent: list[float] = []
    for agent, mine in by_agent.items():
        if naive:
            for intent in mine:
                publishers[agent].publish(INTENTS, intent, key=str(intent.intent_id))
                sent.append(time.perf_counter())
        else:
            items = [(i, str(i.intent_id), None) for i in mine]
            publishers[agent].publish_many(INTENTS, items)
            sent.extend([time.perf_counter()] * len(mine))
    return sent


async def _unit(
    swarm: Swarm, clock: SimClock, traffic: Traffic, unit: tuple[int, int], run: _Run
) -> list[float]:
    count, dt = unit
    ts = clock.now_ns() + dt
    clock.set(ts)
    with run.stages.timed("market data"):
        traffic.step()
        for bar in traffic.bars(ts):
            swarm.market.on_bar(bar)
    intents = list(traffic.intents(count, ts))
    with swarm.store.transaction():
        with run.stages.timed("trader publish + sign"):
            sent = _publish(run.publishers, intents, run.naive)
        await swarm.bus.drain()
        clock.set(ts + dt // 2)
        with run.stages.timed("paper broker matching"):
            for bar in traffic.bars(ts + dt // 2):
                swarm.broker.on_bar(bar)
        with run.stages.timed("execution sync (fills booked)"):
            await swarm.execution.sync()
        await swarm.bus.drain()
        committing = time.perf_counter()
    done = time.perf_counter()
    run.stages.add("store commit", done - committing)
    return [(done - s) * 1e3 for s in sent]


async def _drive(
    swarm: Swarm,
    clock: SimClock,
    traffic: Traffic,
    plan: Iterator[tuple[int, int]],
    run: _Run,
    tick: Callable[[int], None],
) -> list[float]:
    latencies: list[float] = []
    for unit in plan:
        latencies += await _unit(swarm, clock, traffic, unit, run)
        tick(unit[0])
    return latencies


class _Run:
    def __init__(self, swarm: Swarm, traffic: Traffic, naive: bool) -> None:
        self.naive = naive
        self.stages = Stages()
        self.verdicts: dict[str, int] = {}
        for agent in traffic.agents:
            swarm.identities.enroll(agent, Role.TRADER)
        self.publishers = {a: swarm.bus.attach(Identity(a, Role.TRADER)) for a in traffic.agents}
        swarm.bus.subscribe_batch(RISK_DECISIONS, self._count)

    async def _count(self, envs: list[Envelope]) -> None:
        for env in envs:
            verdict = str(env.payload.verdict)  # type: ignore[union-attr]
            self.verdicts[verdict] = self.verdicts.get(verdict, 0) + 1


def run_one(
    sc: Scenario,
    orders: int,
    batch: int,
    naive: bool = False,
    part: tuple[int, int] = (0, 1),
    tick: Callable[[int], None] = lambda n: None,
) -> dict[str, Any]:
    """One swarm through orders of the scenario; its figures."""
    traffic = Traffic(sc, part=part)
    with tempfile.TemporaryDirectory() as tmp:
        swarm, clock = _build(sc, traffic, Path(tmp), naive)
        try:
            run = _Run(swarm, traffic, naive)
            swarm.bus.timing = {}
            started = time.perf_counter()
            latencies = asyncio.run(
                _drive(swarm, clock, traffic, units(sc, orders, batch), run, tick)
            )
            elapsed = time.perf_counter() - started
            fills = swarm.store.trade_count()  # counted, not read: 1M Fills would be RSS
            for name, seconds in swarm.bus.timing.items():
                run.stages.add(name, seconds)
        finally:
            swarm.close()
    return _figures(orders, elapsed, latencies, fills, run)


def _figures(
    orders: int, elapsed: float, latencies: list[float], fills: int, run: _Run
) -> dict[str, Any]:
    arr = np.array(latencies)
    seconds = dict(run.stages.seconds)
    # what no stage covers: making the synthetic intents and bars, the loop (counted in
    # the wall time, so against the swarm)
    seconds["other (synthetic traffic, loop)"] = max(0.0, elapsed - sum(seconds.values()))
    stages = sorted(seconds.items(), key=lambda kv: -kv[1])
    return {
        "orders": orders,
        "seconds": round(elapsed, 3),
        "orders_per_sec": round(orders / elapsed, 1),
        "verdicts": dict(sorted(run.verdicts.items())),
        "fills": fills,
        "e2e_ms_p50": round(float(np.percentile(arr, 50)), 3),
        "e2e_ms_p95": round(float(np.percentile(arr, 95)), 3),
        "e2e_ms_p99": round(float(np.percentile(arr, 99)), 3),
        "stage_share": {name: round(sec / elapsed, 4) for name, sec in stages},
    }


def _shard(args: tuple[str, int, int, int, int]) -> dict[str, Any]:
    name, orders, batch, k, n = args
    return run_one(scenario(name), orders, batch, part=(k, n))


def run_shards(name: str, orders: int, batch: int, shards: int) -> dict[str, Any]:
    """shards processes, each a swarm over its share of the symbols and agents and of
    the orders, started together; the aggregate rate over the slowest one's time."""
    context = multiprocessing.get_context("spawn")
    share = [orders // shards + (k < orders % shards) for k in range(shards)]
    started = time.perf_counter()
    with concurrent.futures.ProcessPoolExecutor(shards, mp_context=context) as pool:
        jobs = [(name, share[k], batch, k, shards) for k in range(shards)]
        results = list(pool.map(_shard, jobs))
    wall = time.perf_counter() - started
    slowest = max(r["seconds"] for r in results)
    return {
        "processes": shards,
        "orders_per_sec": round(orders / slowest, 1),
        "orders_per_sec_incl_start_up": round(orders / wall, 1),
        "per_process_orders_per_sec": [r["orders_per_sec"] for r in results],
        "e2e_ms_p95_worst": max(r["e2e_ms_p95"] for r in results),
    }


def run_scenario_bench(
    name: str, orders: int | None, batch: int, shards: int = 1, progress: bool = True
) -> dict[str, Any]:
    """The scenario through the swarm, the naive peer and the raw floor (and shards)."""
    from rich.progress import Progress

    sc = scenario(name)
    orders = orders or sc.initial_burst + 5 * sc.offered_per_sec
    naive_orders = max(batch, orders // NAIVE_SHARE)
    with Progress(disable=not progress) as bar:
        task = bar.add_task(name, total=orders)
        main = run_one(sc, orders, batch, tick=lambda n: bar.advance(task, n))
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    naive = run_one(sc, naive_orders, batch, naive=True)
    with tempfile.TemporaryDirectory() as tmp:
        floor = raw_floor(orders, batch, Path(tmp))
    result = {
        "bench": "pipeline",
        "scenario": sc.name,
        "offered_per_sec": sc.offered_per_sec,
        "initial_burst": sc.initial_burst,
        "agents": sc.agents,
        "symbols": sc.symbols,
        "halted_symbols": round(sc.symbols * sc.halted_share),
        "oversight_threshold": str(sc.oversight_threshold()),
        "batch": batch,
        **main,
        "keeps_up": main["orders_per_sec"] >= sc.offered_per_sec,
        "peak_rss_mb": round(peak_rss_mb, 1),
        "naive_peer": {"design": "one message at a time, per-message signatures, cedarpy gate"}
        | naive,
        "speedup_vs_naive": round(main["orders_per_sec"] / naive["orders_per_sec"], 2),
        "raw_floor": "sqlite3 executemany of an order and a fill row per order, WAL+FULL",
        "raw_floor_orders_per_sec": round(floor, 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "target_orders_per_sec": 10_000,
        "target_e2e_ms_p95": 50,
    }
    if shards > 1:
        result["shards"] = run_shards(name, orders, batch, shards)
    return result
