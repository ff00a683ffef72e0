"""`tradeswarm up`: the demo's day as separate OS processes (the analyzer and the trader
each in its own, the kernel with the log and the broker in a third) on a real server:
NATS JetStream with the store on PostgreSQL, Redis Streams with SQLite. The same story
and books as the in-process demo; after a kill -9 of the trader's process mid-day, the
supervisor restarts it, the kernel rebuilds it from its journal, and the day still
tells the same story; `audit verify --all` is clean either way."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
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
    """(config, store) of a swarm on the test's own server (`request.node.server`)."""
    backend = request.param.split("+")[0]
    srv: Server = (NatsServer if backend == "nats" else RedisServer)(tmp_path).start()
    request.node.server = srv
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
    config: Path,
    db: str,
    logs: Path,
    at: str | None = None,
    do: Callable[[], None] | None = None,
    until: str | None = None,
) -> tuple[int, str, str]:
    """`up`'s exit code, stdout and stderr; do() runs once the story reaches at."""
    argv = [*TRADESWARM, "up", "--config", str(config), "--db", db, "--logs", str(logs)]
    argv += [] if until is None else ["--until", until]
    with subprocess.Popen(  # in logs' folder: a PostgreSQL store's witness file lands there
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=logs.parent
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if at is not None and do is not None and line.startswith(at):
                do()
                at = None
        err = proc.stderr.read()
        return proc.wait(timeout=600), "".join(lines), err


def _kill_9(pattern: str) -> None:
    """kill -9 the one process whose command line holds pattern."""
    found = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True, check=False)
    pids = [int(p) for p in found.stdout.split()]
    assert len(pids) == 1, found
    os.kill(pids[0], signal.SIGKILL)
    time.sleep(0.2)


