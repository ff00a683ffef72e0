"""Fixtures for the store tests: a real store in a SQLite file in tmp_path, and the same
tests again on a fresh PostgreSQL database (`pg_kit`) wherever they take `store` or
`db_target`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from store_factories import make_envelope

from pg_kit import fresh_database, pg_url  # noqa: F401 - the fixture, for these tests
from tradeswarm.model.envelope import Envelope
from tradeswarm.store import Store

DIALECTS = ("sqlite", "postgresql")


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "swarm.db"


@pytest.fixture(params=DIALECTS)
def db_target(request: pytest.FixtureRequest, db_path: Path) -> Iterator[str]:
    """Where a store lives: a SQLite file, or a fresh PostgreSQL database's URL."""
    if request.param == "sqlite":
        yield str(db_path)
        return
    with fresh_database() as url:
        yield url


@pytest.fixture
def store(db_target: str) -> Iterator[Store]:
    s = Store.open(db_target)
    yield s
    s.close()


@pytest.fixture
def sqlite_store(db_path: Path) -> Iterator[Store]:
    """A store in a SQLite file, for the tests that look at SQLite itself."""
    s = Store.open(db_path)
    yield s
    s.close()


@pytest.fixture
def envelope() -> Callable[[int], Envelope]:
    return make_envelope
