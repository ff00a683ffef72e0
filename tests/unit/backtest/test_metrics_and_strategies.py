"""The result's metrics against empyrical on the same equity curve; several strategies side
by side, each its own principal and attribution; oversight answered by policy."""

from __future__ import annotations

import warnings
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from engine_kit import OPEN

from shared_data import MARKET_DATA
from tradeswarm.backtest.config import BacktestConfig
from tradeswarm.backtest.result import compute_metrics
from tradeswarm.backtest.runner import run_backtest
from tradeswarm.core.config import convert_config
from tradeswarm.core.errors import ConfigurationError


def _limits(**extra: Any) -> dict[str, Any]:
    raw = {f: getattr(OPEN, f) for f in ("volatility_limit", "max_concentration")}
    return {**raw, "max_var_95": "1", "position_limit": 100_000, **extra}


def _config(strategies: list[dict[str, Any]], **extra: Any) -> BacktestConfig:
    raw = {
        "initial_cash": "1000000",
        "data": [{"path": str(MARKET_DATA / "stock_prices_20.csv")}],
        "strategies": strategies,
        "start": "2012-01-01",
        "end": "2016-12-31",
        "risk": _limits(),
        **extra,
    }
    return convert_config(raw, BacktestConfig)


MOMO = {"class": "tradeswarm.strategy.builtin:Momentum", "symbols": ["AAPL", "XOM"]}
REVERT = {"class": "tradeswarm.strategy.builtin:MeanReversion", "symbols": ["AAPL", "JPM"]}


def test_metrics_match_empyrical_on_the_same_equity_curve() -> None:
    empyrical = pytest.importorskip("empyrical")
    result, run = run_backtest(_config([MOMO, REVERT]))
    ppy = result["bars_per_year"]
    ours = compute_metrics(run, ppy)
    equity = np.asarray(run.equity)
    returns = equity[1:] / equity[:-1] - 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # empyrical's own pandas deprecations
        assert ours["sharpe"] == pytest.approx(empyrical.sharpe_ratio(returns, annualization=ppy))
        theirs_sortino = empyrical.sortino_ratio(returns, annualization=ppy)
        assert ours["max_drawdown"] == pytest.approx(-empyrical.max_drawdown(returns))
        assert ours["cagr"] == pytest.approx(empyrical.annual_return(returns, annualization=ppy))
        assert ours["calmar"] == pytest.approx(empyrical.calmar_ratio(returns, annualization=ppy))
    assert ours["sortino"] == pytest.approx(theirs_sortino)


def test_two_strategies_trade_side_by_side_each_under_its_own_name() -> None:
    result, run = run_backtest(_config([{**MOMO, "name": "momo"}, {**REVERT, "name": "revert"}]))
    assert {t.strategy for t in run.trades} == {"momo", "revert"}
    assert {t.symbol for t in run.trades if t.strategy == "momo"} <= {"AAPL", "XOM"}
    assert {t.symbol for t in run.trades if t.strategy == "revert"} <= {"AAPL", "JPM"}
    assert set(result["realized_by_strategy"]) == {"momo", "revert"}
    total = sum(Decimal(v) for v in result["realized_by_strategy"].values())
    unrealized = Decimal(result["final_equity"]) - Decimal("1000000") - total
    assert abs(unrealized) < Decimal(1_000_000)  # sane, and attribution adds up below
    assert Decimal(result["fees"]) == sum(Decimal(t.fee) for t in run.trades)


def test_a_strategy_on_the_starter_tier_is_held_to_its_trade_size() -> None:
    result, run = run_backtest(
        _config([{**MOMO, "tier": "starter", "params": {"notional": 20000}}])
    )
    assert run.trades == []
    assert result["denials_by_policy"].get("trade_size", 0) > 0


@pytest.mark.parametrize(("policy", "final"), [("approve", "PERMIT"), ("deny", "DENY")])
def test_a_review_is_answered_by_the_oversight_policy(policy: str, final: str) -> None:
    big = {**MOMO, "params": {"notional": 120000}}
    limits = _limits(oversight_threshold=100_000)
    config = _config([big], risk=limits, oversight={"policy": policy})
    _, run = run_backtest(config)
    reviewed = [d for d in run.decisions if d.verdict == "REVIEW"]
    assert reviewed and {d.final for d in reviewed} == {final}
    assert {d.oversight for d in reviewed} == {"approved" if final == "PERMIT" else "denied"}


def test_an_unknown_tier_and_an_unlisted_symbol_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="tier"):
        run_backtest(_config([{**MOMO, "tier": "gold"}]))
    with pytest.raises(ConfigurationError, match="no \\[\\[data\\]\\] source"):
        run_backtest(_config([{**MOMO, "symbols": ["MSFT"]}]))


def test_fees_follow_the_instruments_venue() -> None:
    strategies = [{**MOMO, "symbols": ["AAPL", "JPM"]}]  # XNAS and XNYS in the master
    fills = {"fee_bps": "1", "round_fees": False, "venues": {"XNAS": {"fee_bps": "20"}}}
    _, run = run_backtest(_config(strategies, fills=fills))
    rate = {t.symbol: Decimal(t.fee) / (Decimal(t.quantity) * Decimal(t.price)) for t in run.trades}
    assert rate["AAPL"] == pytest.approx(Decimal("0.002"), rel=Decimal("0.001"))
    assert rate["JPM"] == pytest.approx(Decimal("0.0001"), rel=Decimal("0.001"))


def test_a_negative_venue_fee_is_refused_naming_it() -> None:
    with pytest.raises(ConfigurationError, match=r"fills\.venues\.XNAS\.fee_bps"):
        _config([MOMO], fills={"venues": {"XNAS": {"fee_bps": "-1"}}})


def test_missing_and_extra_days_against_the_calendar_are_reported(tmp_path: Any) -> None:
    text = (MARKET_DATA / "orcl-1995-2014.txt").read_text().splitlines()
    kept = [line for line in text if not line.startswith("2010-03-1")]  # 8 sessions gone
    at = next(k for k, line in enumerate(kept) if line.startswith("2000-07-05"))
    kept.insert(at, "2000-07-04,30,31,29,30,30,100")  # Independence Day: no session
    (tmp_path / "orcl.csv").write_text("\n".join(kept) + "\n")
    raw = {
        "data": [{"path": str(tmp_path / "orcl.csv"), "symbol": "ORCL"}],
        "strategies": [{**MOMO, "symbols": ["ORCL"]}],
    }
    result, _ = run_backtest(convert_config(raw, BacktestConfig))
    gaps = result["meta"]["calendar_gaps"]["ORCL"]
    assert gaps["calendar"] == "XNYS"
    assert gaps["missing"] == 8 and gaps["missing_first"][0] == "2010-03-10"
    assert gaps["extra"] == 1 and gaps["extra_first"] == ["2000-07-04"]