def _verify(db: str, cwd: Path) -> str:
    done = subprocess.run(
        [*TRADESWARM, "audit", "verify", "--all", "--db", db, "--demo-keys"],
        check=False,
        cwd=cwd,
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
    _verify(db, tmp_path)


@pytest.mark.parametrize("slot", ["trader", "analyzer"])
def test_an_agent_killed_mid_day_is_restarted_and_the_day_is_the_same(
    setup: tuple[Path, str], tmp_path: Path, reference: list[str], slot: str
) -> None:
    config, db = setup
    kill = lambda: _kill_9(f"run {slot} --config {config}")
    code, out, err = _up(config, db, tmp_path / "logs", "09:30:00", kill)
    assert code == 0, err
    assert _story(out) == reference
    log = (tmp_path / "logs" / f"{slot}.log").read_text()
    assert log.count(f"ready {slot}") == 2, log  # started, killed, restarted
    _verify(db, tmp_path)


def test_a_kernel_killed_mid_day_resumes_to_the_same_books(
    setup: tuple[Path, str], tmp_path: Path, reference: list[str]
) -> None:
    """kill -9 of the kernel (the log's writer) at 09:30 ends `up`; a new `up` on the
    same store resumes with new agent processes: the day ends in the same books."""
    config, db = setup
    kill = lambda: _kill_9(f"demo --config {config}")
    code, _, _ = _up(config, db, tmp_path / "logs", "09:30:00", kill)
    assert code == 128 + signal.SIGKILL
    code, out, err = _up(config, db, tmp_path / "logs")
    assert code == 0, err
    assert "(resumed this store after" in out
    assert _tail(out.splitlines()) == _tail(reference)
    _verify(db, tmp_path)


def _tail(lines: list[str]) -> list[str]:
    """The end-of-day summary and the books line."""
    start = next(i for i, line in enumerate(lines) if line.startswith("end-of-day"))
    end = next(i for i, line in enumerate(lines) if line.startswith("books:"))
    return lines[start : end + 1]


@pytest.fixture(scope="module")
def resumed_reference(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The in-process demo stopped at 10:00 and resumed: the second run's story."""
    db = tmp_path_factory.mktemp("resumed") / "ref.sqlite"
    subprocess.run(
        [*TRADESWARM, "demo", "--db", str(db), "--until", "10:00"], check=True, capture_output=True
    )
    done = subprocess.run(
        [*TRADESWARM, "demo", "--db", str(db)], capture_output=True, text=True, check=True
    )
    return _story(done.stdout)


def test_a_stopped_swarm_resumes_in_new_processes_as_it_does_in_one(
    setup: tuple[Path, str], tmp_path: Path, resumed_reference: list[str]
) -> None:
    """The kernel stops at 10:00; a new `up` starts new agent processes, which the new
    kernel rebuilds from its log and the bars (a new epoch): the rest of the day is the
    in-process resume's."""
    config, db = setup
    first = _up(config, db, tmp_path / "logs", until="10:00")
    assert first[0] == 0 and "stopped at 10:00 as asked" in first[1], first[2]
    code, out, err = _up(config, db, tmp_path / "logs")
    assert code == 0, err
    assert _story(out) == resumed_reference
    _verify(db, tmp_path)


def test_a_halt_from_another_process_stops_the_kernels_trading(
    setup: tuple[Path, str], tmp_path: Path
) -> None:
    """A human signs a kill on another process (on the store's host, or anywhere that
    reaches the PostgreSQL store); the kernel's gate logs it at its next bar, the risk
    manager denies every new trade and no order reaches the broker after it."""
    config, db = setup
    assert _up(config, db, tmp_path / "logs", until="10:00")[0] == 0
    human = ["--as", "jane.doe@desk", "--demo-key", "--reason", "drill"]
    halt = subprocess.run(
        [*TRADESWARM, "killswitch", "activate", "--db", db, *human],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert halt.returncode == 0, halt.stderr
    code, out, err = _up(config, db, tmp_path / "logs")
    assert code == 0, err
    denials = [line for line in out.splitlines() if "DENY" in line]
    assert denials and all("kill switch is active" in line for line in denials)
    assert "ACKNOWLEDGED" not in out and " FILL " not in out  # nothing new reached the broker
    assert "books: 4 orders, 4 fills" in out  # the morning's, and no more
    _verify(db, tmp_path)


def test_a_day_traced_off_the_server_replays_byte_for_byte_without_it(
    setup: tuple[Path, str], tmp_path: Path
) -> None:
    """`trace record` reads the agents' answers back from the server; `trace replay`
    runs a fresh kernel on a new SQLite store with no server and no agent process: the
    same output, byte for byte (the same signed envelopes in the same log)."""
    config, db = setup
    code, out, err = _up(config, db, tmp_path / "logs")
    assert code == 0, err
    trace = tmp_path / "day.trace"
    recorded = subprocess.run(
        [*TRADESWARM, "trace", "record", "--config", str(config), "--out", str(trace)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert recorded.returncode == 0 and "trader:" in recorded.stdout, recorded.stderr
    replayed = subprocess.run(
        [
            *TRADESWARM,
            "trace",
            "replay",
            str(trace),
            "--config",
            str(config),
            "--db",
            str(tmp_path / "r.sqlite"),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert replayed.returncode == 0, replayed.stderr
    assert replayed.stdout == out


def test_a_server_restarted_mid_day_changes_nothing(
    setup: tuple[Path, str], tmp_path: Path, reference: list[str], request: pytest.FixtureRequest
) -> None:
    """kill -9 of the bus server at 09:30, back a second later on the same port and
    data: the kernel and the agents resend and rejoin; the day is the same."""
    config, db = setup
    server: Server = request.node.server

    def restart() -> None:
        server.kill()
        time.sleep(1.0)
        server.start()

    code, out, err = _up(config, db, tmp_path / "logs", "09:30:00", restart)
    assert code == 0, err
    assert _story(out) == reference
    logs = "".join(p.read_text() for p in (tmp_path / "logs").glob("*.log"))
    assert "the wire failed" in logs  # the restart did land mid-day
    _verify(db, tmp_path)


def test_an_agent_stopped_past_the_call_timeout_stops_the_day_and_a_new_up_resumes_it(
    setup: tuple[Path, str], tmp_path: Path, reference: list[str]
) -> None:
    """SIGSTOP of the trader's process at 09:30, for longer than `call_timeout_s` (3 s
    here): the kernel waits, then stops the day with one line naming the agent and the
    call (its bar's unit of work rolled back), and `up` stops every process. A new `up`
    resumes the day to the same books."""
    config, db = setup
    config.write_text(config.read_text() + "call_timeout_s = 3.0\ncall_retry_s = 0.5\n")
    stopped: list[int] = []

    def stop_trader() -> None:
        found = subprocess.run(
            ["pgrep", "-f", f"run trader --config {config}"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        stopped.extend(int(p) for p in found.stdout.split())
        for pid in stopped:
            os.kill(pid, signal.SIGSTOP)

    code, _, err = _up(config, db, tmp_path / "logs", "09:30:00", stop_trader)
    for pid in stopped:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)
    assert code == 2 and stopped, err
    kernel_log = (tmp_path / "logs" / "kernel.log").read_text()
    assert "trader did not answer call" in kernel_log and "within 3.0 s" in kernel_log
    assert "Traceback" not in kernel_log
    code, out, err = _up(config, db, tmp_path / "logs")
    assert code == 0, err
    assert _tail(out.splitlines()) == _tail(reference)
    _verify(db, tmp_path)
