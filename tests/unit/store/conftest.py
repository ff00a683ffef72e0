"""Fixtures for the store tests: a real SQLite file store in tmp_path."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from store_factories import make_envelope

from tradeswarm.model.envelope import Envelope
from tradeswarm.store import Store


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "swarm.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[Store]:
    s = Store.open(db_path)
    yield s
    s.close()


@pytest.fixture
def envelope() -> Callable[[int], Envelope]:
    return make_envelope
