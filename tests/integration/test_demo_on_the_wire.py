"""The demo with `[bus]` on a real server (NATS JetStream, Redis Streams; the test's own):
the same story byte for byte, and every entry of its log on the wire, each once, in log
order per subject; after a kill -9 mid-day and a resume, still every entry; an absent
server stops the demo before it creates anything."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from server_kit import NatsServer, RedisServer, Server, free_port
from tradeswarm.bus.transport import TransportConfig, subject_of
from tradeswarm.store import Store
from transport_kit import connected

pytestmark = pytest.mark.slow
DEMO_MD5 = "e08d7ebd62e4b3263f4877ed6da9e2b4"
TRADESWARM = [sys.executable, "-m", "tradeswarm.cli.main"]


@pytest.fixture(params=["nats", "redis"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    srv = (NatsServer if request.param == "nats" else RedisServer)(tmp_path).start()
    try:
        yield srv
    finally:
        srv.kill()


def _config(tmp_path: Path, backend: str, url: str) -> tuple[Path, TransportConfig]:
    path = tmp_path / "swarm.toml"
    path.write_text(f'[bus]\nbackend = "{backend}"\nurl = "{url}"\nnamespace = "wire"\n')
    return path, TransportConfig(backend=backend, url=url, namespace="wire")


def _demo(config: Path, db: Path, **kw: object) -> subprocess.CompletedProcess[bytes]:
    argv = [*TRADESWARM, "demo", "--db", str(db), "--config", str(config)]
    return subprocess.run(argv, capture_output=True, timeout=600, check=False, **kw)  # type: ignore[call-overload]


class _Topic(msgspec.Struct):
    topic: str


def _log(db: Path) -> list[tuple[str, bytes]]:
    with Store.open(db) as store:
        rows = list(store.iter_events())
    return [(msgspec.json.decode(r.body, type=_Topic).topic, r.body) for r in rows]


async def _read_wire(cfg: TransportConfig, topics: set[str], want: int) -> list[tuple[str, bytes]]:
    async with connected(cfg) as t:
        subjects = sorted(subject_of(cfg.namespace, topic) for topic in topics)
        consumer = await t.consumer(subjects, "reader", "r1")
        got: list[tuple[str, bytes]] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            batch = await consumer.fetch(1000, 0.5)
            if not batch and len(got) >= want:
                break
            got += [(d.subject.split(".", 1)[1], d.data) for d in batch]
            await consumer.ack_many(batch)
        await consumer.close()
    return got


def _per_topic(entries: list[tuple[str, bytes]]) -> dict[str, list[bytes]]:
    out: dict[str, list[bytes]] = {}
    for topic, body in entries:
        out.setdefault(topic, []).append(body)
    return out


def test_the_demo_streams_its_whole_log_and_tells_the_same_story(server, tmp_path) -> None:
    config, cfg = _config(tmp_path, server.name, server.url)
    db = tmp_path / "d.sqlite"
    done = _demo(config, db)
    assert done.returncode == 0, done.stderr.decode()
    assert hashlib.md5(done.stdout).hexdigest() == DEMO_MD5
    log = _log(db)
    wire = asyncio.run(_read_wire(cfg, {t for t, _ in log}, len(log)))
    assert _per_topic(wire) == _per_topic(log)  # each entry once, in log order per subject


def test_a_demo_killed_mid_day_and_resumed_leaves_every_entry_on_the_wire(server, tmp_path):
    config, cfg = _config(tmp_path, server.name, server.url)
    db = tmp_path / "d.sqlite"
    argv = [*TRADESWARM, "demo", "--db", str(db), "--config", str(config)]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (db.exists() and _progress(db) >= 15):
        time.sleep(0.1)
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL, "the demo ended before it could be killed mid-day"
    assert _demo(config, db).returncode == 0  # resumes
    log = _log(db)
    wire = asyncio.run(_read_wire(cfg, {t for t, _ in log}, len(log)))
    on_wire = _per_topic(wire)
    for topic, bodies in _per_topic(log).items():  # at least once, in order, copies adjacent
        assert _dedup(on_wire[topic]) == bodies, topic


def _progress(db: Path) -> int:
    try:
        with Store.open(db) as store:
            return store.count_events_of_type("MarketSignal", 0, 2**62)  # 45 in a whole day
    except Exception:
        return 0


def _dedup(bodies: list[bytes]) -> list[bytes]:
    seen: set[bytes] = set()
    return [b for b in bodies if not (b in seen or seen.add(b))]  # type: ignore[func-returns-value]


@pytest.mark.parametrize("backend", ["nats", "redis"])
def test_an_absent_server_stops_the_demo_before_it_creates_anything(backend, tmp_path) -> None:
    config, _ = _config(tmp_path, backend, f"{backend}://127.0.0.1:{free_port()}")
    db = tmp_path / "d.sqlite"
    done = _demo(config, db)
    assert done.returncode == 2 and b"bus.url" in done.stderr and b"Traceback" not in done.stderr
    assert not db.exists() and not list(tmp_path.glob("d.sqlite*"))
