"""Private NATS and Redis servers for the bus tests: each on a free port, in its own
directory, so a test may kill -9 and restart it without touching the machine's shared
services. The binaries come from Debian's packages (nats-server, redis-server); a missing
one fails the test loudly, never skips it."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

NATS_BIN = "/usr/sbin/nats-server"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, proc: subprocess.Popen[bytes], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {port} within {timeout} s")


class Server:
    """One server process; `kill()` is kill -9, `start()` brings it back on the same
    port and data directory."""

    name = ""

    def __init__(self, root: Path) -> None:
        self.dir = root / self.name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def argv(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> Server:
        with (self.dir / "server.log").open("ab") as log:
            self.proc = subprocess.Popen(self.argv(), stdout=log, stderr=subprocess.STDOUT)
        _wait_port(self.port, self.proc, f"{self.name} ({' '.join(self.argv())})")
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def restart(self) -> None:
        self.kill()
        self.start()


class NatsServer(Server):
    name = "nats"

    def argv(self) -> list[str]:
        binary = shutil.which("nats-server") or NATS_BIN
        if not Path(binary).exists():
            raise RuntimeError("nats-server is not installed (apt-get install nats-server)")
        return [binary, "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(self.dir)]

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"


class RedisServer(Server):
    name = "redis"

    def argv(self) -> list[str]:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        return [
            binary,
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--save", "",
            "--appendonly", "yes",
            "--appendfsync", "always",
            "--dir", str(self.dir),
            "--daemonize", "no",
        ]  # fmt: skip

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


@contextlib.contextmanager
def nats_and_redis(root: Path) -> Iterator[tuple[str, str]]:
    """A NATS and a Redis server of the test's own for a block: their urls; killed after."""
    nats = NatsServer(root).start()
    try:
        redis = RedisServer(root).start()
        try:
            yield nats.url, redis.url
        finally:
            redis.kill()
    finally:
        nats.kill()
