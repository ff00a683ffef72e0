"""The swarm on PostgreSQL end to end: the demo tells the same story as on SQLite, `audit
verify --all` is clean and names a tampered row, the CLI reads and queues on a URL store,
a second writer refuses to start, and a bad URL is one line that creates nothing.

The demo runs once per module on PostgreSQL (and once on SQLite, to compare); each test
then gets a fresh database of its own, a copy of the demo's (CREATE DATABASE ... TEMPLATE),
with the witness's state copied beside it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from typer.testing import CliRunner

from pg_kit import ADMIN_URL, create_database, drop_database, fresh_database, query, url_of
from tradeswarm.cli.main import app
from tradeswarm.core.dburl import STATE_DIR_ENV, state_path
from tradeswarm.store import Store

pytestmark = pytest.mark.slow

SQLITE_DEMO_MD5 = "e08d7ebd62e4b3263f4877ed6da9e2b4"
DEMO_KEYS = "--demo-keys"
HUMAN = ("--as", "jane.doe@desk", "--demo-key")


class Demo(NamedTuple):
    name: str  # the database the demo ran on (a template for the tests' copies)
    state_dir: Path  # where its witness state is
    stdout: bytes
    sqlite_stdout: bytes


def run_demo(db: str, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, STATE_DIR_ENV: str(cwd / "state")}
    command = [sys.executable, "-m", "tradeswarm.cli.main", "demo", "--db", db]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    folder = tmp_path_factory.mktemp("pg-demo")
    lite = run_demo(str(folder / "d.sqlite"), folder)
    assert lite.returncode == 0, lite.stderr.decode()[-3000:]
    name = create_database()
    try:
        done = run_demo(url_of(name), folder)
        assert done.returncode == 0, done.stderr.decode()[-3000:]
        yield Demo(name, folder / "state", done.stdout, lite.stdout)
    finally:
        drop_database(name)


@pytest.fixture
def copy(demo: Demo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh database holding the finished demo day, its witness state beside it."""
    name = create_database(f"TEMPLATE {demo.name}")
    url = url_of(name)
    monkeypatch.setenv(STATE_DIR_ENV, str(tmp_path / "state"))
    witness = state_path(url, ".witness.json")
    witness.parent.mkdir(parents=True)
    monkeypatch.setenv(STATE_DIR_ENV, str(demo.state_dir))
    shutil.copy(state_path(url_of(demo.name), ".witness.json"), witness)
    monkeypatch.setenv(STATE_DIR_ENV, str(tmp_path / "state"))
    try:
        yield url
    finally:
        drop_database(name)


def cli(*args: str | Path) -> Any:
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def verify_all(db: str) -> Any:
    return cli("audit", "verify", "--all", "--db", db, DEMO_KEYS)


def test_the_demo_on_postgresql_tells_the_same_story_as_on_sqlite(demo: Demo) -> None:
    assert hashlib.md5(demo.sqlite_stdout).hexdigest() == SQLITE_DEMO_MD5
    assert demo.stdout == demo.sqlite_stdout
    assert b"end-of-day compliance summary" in demo.stdout


def test_the_broker_books_are_in_their_own_schema_of_the_same_database(copy: str) -> None:
    tables = query(
        copy,
        "SELECT table_schema, count(*) FROM information_schema.tables"
        " WHERE table_schema IN ('public', 'paper_broker') GROUP BY 1 ORDER BY 1",
    )
    assert [schema for schema, _ in tables] == ["paper_broker", "public"]
    assert query(copy, "SELECT count(*) FROM paper_broker.broker_fills") == query(
        copy, "SELECT count(*) FROM public.trades"
    )


def test_audit_verify_is_clean_then_names_a_tampered_event_body(copy: str) -> None:
    clean = verify_all(copy)
    assert clean.exit_code == 0, clean.stdout
    assert "every table: clean" in clean.stdout
    query(copy, "UPDATE events SET body = body || '\\x20'::bytea WHERE seq = 42")
    tampered = verify_all(copy)
    assert tampered.exit_code == 1, tampered.stdout
    assert "event #42: body does not match its leaf hash" in tampered.stdout
    assert "TAMPERED OR DIVERGENT" in tampered.stdout


def test_audit_verify_names_a_tampered_orders_column(copy: str) -> None:
    [(order_id, qty)] = query(copy, "SELECT order_id, quantity FROM orders ORDER BY 1 LIMIT 1")
    query(copy, "UPDATE orders SET quantity = %s WHERE order_id = %s", f"{qty}1", order_id)
    tampered = verify_all(copy)
    assert tampered.exit_code == 1, tampered.stdout
    assert f"orders {order_id}: column quantity" in tampered.stdout


def test_status_oversight_and_the_kill_switch_work_on_a_url(copy: str) -> None:
    status = cli("status", "--db", copy, "--json")
    assert status.exit_code == 0, status.stderr
    report = json.loads(status.stdout)
    assert report["reconciled"] is True and report["duplicate_client_order_ids"] == 0
    listed = cli("oversight", "list", "--db", copy, "--json")
    assert listed.exit_code == 0, listed.stderr
    assert {r["status"] for r in json.loads(listed.stdout)} == {"APPROVED", "TIMEOUT"}
    on = cli("killswitch", "activate", "--db", copy, *HUMAN, "--reason", "drill")
    assert on.exit_code == 0, on.stderr
    assert "is in the swarm's inbox (#3)" in on.stdout  # after the scripted human's two
    with Store.open(copy) as store:
        assert store.inbox_pending() == 1
        assert not store.killswitch_active()  # queued: the swarm applies it at its next bar


def test_a_second_writer_on_the_same_store_refuses_to_start(copy: str) -> None:
    with Store.open(copy, writer=True):
        second = cli("demo", "--db", copy)
    assert second.exit_code == 2
    assert "another writer holds this store" in second.stderr and copy in second.stderr
    assert len(second.stderr.strip().splitlines()) == 1
    assert "Traceback" not in second.stderr + second.stdout


@pytest.mark.parametrize(
    "args",
    [
        ("demo", "--db"),
        ("status", "--db"),
        ("oversight", "list", "--db"),
        ("audit", "verify", "--all", DEMO_KEYS, "--db"),
        ("killswitch", "activate", *HUMAN, "--db"),
    ],
)
@pytest.mark.parametrize(
    ("target", "says"),
    [
        (url_of("ts_no_such_database"), 'database "ts_no_such_database" does not exist'),
        ("postgresql://postgres@127.0.0.1:1/ts_x", "cannot open the PostgreSQL store"),
        ("mysql://root@127.0.0.1/x", "unsupported store URL"),
    ],
)
def test_a_bad_url_is_one_line_naming_it_and_creates_nothing(
    args: tuple[str, ...], target: str, says: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    before = query(ADMIN_URL, "SELECT datname FROM pg_database ORDER BY 1")
    result = cli(*args, target)
    assert result.exit_code == 2, result.stdout
    assert says in result.stderr and target in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert list(tmp_path.iterdir()) == []
    assert query(ADMIN_URL, "SELECT datname FROM pg_database ORDER BY 1") == before


def test_an_empty_database_is_no_store_for_the_readers(tmp_path: Path) -> None:
    with fresh_database() as url:
        status = cli("status", "--db", url)
        assert status.exit_code == 2
        assert f"--db {url}: no tradeswarm store there" in status.stderr
        assert query(url, "SELECT count(*) FROM information_schema.tables WHERE table_schema"
                     " = 'public'") == [(0,)]  # fmt: skip
