"""The local process supervisor behind `tradeswarm up`: it knows nothing of trading.

The main child (the kernel that runs the day and prints its story) ends the run, and its exit
code is the run's. The helpers (remote agents) start first; one with a `ready_line` must print
it before the main child starts, so the kernel never talks to an agent not yet listening. A
helper that crashes (a nonzero exit or a signal) is restarted after an exponential backoff
with jitter; more than `max_restarts` restarts is a fault, not a blip, so the run stops and
the error names the child and its log. Stopping is SIGTERM to each child's process group,
`grace_s` to finish, then SIGKILL: no child outlives `run()`. A child's stdout and stderr go
to `log_dir/<name>.log`, appended across restarts under a header line per start.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import shlex
import signal
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import FrameType
from typing import IO, Any

import msgspec

from tradeswarm.bus.resilience import Backoff
from tradeswarm.core.errors import ConfigurationError, InvalidInput, TradeswarmError

_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_LINE_LIMIT = 1 << 20  # a story line may be long (one JSON event); asyncio's default is 64 KiB
_Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None


class ChildSpec(msgspec.Struct, frozen=True):
    """One process of the swarm: what to run, and how to treat its output and its exit."""

    name: str
    argv: list[str]
    main: bool = False
    restart: bool = True
    env: dict[str, str] | None = None
    ready_line: str | None = None


class ChildState(StrEnum):
    """Where a child is: `exited` ended on its own, `stopped` was ended by the supervisor."""

    STARTING = "starting"
    READY = "ready"
    RUNNING = "running"
    RESTARTING = "restarting"
    EXITED = "exited"
    STOPPED = "stopped"


class ChildStatus(msgspec.Struct, frozen=True):
    """A child as `status()` saw it; last_exit is -N when signal N ended it."""

    name: str
    pid: int | None
    state: ChildState
    restarts: int
    last_exit: int | None
    started_at_ns: int | None


@dataclass
class _Child:
    spec: ChildSpec
    log_path: Path
    state: ChildState = ChildState.STARTING
    proc: asyncio.subprocess.Process | None = None
    restarts: int = 0
    recent: int = 0  # restarts since it last ran stable_s without crashing
    last_exit: int | None = None
    started_at_ns: int | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    def status(self) -> ChildStatus:
        proc = self.proc
        pid = proc.pid if proc is not None and proc.returncode is None else None
        return ChildStatus(
            self.spec.name, pid, self.state, self.restarts, self.last_exit, self.started_at_ns
        )


class Supervisor:
    """Run a swarm's child processes to the end of the main one; see the module docstring."""

    def __init__(
        self,
        specs: Sequence[ChildSpec],
        log_dir: Path,
        *,
        backoff_base_s: float = 0.5,
        backoff_cap_s: float = 10.0,
        max_restarts: int = 5,
        grace_s: float = 5.0,
        ready_timeout_s: float = 60.0,
        stable_s: float = 60.0,
        echo: Callable[[str], None] | None = None,
    ) -> None:
        """max_restarts: restarts of one helper, each within stable_s of its start (a
        helper that ran stable_s before it crashed starts its count again: rare crashes
        over a long day never add up to a stop)."""
        _validate(specs)
        if max_restarts < 0:
            raise ConfigurationError("max_restarts", max_restarts, "must be >= 0")
        self._stable_ns = int(stable_s * 1e9)
        self._log_dir = log_dir
        self._children = {s.name: _Child(s, log_dir / f"{s.name}.log") for s in specs}
        self._backoff = Backoff(backoff_base_s, backoff_cap_s)
        self._max_restarts = max_restarts
        self._grace_s = grace_s
        self._ready_timeout_s = ready_timeout_s
        self._echo = echo
        self._halted = asyncio.Event()
        self._finished = asyncio.Event()
        self._started = False
        self._stop_code: int | None = None
        self._failure: TradeswarmError | None = None

    async def run(self) -> int:
        """Start the helpers, then (once those with a ready_line printed it) the main child.

        Return the main child's exit code (128+N if signal N ended it), or 128+N when signal N
        (SIGTERM, SIGINT) or `stop()` (as SIGTERM) stopped the run first. Raise TradeswarmError
        when a helper is not ready in time, cannot start or restarts too often. Every child
        is gone when this returns or raises. Call it once, from the main thread.
        """
        if self._started:
            raise TradeswarmError("Supervisor.run() was already called")
        self._started = True
        with _stop_signals_to(asyncio.get_running_loop(), self._halt):
            try:
                return await self._supervise()
            finally:
                await self._shutdown()
                self._finished.set()

    async def stop(self) -> None:
        """Stop the run gracefully, as SIGTERM would (run() returns 143); wait until it has."""
        self._halt(code=128 + signal.SIGTERM)
        if self._started:
            await self._finished.wait()

    def status(self) -> list[ChildStatus]:
        """Each child's state, pid, restarts and last exit, in the order of the specs."""
        return [child.status() for child in self._children.values()]

    def kill_child(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Send `sig` to the named child's process: a crash on demand, for tests and drills."""
        child = self._children.get(name)
        if child is None:
            raise InvalidInput("name", name, f"no such child; children: {list(self._children)}")
        proc = child.proc
        if proc is None or proc.returncode is not None:
            raise TradeswarmError(f"child {name!r} is not running (state {child.state})")
        proc.send_signal(sig)

    async def _supervise(self) -> int:
        self._log_dir.mkdir(parents=True, exist_ok=True)
        helpers = [c for c in self._children.values() if not c.spec.main]
        for child in helpers:
            child.task = asyncio.create_task(self._guarded(child, self._keep_alive(child)))
        for child in helpers:
            if child.spec.ready_line is not None:
                await self._await_ready(child)
        main = next(c for c in self._children.values() if c.spec.main)
        if not self._halted.is_set():
            main.task = asyncio.create_task(self._guarded(main, self._run_once(main)))
            await self._wait_unless_halted(main.task)
        if self._failure is not None:
            raise self._failure
        if self._stop_code is not None:
            return self._stop_code
        return _shell_code(main.last_exit)

    async def _guarded(self, child: _Child, body: Coroutine[Any, Any, object]) -> None:
        """Run one child's coroutine; turn whatever it raises into a stop of the whole run."""
        try:
            await body
        except TradeswarmError as err:
            self._halt(failure=err)
        except Exception as err:  # spawn errors (no such file), a raising echo, a bug
            argv, log = shlex.join(child.spec.argv), child.log_path
            failure = TradeswarmError(f"child {child.spec.name!r} ({argv}): {err!r}; log: {log}")
            failure.__cause__ = err
            self._halt(failure=failure)

    async def _keep_alive(self, child: _Child) -> None:
        """Run a helper until it exits 0 (or may not restart), restarting it after a crash."""
        while not self._halted.is_set():
            code = await self._run_once(child)
            if self._halted.is_set() or code == 0 or not child.spec.restart:
                return
            ran_ns = time.time_ns() - (child.started_at_ns or 0)
            child.recent = 0 if ran_ns >= self._stable_ns else child.recent
            if child.recent >= self._max_restarts:
                raise TradeswarmError(
                    f"child {child.spec.name!r} failed {child.recent + 1} times in a row"
                    f" (max_restarts={self._max_restarts}); last exit code {_exit_text(code)};"
                    f" log: {child.log_path}"
                )
            child.restarts += 1
            child.recent += 1
            child.state = ChildState.RESTARTING
            await self._wait_unless_halted(timeout=self._backoff.delay(child.restarts))

    async def _run_once(self, child: _Child) -> int:
        """Start the child once and copy its output to its log until it exits; its code."""
        with child.log_path.open("ab") as log:
            log.write(_header(child).encode())
            log.flush()
            proc, stdout, pipe = await self._spawn(child, log)
            try:
                pump = asyncio.create_task(self._pump(child, stdout, log))
                code = await proc.wait()
                _signal_group(proc, signal.SIGKILL)  # whatever it started and left behind
                await _finish(pump, self._grace_s)
            finally:
                pipe.close()
        child.last_exit = code
        child.state = ChildState.STOPPED if self._halted.is_set() else ChildState.EXITED
        return code

    async def _spawn(
        self, child: _Child, log: IO[bytes]
    ) -> tuple[asyncio.subprocess.Process, asyncio.StreamReader, asyncio.ReadTransport]:
        """Start the child as the leader of a new process group, stderr to its log and stdout
        to a pipe of our own: asyncio's `wait()` would also wait for its own pipes to close,
        which what the child started may hold open long after the child is gone."""
        read_fd, write_fd = os.pipe()
        try:
            proc = await asyncio.create_subprocess_exec(
                *child.spec.argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=write_fd,
                stderr=log,
                env=_child_env(child.spec),
                start_new_session=True,
            )
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        child.proc, child.started_at_ns = proc, time.time_ns()
        gated = child.spec.ready_line is not None
        child.state = ChildState.STARTING if gated else ChildState.RUNNING
        if self._halted.is_set():  # started while the run was being stopped
            _signal_group(proc, signal.SIGKILL)
        stdout = asyncio.StreamReader(limit=_LINE_LIMIT)
        read_end = open(read_fd, "rb", buffering=0)  # noqa: SIM115 (the pipe transport closes it)
        pipe, _ = await asyncio.get_running_loop().connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(stdout), read_end
        )
        return proc, stdout, pipe

    async def _pump(self, child: _Child, stream: asyncio.StreamReader, log: IO[bytes]) -> None:
        """Copy stdout to the log line by line; notice the ready line; echo the main's story."""
        while raw := await stream.readline():
            log.write(raw)
            log.flush()
            line = raw.decode(errors="replace").rstrip("\r\n")
            prefix = child.spec.ready_line
            if (
                prefix is not None
                and child.state is ChildState.STARTING
                and line.startswith(prefix)
            ):
                child.state = ChildState.READY
                child.ready.set()
            if child.spec.main and self._echo is not None:
                self._echo(line)

    async def _await_ready(self, child: _Child) -> None:
        assert child.task is not None
        ready = asyncio.create_task(child.ready.wait())
        try:
            await self._wait_unless_halted(ready, child.task, timeout=self._ready_timeout_s)
        finally:
            await _finish(ready, 0)
        if child.ready.is_set() or self._halted.is_set():
            return
        gone = f"exited (code {_exit_text(child.last_exit)})" if child.task.done() else None
        why = gone or f"was not ready within {self._ready_timeout_s} s"
        raise TradeswarmError(
            f"child {child.spec.name!r} {why}: no line starting {child.spec.ready_line!r};"
            f" log: {child.log_path}"
        )

    async def _wait_unless_halted(
        self, *tasks: asyncio.Task[Any], timeout: float | None = None
    ) -> None:
        """Wait until any of the tasks is done, the run is halted, or the timeout passes."""
        halt = asyncio.create_task(self._halted.wait())
        try:
            await asyncio.wait({halt, *tasks}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            await _finish(halt, 0)

    async def _shutdown(self) -> None:
        """Stop every child: SIGTERM, grace_s to exit, then SIGKILL; wait for all of them."""
        self._halted.set()
        tasks = [c.task for c in self._children.values() if c.task is not None]
        self._signal_running(signal.SIGTERM)
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=self._grace_s)
            if pending:
                self._signal_running(signal.SIGKILL)
                await asyncio.wait(pending)
        for child in self._children.values():
            if child.state not in (ChildState.EXITED, ChildState.STOPPED):
                child.state = ChildState.STOPPED

    def _signal_running(self, sig: int) -> None:
        for child in self._children.values():
            if child.proc is not None and child.proc.returncode is None:
                _signal_group(child.proc, sig)

    def _halt(self, code: int | None = None, failure: TradeswarmError | None = None) -> None:
        """Stop the run with this exit code or this error; the first of each counts."""
        self._stop_code = code if self._stop_code is None else self._stop_code
        self._failure = failure if self._failure is None else self._failure
        self._halted.set()


