"""`tradeswarm paper`: the backtest's strategies on the live clock. Ctrl-C stops between
bars, a rerun resumes, and the finished run is the backtest's result, byte for byte."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shared_data import MARKET_DATA

CONFIG = f"""
initial_cash = "100000"
[[data]]
path = "{MARKET_DATA / "2006-day-001.txt"}"
symbol = "IDXF"
[[strategies]]
class = "tradeswarm.strategy.builtin:SmaCross"
symbols = ["IDXF"]
params = {{ period = 15, quantity = 10 }}
[risk]
volatility_limit = 10.0
max_concentration = 1.0
max_var_95 = "1"
position_limit = 1000
"""
EXE = str(Path(sys.executable).with_name("tradeswarm"))


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [EXE, *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )


def test_ctrl_c_stops_cleanly_and_a_rerun_resumes_to_the_backtests_result(tmp_path: Path) -> None:
    (tmp_path / "bt.toml").write_text(CONFIG)
    journal = tmp_path / "state" / "journal.jsonl"
    # 2,000,000x: a daily bar every 43 ms of wall time
    live = subprocess.Popen(
        [EXE, "paper", "--config", "bt.toml", "--state", "state", "--speed", "2000000"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (
        not journal.exists() or len(journal.read_text().splitlines()) < 41
    ):
        time.sleep(0.05)
    live.send_signal(signal.SIGINT)
    out, err = live.communicate(timeout=60)
    assert live.returncode == 130, err
    assert "rerun on the same --state to resume" in out
    stopped_at = len(journal.read_text().splitlines()) - 1
    assert 40 <= stopped_at < 255
    assert not (tmp_path / "state" / "result.json").exists()

    resumed = _run(
        "paper", "--config", "bt.toml", "--state", "state", "--speed", "1e9", "--json", cwd=tmp_path
    )
    assert resumed.returncode == 0, resumed.stderr
    assert f"resumed after bar {stopped_at}" in resumed.stderr
    backtest = _run("backtest", "--config", "bt.toml", "--json", cwd=tmp_path)
    assert json.loads(resumed.stdout) == json.loads(backtest.stdout)
    assert len(journal.read_text().splitlines()) == 256  # header + every bar once


def test_a_journal_of_another_config_is_refused(tmp_path: Path) -> None:
    (tmp_path / "bt.toml").write_text(CONFIG)
    first = _run("paper", "--config", "bt.toml", "--state", "state", "--speed", "1e9", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    (tmp_path / "bt.toml").write_text(CONFIG.replace("period = 15", "period = 20"))
    again = _run("paper", "--config", "bt.toml", "--state", "state", "--speed", "1e9", cwd=tmp_path)
    assert again.returncode == 2 and "another config or data" in again.stderr


def test_a_tampered_journal_is_caught_on_resume(tmp_path: Path) -> None:
    from tradeswarm.backtest.config import load_backtest
    from tradeswarm.backtest.paper import PaperRun
    from tradeswarm.core.errors import InvariantViolation

    (tmp_path / "bt.toml").write_text(CONFIG)
    run = PaperRun(load_backtest(tmp_path / "bt.toml"), tmp_path / "s", 1e9, emit=lambda _: None)
    run.stop.asked = False
    assert run.run() is not None
    journal = tmp_path / "s" / "journal.jsonl"
    lines = journal.read_text().splitlines()
    row = json.loads(lines[100])
    row["digest"] = "0" * 64
    journal.write_text("\n".join([*lines[:100], json.dumps(row)]) + "\n")
    with pytest.raises(InvariantViolation, match="diverges at bar"):
        PaperRun(
            load_backtest(tmp_path / "bt.toml"), tmp_path / "s", 1e9, emit=lambda _: None
        ).run()


def test_a_backtest_killed_mid_run_resumes_from_its_journal(tmp_path: Path) -> None:
    orcl = CONFIG.replace(
        str(MARKET_DATA / "2006-day-001.txt"), str(MARKET_DATA / "orcl-1995-2014.txt")
    )
    (tmp_path / "bt.toml").write_text(orcl.replace('"IDXF"', '"ORCL"'))
    journal = tmp_path / "state" / "journal.jsonl"
    doomed = subprocess.Popen(
        [EXE, "backtest", "--config", "bt.toml", "--state", "state"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (
        not journal.exists() or len(journal.read_text().splitlines()) < 300
    ):
        time.sleep(0.02)
    doomed.kill()  # SIGKILL: no handler runs, the journal's last line may be cut
    doomed.wait(timeout=60)
    cut = len(journal.read_text().splitlines())
    assert 300 <= cut < 5037
    resumed = _run("backtest", "--config", "bt.toml", "--state", "state", "--json", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed after bar" in resumed.stderr
    plain = _run("backtest", "--config", "bt.toml", "--json", cwd=tmp_path)
    assert json.loads(resumed.stdout) == json.loads(plain.stdout)


def test_a_journal_line_cut_by_a_crash_is_redone(tmp_path: Path) -> None:
    from tradeswarm.backtest.config import load_backtest
    from tradeswarm.backtest.paper import PaperRun

    (tmp_path / "bt.toml").write_text(CONFIG)
    config = load_backtest(tmp_path / "bt.toml")
    whole = PaperRun(config, tmp_path / "a", 1e9, emit=lambda _: None).run()
    journal = tmp_path / "a" / "journal.jsonl"
    lines = journal.read_text().splitlines()
    journal.write_text("\n".join(lines[:120]) + "\n" + lines[120][:17])  # cut mid-line
    (tmp_path / "a" / "result.json").unlink()
    again = PaperRun(config, tmp_path / "a", 1e9, emit=lambda _: None).run()
    assert again == whole

    def bars(text: list[str]) -> list[tuple[int, str]]:
        rows = [json.loads(line) for line in text[1:]]
        return [(r["i"], r["digest"]) for r in rows]  # wall times differ, of course

    assert bars(journal.read_text().splitlines()) == bars(lines)
