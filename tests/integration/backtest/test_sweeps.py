"""Sweeps and walk-forward: the same results serially and on a real local Ray cluster;
each window's pick is the best of its own in-sample sweep; bad grids are refused."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from bt_kit import OPEN_LIMITS

from shared_data import MARKET_DATA
from tradeswarm.backtest.config import BacktestConfig
from tradeswarm.backtest.sweep import Executor, GridConfig, run_one, sweep, walk_forward
from tradeswarm.core.config import convert_config
from tradeswarm.core.errors import ConfigurationError, InvalidInput


def _config() -> BacktestConfig:
    raw = {
        "initial_cash": "100000",
        "data": [{"path": str(MARKET_DATA / "orcl-1995-2014.txt"), "symbol": "ORCL"}],
        "strategies": [{"class": "tradeswarm.strategy.builtin:SmaCross", "symbols": ["ORCL"]}],
        "fills": {"fee_bps": "10"},
        "risk": OPEN_LIMITS,
    }
    return convert_config(raw, BacktestConfig)


GRID = GridConfig(params={"period": [10, 20, 40], "quantity": [500, 1000]})


def test_a_sweep_on_ray_gives_exactly_the_serial_results() -> None:
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        on_ray = sweep(_config(), GRID, "2000-01-01", "2004-12-31", Executor(ray=True))
    finally:
        ray.shutdown()
    serial = sweep(_config(), GRID, "2000-01-01", "2004-12-31", Executor(ray=False))
    assert on_ray == serial
    assert len(serial["runs"]) == 6
    assert len({r["sha256"] for r in serial["runs"]}) == 6  # six different runs


def test_each_window_picks_the_best_of_its_own_train_sweep() -> None:
    config = _config()
    result = walk_forward(config, GRID, 250, 125, "2001-01-01", "2004-12-31", Executor(False))
    windows = result["windows"]
    assert len(windows) >= 4
    body = __import__("msgspec").json.encode(config)
    first = windows[0]
    scores = [
        (run_one(body, 0, p, *first["train"])["metrics"]["sharpe"], k, p)
        for k, p in enumerate(
            [{"period": a, "quantity": b} for a in (10, 20, 40) for b in (500, 1000)]
        )
    ]
    best = max((s for s in scores if s[0] is not None), key=lambda s: (s[0], -s[1]))
    assert first["params"] == best[2]
    for w, after in itertools.pairwise(windows):
        assert w["test"][1] < after["test"][0]  # out-of-sample windows do not overlap
        assert w["train"][1] < w["test"][0]
    assert result["out_of_sample"]["bars"] > 400


def test_an_unknown_objective_and_an_empty_grid_are_refused() -> None:
    with pytest.raises(InvalidInput, match="objective"):
        sweep(
            _config(),
            GridConfig(params={"period": [10]}, objective="alpha"),
            "2003-01-01",
            "2003-12-31",
            Executor(False),
        )
    with pytest.raises(ConfigurationError, match=r"grid\.params"):
        GridConfig(params={"period": []})
    with pytest.raises(ConfigurationError, match="params"):
        sweep(_config(), GridConfig(params={"perod": [10]}), None, None, Executor(False))


def test_the_warm_up_is_history_only(tmp_path: Path) -> None:
    from tradeswarm.backtest.runner import run_backtest

    result, run = run_backtest(_config(), "2003-01-01", "2003-12-31", trade_from="2003-07-01")
    assert result["meta"]["from"].startswith("2003-07-01")
    assert all(t.ts >= run.timeline[0] for t in run.trades) and run.trades


def test_a_sweep_joins_a_real_ray_cluster_by_address(tmp_path: Path) -> None:
    """`ray start --head` in its own processes, joined by `--ray-address`: the same
    result bytes as a serial sweep."""
    import os
    import subprocess
    import sys

    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
    config = tmp_path / "bt.toml"
    config.write_text(
        f'initial_cash = "100000"\n[[data]]\npath = "{MARKET_DATA / "orcl-1995-2014.txt"}"\n'
        'symbol = "ORCL"\n[[strategies]]\nclass = "tradeswarm.strategy.builtin:SmaCross"\n'
        'symbols = ["ORCL"]\n[risk]\nvolatility_limit = 100.0\nmax_concentration = 10.0\n'
        'max_var_95 = "1"\nposition_limit = 1000000\nmin_history_bars = 15\n'
    )
    (tmp_path / "grid.toml").write_text("[params]\nperiod = [10, 20, 40]\n")
    head = ["--head", "--node-ip-address", "127.0.0.1", "--port", "6391", "--num-cpus", "2"]
    started = subprocess.run(
        [str(bin_dir / "ray"), "start", *head, "--include-dashboard=false"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert started.returncode == 0, started.stderr
    try:
        args = [
            "backtest",
            "--config",
            str(config),
            "--grid",
            str(tmp_path / "grid.toml"),
            "--from",
            "2000-01-01",
            "--to",
            "2004-12-31",
            "--json",
        ]
        run = [str(bin_dir / "tradeswarm"), *args]
        joined = subprocess.run(
            [*run, "--ray-address", "127.0.0.1:6391"],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        serial = subprocess.run(
            [*run, "--serial"], env=env, capture_output=True, text=True, timeout=300, check=False
        )
    finally:
        subprocess.run(
            [str(bin_dir / "ray"), "stop", "--force"],
            env=env,
            capture_output=True,
            timeout=120,
            check=False,
        )
    assert joined.returncode == 0, joined.stderr
    assert "Connected to Ray cluster" in joined.stderr
    assert joined.stdout == serial.stdout and len(json.loads(serial.stdout)["runs"]) == 3


def test_a_sweep_of_a_governed_config_runs_in_research_mode(tmp_path: Path) -> None:
    import msgspec

    from tradeswarm.backtest.config import Mode

    governed = msgspec.structs.replace(_config(), mode=Mode.GOVERNED, db=str(tmp_path / "g.db"))
    grid = GridConfig(params={"period": [10, 20]})
    out = sweep(governed, grid, "2003-01-01", "2003-12-31", Executor(False))
    assert out == sweep(_config(), grid, "2003-01-01", "2003-12-31", Executor(False))
    assert not (tmp_path / "g.db").exists()
