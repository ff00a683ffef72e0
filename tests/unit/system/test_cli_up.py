"""`tradeswarm up` and `tradeswarm run` refuse a config they cannot run, in one line
naming the field and value, before any process starts or any file is made."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tradeswarm.cli.main import app

NATS = 'backend = "nats"\nurl = "nats://127.0.0.1:4222"\n'


@pytest.mark.parametrize(
    ("bus", "says"),
    [
        ('remote_agents = ["analyzer"]\n', "bus.backend='memory'"),
        (NATS + 'remote_agents = ["risk"]\n', "bus.remote_agents='risk'"),
        (NATS + 'remote_agents = ["strategy:absent"]\n', "bus.remote_agents='strategy:absent'"),
        (NATS + 'remote_agents = ["trader", "trader"]\n', "names one twice"),
        (NATS + 'remote_agents = ["trader"]\ncall_retry_s = 0\n', "bus.call_retry_s"),
        (NATS + 'remote_agents = ["trader"]\n[trader]\nsizing = "portfolio"\n', "trader.sizing"),
    ],
)
def test_up_refuses_what_it_cannot_run_before_starting_anything(
    tmp_path: Path, bus: str, says: str
) -> None:
    config = tmp_path / "swarm.toml"
    config.write_text("[bus]\n" + bus)
    logs, db = tmp_path / "logs", tmp_path / "day.sqlite"
    args = ["up", "--config", str(config), "--db", str(db), "--logs", str(logs)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert says in result.output and len(result.output.strip().splitlines()) == 1
    assert not logs.exists() and not db.exists()


def test_run_refuses_an_agent_that_stays_in_the_kernel(tmp_path: Path) -> None:
    config = tmp_path / "swarm.toml"
    config.write_text("[bus]\n" + NATS)
    result = CliRunner().invoke(app, ["run", "execution", "--config", str(config)])
    assert result.exit_code == 2 and "kernel process" in result.output
    assert "Traceback" not in result.output
