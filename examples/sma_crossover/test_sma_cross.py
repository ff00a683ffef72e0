"""The example strategy's own test: it trades on its crossovers, through the gate."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from sma_cross import Params, SmaCrossover  # noqa: E402

from tradeswarm.backtest.config import load_backtest  # noqa: E402
from tradeswarm.backtest.runner import run_backtest  # noqa: E402


def test_the_example_config_runs_and_every_fill_was_permitted() -> None:
    result, run = run_backtest(load_backtest(HERE / "backtest.toml"))
    assert result["meta"]["symbols"] == ["AAPL", "JPM", "XOM"]
    assert result["trades"] > 50
    permitted = {d.proposal_id for d in run.decisions if d.final == "PERMIT"}
    assert {t.proposal_id for t in run.trades} <= permitted
    buys = [t for t in run.trades if t.side == "BUY"]
    assert all(t.quantity == "100" for t in buys)


def test_params_refuse_a_fast_average_slower_than_the_slow_one() -> None:
    with pytest.raises(ValueError, match="fast=30"):
        Params(fast=30, slow=10)
    assert SmaCrossover(Params()).params.slow == 30
