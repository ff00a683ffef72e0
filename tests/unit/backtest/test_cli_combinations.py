"""Options a sweep or a journaled run would ignore are refused, naming the option; nothing
runs and nothing is written."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tradeswarm.cli.main import app


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (["--grid", "g.toml", "--symbols", "A"], "--symbols"),
        (["--grid", "g.toml", "--mode", "governed"], "--mode"),
        (["--walk-forward", "train=5,test=5", "--report", "r.html"], "--report"),
        (["--grid", "g.toml", "--state", "s"], "--state"),
        (["--state", "s", "--mode", "governed"], "--mode"),
        (["--state", "s", "--db", "x.sqlite"], "--db"),
    ],
)
def test_an_option_the_run_would_ignore_is_refused(
    tmp_path: Path, extra: list[str], named: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    done = CliRunner().invoke(app, ["backtest", "--config", "none.toml", *extra])
    assert done.exit_code == 2
    assert named in done.stderr
    assert list(tmp_path.iterdir()) == []
