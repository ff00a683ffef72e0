"""Crash safety: SIGKILL the demo at random moments, rerun it, and the books come out whole.

Each trial kills a real `tradeswarm demo` process one or more times (some at a random wall
delay, some once the store's replay cursor passes a random point of the day, so kills land
mid-bar, between the broker's commit and the swarm's), then reruns it to the end. The final
books must equal an uninterrupted run's, with no duplicate orders on either side.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tradeswarm.cli.main import app
from tradeswarm.data.csv_bars import bundled_bars
from tradeswarm.data.replay import pick_day, split_days

pytestmark = pytest.mark.slow

SEED = 20060104
TRIALS = 5
DEMO = [sys.executable, "-m", "tradeswarm.cli.main", "demo", "--db"]


def cli(*args: str | Path) -> Any:
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def _query(db: Path | str, sql: str, *params: object) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return conn.execute(sql, params).fetchall()


def _cursor(db: Path) -> int | None:
    """The replay cursor as a concurrent reader sees it, or None (no store, no cursor yet)."""
    if not db.exists():
        return None
    try:
        with contextlib.closing(sqlite3.connect(db, timeout=0.2)) as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = 'replay.cursor_ns'").fetchone()
    except sqlite3.OperationalError:
        return None
    return None if row is None else int(row[0])


BOOKS = {  # name: (whether the broker's own books hold it, the query)
    "orders": (
        False,
        "SELECT client_order_id, side, quantity, state, filled_qty, avg_fill_price,"
        " broker_order_id FROM orders ORDER BY client_order_id",
    ),
    "trades": (
        False,
        "SELECT fill_id, client_order_id, side, quantity, price, fee, ts_event FROM trades"
        " ORDER BY fill_id",
    ),
    "positions": (False, "SELECT symbol, quantity, avg_cost FROM positions"),
    "cash": (False, "SELECT cash FROM account"),
    "oversight": (
        False,
        "SELECT request_id, status, approver_id FROM oversight_requests ORDER BY request_id",
    ),
    "broker_orders": (
        True,
        "SELECT broker_order_id, client_order_id, status, filled_qty FROM broker_orders"
        " ORDER BY broker_order_id",
    ),
    "broker_fills": (
        True,
        "SELECT fill_id, quantity, price, fee FROM broker_fills ORDER BY fill_id",
    ),
    "broker_positions": (True, "SELECT symbol, quantity FROM broker_positions"),
    "broker_cash": (True, "SELECT cash FROM broker_account"),
}


def _books(db: Path) -> dict[str, Any]:
    return {
        name: _query(f"{db}.broker" if broker else db, sql) for name, (broker, sql) in BOOKS.items()
    }


def _run_to_end(db: Path) -> str:
    done = subprocess.run(
        [*DEMO, str(db)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    assert "end-of-day compliance summary" in done.stdout
    return done.stdout


def _crash_once(db: Path, rng: random.Random, open_ns: int, close_ns: int) -> int | None:
    """Start the demo and SIGKILL it; return the cursor it died at (None: died before any bar).

    Returns -1 when the run finished before the kill came.
    """
    errors = db.with_name(db.name + ".stderr")
    with errors.open("ab") as err:
        proc = subprocess.Popen([*DEMO, str(db)], stdout=subprocess.DEVNULL, stderr=err)
    try:
        if rng.random() < 0.5:
            delay = rng.uniform(0.3, 3.0)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=delay)
        else:
            target = rng.randint(open_ns, close_ns)
            deadline = time.monotonic() + 60
            while proc.poll() is None and time.monotonic() < deadline:
                cursor = _cursor(db)
                if cursor is not None and cursor >= target:
                    break
                time.sleep(0.002)
            time.sleep(rng.uniform(0, 0.01))
        if proc.poll() is not None:
            assert proc.returncode == 0, errors.read_text()[-4000:]
            return -1
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return _cursor(db)


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    db = tmp_path_factory.mktemp("baseline") / "swarm.sqlite"
    _run_to_end(db)
    return _books(db)


def test_demo_survives_sigkill_at_random_moments(baseline: dict[str, Any], tmp_path: Path) -> None:
    rng = random.Random(SEED)
    _, day = pick_day(split_days(bundled_bars()), "2006-01-04")
    open_ns, close_ns = day.session.open_ns, day.session.close_ns
    mid_day_kills = 0
    for trial in range(TRIALS):
        db = tmp_path / f"trial{trial}.sqlite"
        for _ in range(rng.randint(1, 3)):
            died_at = _crash_once(db, rng, open_ns, close_ns)
            if died_at == -1:
                break
            if died_at is not None and not _query(
                db, "SELECT 1 FROM meta WHERE key = 'replay.done'"
            ):
                mid_day_kills += 1
        _run_to_end(db)

        status = cli("status", "--db", db, "--json")
        assert status.exit_code == 0, status.stderr
        report = json.loads(status.stdout)
        assert report["duplicate_client_order_ids"] == 0, (trial, report)
        assert report["reconciled"] is True, (trial, report)
        assert report["open_orders"] == 0, (trial, report)
        verify = cli("audit", "verify", "--all", "--db", db, "--demo-keys")
        assert verify.exit_code == 0, (trial, verify.stdout)

        dupes = _query(
            f"{db}.broker",
            "SELECT client_order_id, COUNT(*) FROM broker_orders GROUP BY client_order_id"
            " HAVING COUNT(*) > 1",
        )
        assert dupes == [], (trial, dupes)
        books = _books(db)
        ours = {row[0] for row in books["orders"] if row[6] is not None}
        theirs = {row[1] for row in books["broker_orders"]}
        assert ours == theirs, (trial, ours ^ theirs)
        for key, want in baseline.items():
            assert books[key] == want, (trial, key)
    assert mid_day_kills >= 3, f"only {mid_day_kills} kills landed mid-day; the test proved little"
