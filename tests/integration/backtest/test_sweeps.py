"""Sweeps and walk-forward: the same results serially and on a real local Ray cluster;
each window's pick is the best of its own in-sample sweep; bad grids are refused."""

from __future__ import annotations

import itertools
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
