"""`tradeswarm demo --config` on a config whose every key is known but whose value would
silently change what the swarm does: exit 2, one line naming the field, the value and
what would be accepted, no traceback, and nothing created."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tradeswarm.agents.trader import STRATEGIES
from tradeswarm.cli.main import app


def cli(*args: str | Path) -> Any:
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


@pytest.mark.parametrize(
    ("toml", "value"),
    [
        ('[trader]\nstrategies = ["momentun"]\n', "momentun"),
        ('[trader]\nstrategies = ["momentum", "mean-reversion"]\n', "mean-reversion"),
        ("[trader]\nstrategies = []\n", "[]"),
    ],
)
def test_demo_refuses_trader_strategies_it_does_not_know_and_creates_nothing(
    tmp_path: Path, toml: str, value: str
) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(toml, encoding="utf-8")
    db = tmp_path / "swarm.sqlite"
    result = cli("demo", "--db", db, "--config", config)
    assert result.exit_code == 2, result.stdout
    assert "trader.strategies" in result.stderr
    assert value in result.stderr
    assert all(known in result.stderr for known in STRATEGIES)
    assert "Traceback" not in result.stderr + result.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml"]
