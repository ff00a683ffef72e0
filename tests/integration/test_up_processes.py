"""`tradeswarm up`: the demo's day as separate OS processes (the analyzer and the trader
each in its own, the kernel with the log and the broker in a third) on a real server:
NATS JetStream with the store on PostgreSQL, Redis Streams with SQLite. The same story
and books as the in-process demo; after a kill -9 of the trader's process mid-day, the
supervisor restarts it, the kernel rebuilds it from its journal, and the day still
tells the same story; `audit verify --all` is clean either way."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pg_kit import fresh_database
from server_kit import NatsServer, RedisServer, Server

pytestmark = pytest.mark.slow
TRADESWARM = [sys.executable, "-m", "tradeswarm.cli.main"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    db = tmp_path_factory.mktemp("ref") / "ref.sqlite"
    done = subprocess.run(
        [*TRADESWARM, "demo", "--db", str(db)], capture_output=True, text=True, check=True
    )
    return _story(done.stdout)


def _story(out: str) -> list[str]:
    """The story and the books, less the per-order audit lines (signature counts grow:
    an agent in its own process signs every envelope it sends)."""
    return [line for line in out.splitlines() if not line.startswith("  ✓ order ")]


@pytest.fixture(params=["nats+postgresql", "redis+sqlite"])
def setup(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Path, str]]:
    backend = request.param.split("+")[0]
    srv: Server = (NatsServer if backend == "nats" else RedisServer)(tmp_path).start()
    config = tmp_path / "swarm.toml"
    config.write_text(
        f'[bus]\nbackend = "{backend}"\nurl = "{srv.url}"\nnamespace = "up"\n'
        'remote_agents = ["analyzer", "trader"]\nack_wait_s = 1.0\n'
    )
    try:
        if request.param.endswith("postgresql"):
            with fresh_database() as url:
                yield config, url
        else:
            yield config, str(tmp_path / "swarm.sqlite")
    finally:
        srv.kill()


def _up(
    config: Path, db: str, logs: Path, kill_trader_at: str | None = None
) -> tuple[int, str, str]:
    argv = [*TRADESWARM, "up", "--config", str(config), "--db", db, "--logs", str(logs)]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if kill_trader_at is not None and line.startswith(kill_trader_at):
                _kill_9(config, "trader")
                kill_trader_at = None
        err = proc.stderr.read()
        return proc.wait(timeout=600), "".join(lines), err


def _kill_9(config: Path, slot: str) -> None:
    found = subprocess.run(
        ["pgrep", "-f", f"run {slot} --config {config}"],
        capture_output=True,
        text=True,
        check=False,
    )
    pids = [int(p) for p in found.stdout.split()]
    assert len(pids) == 1, found
    os.kill(pids[0], signal.SIGKILL)
    time.sleep(0.2)


def _verify(db: str) -> str:
    done = subprocess.run(
        [*TRADESWARM, "audit", "verify", "--all", "--db", db, "--demo-keys"],
        check=False,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_up_tells_the_in_process_story(
    setup: tuple[Path, str], tmp_path: Path, reference: list[str]
) -> None:
    config, db = setup
    code, out, err = _up(config, db, tmp_path / "logs")
    assert code == 0, err
    assert _story(out) == reference
    for name in ("analyzer", "trader", "kernel"):
        assert name in err and (tmp_path / "logs" / f"{name}.log").exists()
    assert (
        "ready analyzer as market-analyzer:market-analyzer-01"
        in (tmp_path / "logs" / "analyzer.log").read_text()
    )
    _verify(db)


def test_a_trader_killed_mid_day_is_restarted_and_the_day_is_the_same(
    setup: tuple[Path, str], tmp_path: Path, reference: list[str]
) -> None:
    config, db = setup
    code, out, err = _up(config, db, tmp_path / "logs", kill_trader_at="09:30:00")
    assert code == 0, err
    assert _story(out) == reference
    trader_log = (tmp_path / "logs" / "trader.log").read_text()
    assert trader_log.count("ready trader") == 2, trader_log  # started, killed, restarted
    _verify(db)
