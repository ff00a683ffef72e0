"""`tradeswarm paper`: the backtest's strategies, gate and fills on a live clock.

A feed file (the config's data) is replayed at real speed or ``speed`` times faster: the
bar stamped d is released at wall time t0 + (d - d0) / speed, where (t0, d0) is when and
where this run (or resumed run) began. Each released bar goes through exactly the
backtest engine's step, so a paper run's trades are the backtest's trades.

The state folder keeps a journal: a header naming the config and data (their sha256),
then one line per bar processed (its index, time, the wall time, and a running sha256
of every trade and decision so far), fsynced. Ctrl-C (SIGINT or SIGTERM) stops between
bars; a rerun on the same folder replays the journaled bars without waiting (the engine
is deterministic), checks it arrives at the journal's digest (else it stops: the config,
data or code changed), and goes on from the next bar on the live clock. When every bar
is done the result JSON is written beside the journal. ``speed = math.inf`` waits for
nothing: `tradeswarm backtest --state DIR` is a backtest resumable after a crash.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import msgspec

from tradeswarm.backtest.config import BacktestConfig, Mode
from tradeswarm.backtest.engine import Engine
from tradeswarm.backtest.result import canonical, digest, summary
from tradeswarm.backtest.runner import build, describe
from tradeswarm.core.clock import NS_PER_SECOND, Clock, LiveClock
from tradeswarm.core.errors import InvalidInput, InvariantViolation

JOURNAL = "journal.jsonl"
RESULT = "result.json"
Emit = Callable[[str], None]
Sleep = Callable[[float], None]


class Stop:
    """Set by SIGINT / SIGTERM (or a test): the run stops before its next bar."""

    def __init__(self) -> None:
        self.asked = False

    def __call__(self, *_: Any) -> None:
        self.asked = True


@contextmanager
def _signals(stop: Stop) -> Iterator[None]:
    before = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in before.items():
            signal.signal(s, handler)


class _Chain:
    """The running sha256 over every trade and decision row, in order."""

    def __init__(self) -> None:
        self.value = hashlib.sha256(b"tradeswarm paper journal").hexdigest()
        self.trades = 0
        self.decisions = 0

    def update(self, engine: Engine) -> str:
        rows = [*engine.trades[self.trades :], *engine.decisions[self.decisions :]]
        if rows:
            body = msgspec.json.encode(rows)
            self.value = hashlib.sha256(self.value.encode() + body).hexdigest()
        self.trades, self.decisions = len(engine.trades), len(engine.decisions)
        return self.value


def _fingerprint(config: BacktestConfig, engine: Engine) -> str:
    h = hashlib.sha256(msgspec.json.encode(config))
    for symbol in sorted(engine.series):
        series = engine.series[symbol]
        h.update(symbol.encode())
        for field in ("ts", "open", "high", "low", "close", "volume"):
            h.update(getattr(series, field).tobytes())
    return h.hexdigest()


def _read_journal(path: Path) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    if not path.exists():
        return None, []
    raw = path.read_bytes()
    if raw and not raw.endswith(b"\n"):  # a line cut by a crash: its bar is redone
        with path.open("r+b") as fh:
            fh.truncate(raw.rfind(b"\n") + 1)
            fh.flush()
            os.fsync(fh.fileno())
    lines = path.read_text(encoding="utf-8").splitlines()
    rows = []
    for k, line in enumerate(lines):
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as err:
            raise InvalidInput(f"{path}:{k + 1}", line[:60], "not a journal line") from err
    return (rows[0] if rows else None), rows[1:]


class PaperRun:
    def __init__(
        self,
        config: BacktestConfig,
        state: Path,
        speed: float = 1.0,
        start: str | None = None,
        end: str | None = None,
        clock: Clock | None = None,
        sleep: Sleep = time.sleep,
        emit: Emit = print,
    ) -> None:
        if not speed > 0:  # math.inf: no waiting (a resumable backtest)
            raise InvalidInput("--speed", speed, "must be > 0 (1: real time)")
        if config.mode is not Mode.RESEARCH:
            raise InvalidInput("mode", str(config.mode), "paper runs research mode (no log) yet")
        self.config, self.state, self.speed = config, state, speed
        self.clock, self.sleep, self.emit = clock or LiveClock(), sleep, emit
        self.engine, self.periods = build(config, start, end)
        self.stop = Stop()
        self._chain = _Chain()

    def run(self) -> dict[str, Any] | None:
        """Trade until the feed ends (the result) or a stop is asked (None)."""
        self.state.mkdir(parents=True, exist_ok=True)
        path = self.state / JOURNAL
        header, done = _read_journal(path)
        fingerprint = _fingerprint(self.config, self.engine)
        if header is not None and header.get("fingerprint") != fingerprint:
            raise InvalidInput(
                "--state", str(self.state), "its journal is of another config or data"
            )
        timeline = self.engine.start()
        with path.open("a", encoding="utf-8") as journal, _signals(self.stop):
            if header is None:
                self._write(journal, {"fingerprint": fingerprint, "bars": len(timeline)})
            resume_at = self._replay(done)
            stepped = self._live(journal, timeline, resume_at)
        return self._close(stepped, len(timeline))

    def _replay(self, done: list[dict[str, Any]]) -> int:
        for row in done:
            self.engine.step(row["i"])
            if self._chain.update(self.engine) != row["digest"]:
                raise InvariantViolation(
                    f"paper journal diverges at bar {row['i']} ({row['ts']}): the engine, "
                    "config or data changed since it was written"
                )
        if done:
            self.emit(f"resumed after bar {len(done)} (replayed without waiting)")
        return len(done)

    def _live(self, journal: Any, timeline: Any, first: int) -> int:
        if first >= len(timeline):
            return first
        wall0, data0 = self.clock.now_ns(), int(timeline[first])
        for i in range(first, len(timeline)):
            ts = int(timeline[i])
            if self.stop.asked or not self._wait(wall0 + (ts - data0) / self.speed):
                return i
            trades = len(self.engine.trades)
            self.engine.step(i)
            for t in self.engine.trades[trades:]:
                self.emit(f"{_day(ts)} {t.strategy} {t.side} {t.quantity} {t.symbol} @ {t.price}")
            row = {"i": i, "ts": ts, "wall_ns": self.clock.now_ns()}
            self._write(journal, {**row, "digest": self._chain.update(self.engine)})
        return len(timeline)

    def _wait(self, due_ns: float) -> bool:
        """Sleep until due_ns on the live clock (in slices, so a stop is seen); False when
        a stop was asked."""
        while not self.stop.asked:
            left = (due_ns - self.clock.now_ns()) / NS_PER_SECOND
            if left <= 0:
                return True
            self.sleep(min(left, 0.2))
        return False

    def _write(self, journal: Any, row: dict[str, Any]) -> None:
        journal.write(json.dumps(row, sort_keys=True) + "\n")
        journal.flush()
        os.fsync(journal.fileno())

    def _close(self, stepped: int, total: int) -> dict[str, Any] | None:
        if stepped < total:
            self.emit(
                f"stopped after bar {stepped} of {total}; rerun on the same --state to resume"
            )
            return None
        run = self.engine.finish()
        run.meta = describe(self.config, self.engine, run)
        result = summary(run, min(self.periods.values()))
        result["sha256"] = digest(result)
        (self.state / RESULT).write_bytes(canonical(result) + b"\n")
        return result


def _day(ts: int) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ts / 1e9, dt.UTC).strftime("%Y-%m-%d %H:%M")
