"""Crash safety on PostgreSQL: SIGKILL the demo mid-day on a URL store, rerun it, and the
books (the swarm's and the paper broker's, in its own schema) come out equal to an
uninterrupted run's on SQLite, with a clean audit log and no duplicate orders.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from test_crash_demo import BOOKS, DEMO, _books, _run_to_end, cli
from typer.testing import CliRunner

from pg_kit import fresh_database, query
from tradeswarm.brokers.paper_state import BROKER_SCHEMA
from tradeswarm.cli.main import app
from tradeswarm.core.dburl import STATE_DIR_ENV
from tradeswarm.data.csv_bars import bundled_bars
from tradeswarm.data.replay import pick_day, split_days

pytestmark = pytest.mark.slow


def _pg_books(url: str) -> dict[str, Any]:
    return {
        name: query(url, sql, schema=BROKER_SCHEMA if broker else "public")
        for name, (broker, sql) in BOOKS.items()
    }


def _cursor(url: str) -> int | None:
    rows = query(url, "SELECT value FROM meta WHERE key = 'replay.cursor_ns'")
    return int(rows[0][0]) if rows else None


def _kill_when_past(url: str, target_ns: int, env: dict[str, str]) -> int:
    """Start the demo on url, SIGKILL it once its replay cursor passes target_ns; the
    cursor it died at."""
    proc = subprocess.Popen([*DEMO, url], env=env, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            with_cursor = query(url, "SELECT count(*) FROM information_schema.tables"
                                " WHERE table_name = 'meta'")  # fmt: skip
            cursor = _cursor(url) if with_cursor[0][0] else None
            if cursor is not None and cursor >= target_ns:
                break
            time.sleep(0.005)
        assert proc.poll() is None, "the demo ended before the kill"
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    died_at = _cursor(url)
    assert died_at is not None
    return died_at


def test_demo_on_postgresql_survives_sigkill_mid_day(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lite = tmp_path / "baseline.sqlite"
    _run_to_end(lite)
    _, day = pick_day(split_days(bundled_bars()), "2006-01-04")
    span = day.session.close_ns - day.session.open_ns
    env = {**os.environ, STATE_DIR_ENV: str(tmp_path / "state")}
    monkeypatch.setenv(STATE_DIR_ENV, str(tmp_path / "state"))
    with fresh_database() as url:
        first = _kill_when_past(url, day.session.open_ns + span // 3, env)
        second = _kill_when_past(url, day.session.open_ns + 2 * span // 3, env)
        assert day.session.open_ns < first < second < day.session.close_ns
        done = subprocess.run(
            [*DEMO, url], env=env, capture_output=True, text=True, timeout=300, check=False
        )
        assert done.returncode == 0, done.stderr[-3000:]
        assert "(resumed this store after" in done.stdout
        status = CliRunner().invoke(app, ["status", "--db", url, "--json"])
        assert status.exit_code == 0, status.stderr
        assert '"reconciled": true' in status.stdout
        verify = cli("audit", "verify", "--all", "--db", url, "--demo-keys")
        assert verify.exit_code == 0, verify.stdout
        assert _pg_books(url) == _books(lite)
