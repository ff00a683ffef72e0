"""Chaos against real servers (NATS JetStream, Redis Streams; each test starts its own):
the risk process is killed -9 at random points and restarted, the server is killed and
restarted mid-stream, the wire drops, duplicates, delays and reorders what is published,
and the consumer is stopped while traffic goes on. After each run: every intent admitted
once and answered once, nothing dead-lettered but what was poisoned, the log's hash chain
intact."""

from __future__ import annotations

import asyncio
import random
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from remote_kit import TraderEnd, clock_at_t0
from server_kit import Server
from tradeswarm.audit.verify import verify_log
from tradeswarm.bus.faults import FaultyTransport
from tradeswarm.bus.transport import TransportConfig
from tradeswarm.model.messages import RiskDecision, TradeIntent
from tradeswarm.store import Store
from transport_kit import config_for, connected, servers_fixture

pytestmark = pytest.mark.slow
CONSUMER = Path(__file__).with_name("risk_consumer.py")
INTENTS = 300


@pytest.fixture(params=["nats", "redis"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Server]]:
    for s in servers_fixture(request, tmp_path_factory):
        assert s is not None
        yield request.param, s


class Consumer:
    """The risk process: started, killed -9, started again."""

    def __init__(self, cfg: TransportConfig, db: Path, delay_s: float = 0.0) -> None:
        self.argv = [sys.executable, str(CONSUMER), cfg.backend, cfg.url, cfg.namespace, str(db)]
        self.argv.append(str(delay_s))
        self.proc: asyncio.subprocess.Process | None = None
        self.kills = 0
        self.output: list[str] = []  # what each run printed: shown when a test fails

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            *self.argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), 60)
        assert line.strip() == b"ready", line

    async def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
            self.kills += 1
        if self.proc is not None and self.proc.stdout is not None:
            self.output.append((await self.proc.stdout.read()).decode(errors="replace"))
        self.proc = None


def _decided(db: Path) -> int:
    with Store.open(db) as store:
        return store.count_events_of_type("RiskDecision", 0, 2**62)


async def _wait_decided(db: Path, want: int, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if db.exists() and _decided(db) >= want:
            return
        await asyncio.sleep(0.25)
    raise AssertionError(f"{_decided(db) if db.exists() else 0} of {want} decided")


async def _publish_all(trader: TraderEnd) -> None:
    """Flush until the outlet holds nothing: it keeps what the wire did not take."""
    while trader.sink.queue:
        try:
            await trader.outlet.flush()
        except Exception:
            await asyncio.sleep(0.25)


def _check_books(db: Path) -> None:
    with Store.open(db) as store:
        report, envs = verify_log(store)
        assert report.ok, report
    intents = [e.payload.intent_id for e in envs if isinstance(e.payload, TradeIntent)]
    decided = [e.payload.intent.intent_id for e in envs if isinstance(e.payload, RiskDecision)]
    assert len(intents) == len(set(intents)) == INTENTS
    assert sorted(decided) == sorted(intents)


@pytest.mark.asyncio
async def test_killing_the_consumer_at_random_loses_and_repeats_nothing(server, tmp_path):
    cfg = config_for(*server, ack_wait_s=1.0)
    db, rng = tmp_path / "risk.sqlite", random.Random(11)
    async with connected(cfg) as raw:
        # no duplicates injected here: a copy would hide a lost message (test_remote has them)
        wire = FaultyTransport(raw, seed=3, drop=0.3, reorder=0.3, delay_s=0.01)
        # the handler takes 10 ms an intent, 3 s of work in all: the kills land inside
        # units of work, between the fetch and the commit, and between commit and ack
        trader, consumer = TraderEnd(wire, clock_at_t0()), Consumer(cfg, db, delay_s=0.01)
        trader.propose(INTENTS)
        await _publish_all(trader)
        assert wire.injected["drop"] > 0
        for _ in range(6):
            await consumer.start()
            await asyncio.sleep(rng.uniform(0.2, 0.6))
            await consumer.kill()
        assert consumer.kills == 6 and _decided(db) < INTENTS  # killed before done
        await consumer.start()
        try:
            await _wait_decided(db, INTENTS)
        except AssertionError:
            await consumer.kill()
            raise AssertionError("\n".join(consumer.output)[-3000:]) from None
        await asyncio.sleep(2.0)  # redeliveries of what the dead took: duplicates only
        await consumer.kill()
        assert await raw.dead_letters() == []
    _check_books(db)


@pytest.mark.asyncio
async def test_a_server_restart_mid_stream_loses_nothing(server, tmp_path):
    backend, srv = server
    cfg = config_for(backend, srv, ack_wait_s=1.0)
    db = tmp_path / "risk.sqlite"
    consumer = Consumer(cfg, db)
    async with connected(cfg) as t:
        trader = TraderEnd(t, clock_at_t0())
        await consumer.start()
        trader.propose(INTENTS // 2)
        await _publish_all(trader)
        await _wait_decided(db, 10)
        srv.kill()  # kill -9 the server mid-stream; publishing goes on against it
        trader.propose(INTENTS // 2, start=INTENTS // 2)
        publishing = asyncio.create_task(_publish_all(trader))
        await asyncio.sleep(4.0)  # long enough for three timed-out attempts in a row
        assert not publishing.done(), "nothing can be published while the server is down"
        srv.start()
        await asyncio.wait_for(publishing, 60)
        await _wait_decided(db, INTENTS)
        await consumer.kill()
        assert trader.outlet.resilient.breaker.trips >= 1  # the breaker opened meanwhile
    _check_books(db)


@pytest.mark.asyncio
async def test_a_consumer_stopped_for_a_while_catches_up(server, tmp_path):
    cfg = config_for(*server, ack_wait_s=1.0)
    db = tmp_path / "risk.sqlite"
    consumer = Consumer(cfg, db)
    async with connected(cfg) as t:
        trader = TraderEnd(t, clock_at_t0())
        await consumer.start()
        trader.propose(50)
        await _publish_all(trader)
        await _wait_decided(db, 50)
        await consumer.kill()
        for step in range(5):  # the consumer is away while 250 more go out
            trader.propose(50, start=50 + step * 50)
            await _publish_all(trader)
            await asyncio.sleep(0.5)
        await consumer.start()
        await _wait_decided(db, INTENTS)
        await consumer.kill()
    _check_books(db)
