"""Shared fixtures for the acceptance tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from acceptance_kit import run_cli


@pytest.fixture(scope="session")
def full_day(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One uninterrupted demo run on a fresh store: (db path, printed story)."""
    db = tmp_path_factory.mktemp("full_day") / "swarm.sqlite"
    result = run_cli("demo", "--db", db)
    assert result.exit_code == 0, result.stderr
    return db, result.stdout
