"""`tradeswarm bench processes`: the demo's day with its analyzer and trader in OS
processes of their own, against the same day in one process, in the same run.

The kernel runs in this process every time, on the SimClock and a SQLite store in a
temporary folder, through `system.demo.run_demo` (the path `tradeswarm up` takes):
- `inprocess`: every agent in the kernel: the peer, what the separation costs;
- per backend (nats, redis): the analyzer and the trader as `tradeswarm run SLOT`
  processes on the server: wall seconds, bars per second, the kernel's calls, and each
  call's round trip as the kernel waits for it (first send to answer, p50/p99);
- `raw_nats_request`: nats-py request/reply of the same sealed call boxes, echoed back
  (an answer's box is about a call's size), one at a time, both ends in one process:
  the floor of a round trip of those bytes on that server.
Each run's story must be the in-process one (less the per-order audit lines, whose
signature counts grow): a benchmark of a different day would compare nothing."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from tradeswarm.bus.factory import open_transport
from tradeswarm.core.errors import InvariantViolation, TradeswarmError
from tradeswarm.core.percentiles import p50_p99_ms
from tradeswarm.data.csv_bars import bundled_bars
from tradeswarm.data.replay import pick_day, split_days
from tradeswarm.system.config import SwarmConfig, load_config
from tradeswarm.system.demo import run_demo
from tradeswarm.system.swarm import Swarm
from tradeswarm.system.trace import keyrings_for, record

SLOTS = ("analyzer", "trader")
URLS = {"nats": "nats://127.0.0.1:4222", "redis": "redis://127.0.0.1:6379/0"}


def _story(lines: Sequence[str]) -> list[str]:
    return [line for line in lines if not line.startswith("  ✓ order ")]


async def _day(config: SwarmConfig, db: Path, wire: Any = None) -> tuple[float, list[str], Swarm]:
    out: list[str] = []
    seen: list[Swarm] = []
    started = time.perf_counter()
    await run_demo(db, config, lambda line: out.append(str(line)), wire=wire, seen=seen)
    return time.perf_counter() - started, out, seen[0]


@contextlib.contextmanager
def _agents(config_file: Path) -> Iterator[None]:
    """`tradeswarm run SLOT` for each slot, ready; terminated afterwards."""
    base = [sys.executable, "-m", "tradeswarm.cli.main", "run"]
    procs = [
        subprocess.Popen(
            [*base, s, "--config", str(config_file)], stdout=subprocess.PIPE, text=True
        )
        for s in SLOTS
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if not line.startswith("ready"):
                raise TradeswarmError(f"an agent process did not start: {line!r}")
        yield
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(10)
            if proc.stdout is not None:
                proc.stdout.close()


async def _remote_day(
    backend: str, url: str, folder: Path, reference: list[str]
) -> tuple[dict[str, Any], list[bytes]]:
    namespace = f"bench{os.getpid()}{int(time.time()) % 100_000}"
    config_file = folder / f"{backend}.toml"
    config_file.write_text(
        f'[bus]\nbackend = "{backend}"\nurl = "{url}"\nnamespace = "{namespace}"\n'
        f"remote_agents = {list(SLOTS)!r}\n".replace("'", '"')
    )
    config = load_config(config_file)
    with _agents(config_file):
        wire = open_transport(config.bus.transport())
        await wire.connect()
        seconds, out, swarm = await _day(config, folder / f"{backend}.sqlite", wire)
        reader = open_transport(config.bus.transport())
        await reader.connect()
        try:
            trace = await record(reader, SLOTS, keyrings_for(config), idle_s=0.5)
        finally:
            await reader.close()
    if _story(out) != reference:
        raise InvariantViolation(f"the {backend} day told another story than the in-process one")
    latencies = [s for a in swarm.remote for s in a.client.latencies_s]
    calls = {a.client.channel: len(a.client.latencies_s) for a in swarm.remote}
    answers = [step.answer for steps in trace.channels.values() for step in steps]
    sent = [body for a in swarm.remote for body in a.client.journal]  # sealed, as on the wire
    result = {
        "backend": backend,
        "seconds": round(seconds, 3),
        "bars_per_s": round(_bars(config) / seconds, 1),
        "calls": calls,
        "call_round_trip": p50_p99_ms(latencies),
        "answer_plain_bytes_mean": round(sum(map(len, answers)) / max(1, len(answers))),
        "call_box_bytes_mean": round(sum(map(len, sent)) / max(1, len(sent))),
    }
    return result, sent


async def _raw_nats(url: str, payloads: list[bytes]) -> dict[str, Any]:
    import nats

    nc = await nats.connect(url)
    try:

        async def echo(msg: Any) -> None:
            await msg.respond(msg.data)

        await nc.subscribe("bench.raw.echo", cb=echo)
        latencies = []
        for payload in payloads:
            started = time.perf_counter()
            await nc.request("bench.raw.echo", payload, timeout=5)
            latencies.append(time.perf_counter() - started)
    finally:
        await nc.close()
    return {"requests": len(payloads), "round_trip": p50_p99_ms(latencies)}


def _bars(config: SwarmConfig) -> int:
    """How many bars the configured day has (the demo's data)."""
    return len(pick_day(split_days(bundled_bars()), config.day)[1].bars)


def run_processes_bench(
    backends: Sequence[str], urls: dict[str, str] | None = None
) -> dict[str, Any]:
    """See the module docstring."""
    where = {**URLS, **(urls or {})}
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config = load_config(None)
        seconds, out, _ = asyncio.run(_day(config, folder / "inprocess.sqlite"))
        reference = _story(out)
        runs, raw = [], None
        for backend in backends:
            result, sent = asyncio.run(_remote_day(backend, where[backend], folder, reference))
            runs.append(result)
            if backend == "nats":
                raw = asyncio.run(_raw_nats(where["nats"], sent))
    return {
        "benchmark": "processes",
        "day": f"the demo's {config.day} ({_bars(config)} bars), analyzer and trader remote",
        "inprocess": {
            "seconds": round(seconds, 3),
            "bars_per_s": round(_bars(config) / seconds, 1),
        },
        "backends": runs,
        "raw_nats_request": raw,
        "load_average_start": [round(x, 2) for x in load_start],
        "load_average_end": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
    }
