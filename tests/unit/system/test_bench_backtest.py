"""`tradeswarm bench backtest`: its figures come from real runs of both sides."""

from __future__ import annotations

import pytest

from tradeswarm.bench.backtest import run_backtest_bench


@pytest.mark.slow
def test_the_backtest_bench_measures_both_sides_on_the_same_trades() -> None:
    out = run_backtest_bench(repeats=1, sweep_size=2, progress=False)
    assert out["identical_trades"] and out["governed_identical_trades"]
    assert out["sweep_ray_identical"]
    assert out["trades"] == 749 and out["gate_decisions"] == 749
    for key in ("research_bars_per_s", "backtrader_bars_per_s", "governed_bars_per_s"):
        assert out[key] > 0
    assert len(out["load_average_start"]) == 3
