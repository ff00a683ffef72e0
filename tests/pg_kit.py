"""The local PostgreSQL server for tests: started if it is down, a fresh database per test.

The server is the machine's own (127.0.0.1:5432, trust auth, user postgres). If it does
not answer, it is started with `pg_ctlcluster`; if it still does not answer, the test
fails (never skips: a PostgreSQL test that did not run proved nothing). Each test gets a
database of its own, `ts_<random hex>`, dropped WITH (FORCE) afterwards.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

HOST, PORT, USER = "127.0.0.1", 5432, "postgres"
ADMIN_URL = f"postgresql://{USER}@{HOST}:{PORT}/postgres"
_STARTED: list[bool] = []


def url_of(name: str) -> str:
    """The store URL of database name on the test server."""
    return f"postgresql://{USER}@{HOST}:{PORT}/{name}"


def _answers() -> bool:
    try:
        psycopg.connect(ADMIN_URL, connect_timeout=3).close()
    except psycopg.OperationalError:
        return False
    return True


def ensure_server() -> None:
    """Make sure the server answers, starting it if needed; pytest.fail if it cannot."""
    if _STARTED or _answers():
        _STARTED.append(True)
        return
    versions = sorted(os.listdir("/etc/postgresql")) if os.path.isdir("/etc/postgresql") else []
    if not versions:
        pytest.fail("PostgreSQL is not installed here (/etc/postgresql is missing)")
    start = ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "start"]
    done = subprocess.run(start, capture_output=True, text=True, check=False)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if _answers():
            _STARTED.append(True)
            return
        time.sleep(0.5)
    pytest.fail(f"PostgreSQL at {HOST}:{PORT} does not answer after {start}: {done.stderr}")


def _admin(sql: str) -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


ICU_ENGLISH = "TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"
"""CREATE DATABASE options for a database whose text sorts as English does (not by code point)."""


def create_database(options: str = "") -> str:
    """A new empty database's name (options: CREATE DATABASE's, e.g. `ICU_ENGLISH`)."""
    ensure_server()
    name = f"ts_{secrets.token_hex(6)}"
    _admin(f"CREATE DATABASE {name} {options}")
    return name


def drop_database(name: str) -> None:
    _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextlib.contextmanager
def fresh_database(options: str = "") -> Iterator[str]:
    """A new empty database for the block, as its store URL; dropped afterwards."""
    name = create_database(options)
    try:
        yield url_of(name)
    finally:
        drop_database(name)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """The URL of a fresh empty database on the local server, dropped after the test."""
    with fresh_database() as url:
        yield url


def query(url: str, sql: str, *params: object, schema: str = "public") -> list[tuple[Any, ...]]:
    """Run one statement on the database at url (committed) with schema as its
    search_path; its rows, if any."""
    with psycopg.connect(url, autocommit=True, options=f"-csearch_path={schema}") as conn:
        cur = conn.execute(sql, params or None)  # type: ignore[arg-type]
        return cur.fetchall() if cur.description is not None else []