def format_status(rows: Sequence[ChildStatus]) -> str:
    """A plain-text table of the children (name, state, pid, restarts, last exit)."""
    table = [("name", "state", "pid", "restarts", "last exit")]
    for r in rows:
        pid = "-" if r.pid is None else str(r.pid)
        table.append((r.name, str(r.state), pid, str(r.restarts), _exit_text(r.last_exit)))
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    lines = ("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in table)
    return "\n".join(line.rstrip() for line in lines)


def _validate(specs: Sequence[ChildSpec]) -> None:
    mains = [s.name for s in specs if s.main]
    if len(mains) != 1:
        raise ConfigurationError("children", mains, f"need one main child, not {len(mains)}")
    seen: set[str] = set()
    for spec in specs:
        if spec.name in seen:
            raise ConfigurationError("children.name", spec.name, "two children have this name")
        if spec.name in {"", ".", ".."} or "/" in spec.name:
            raise ConfigurationError("children.name", spec.name, "must be a plain file name")
        if not spec.argv:
            raise ConfigurationError(f"children[{spec.name}].argv", spec.argv, "must not be empty")
        seen.add(spec.name)


@contextlib.contextmanager
def _stop_signals_to(
    loop: asyncio.AbstractEventLoop, on_signal: Callable[[int], None]
) -> Iterator[None]:
    """Call on_signal(128+N) on SIGTERM and SIGINT while inside; then restore the handlers."""
    previous: dict[int, _Handler] = {sig: signal.getsignal(sig) for sig in _STOP_SIGNALS}
    for sig in _STOP_SIGNALS:
        loop.add_signal_handler(sig, on_signal, 128 + sig)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            loop.remove_signal_handler(signum)
            if handler is not None:
                signal.signal(signum, handler)


async def _finish(task: asyncio.Task[Any], timeout: float) -> None:
    """Give the task `timeout` seconds to end, then cancel it; re-raise what it raised."""
    await asyncio.wait({task}, timeout=timeout)
    if not task.done():
        task.cancel()
        await asyncio.wait({task})
    if not task.cancelled() and (err := task.exception()) is not None:
        raise err


def _signal_group(proc: asyncio.subprocess.Process, sig: int) -> None:
    """Signal the child's process group (it leads one), so that what it started goes too."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def _child_env(spec: ChildSpec) -> dict[str, str]:
    # Unbuffered, so that the story and the ready line arrive as printed, not at exit.
    return {**os.environ, "PYTHONUNBUFFERED": "1", **(spec.env or {})}


def _header(child: _Child) -> str:
    stamp = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
    argv = shlex.join(child.spec.argv)
    return f"==== {stamp} {child.spec.name} attempt {child.restarts + 1}: {argv}\n"


def _exit_text(code: int | None) -> str:
    if code is None:
        return "-"
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"{code} ({signal.Signals(-code).name})"
    return str(code)


def _shell_code(code: int | None) -> int:
    if code is None:
        raise TradeswarmError("the main child never ran")
    return 128 - code if code < 0 else code
