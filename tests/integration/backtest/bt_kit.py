"""backtrader, the outside reference: its own SMA crossover on its own data feeds, and the
same strategy on tradeswarm, each run's fills as (day, side, size, price, commission)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import backtrader as bt

from tradeswarm.backtest.config import BacktestConfig
from tradeswarm.backtest.runner import run_backtest
from tradeswarm.core.config import convert_config

#: Limits that let every trade of these runs through (the gate still decides each).
OPEN_LIMITS = {
    "volatility_limit": 100.0,
    "max_concentration": 10.0,
    "max_var_95": "1",
    "position_limit": 1_000_000,
    "max_order_quantity": 1_000_000,
    "hard_cap": 10_000_000,
    "oversight_threshold": 10_000_000,
    "max_gross_exposure": 100_000_000,
    "max_order_notional": 100_000_000,
    "tiers": {"professional": {"max_trade_size": 10_000_000}},
    "min_history_bars": 15,
}


class BtSmaCross(bt.Strategy):  # type: ignore[misc]
    """backtrader's SMA crossover: buy `stake` when the close crosses above its SMA, sell
    the position when it crosses below; market orders, filled at the next bar's open."""

    params = (("period", 15), ("stake", 10))

    def __init__(self) -> None:
        sma = bt.ind.SMA(self.data.close, period=self.p.period)
        self.cross = bt.ind.CrossOver(self.data.close, sma)
        self.fills: list[tuple[dt.date, str, float, float, float]] = []

    def notify_order(self, order: Any) -> None:
        if order.status == order.Completed:
            day = bt.num2date(order.executed.dt).date()
            side = "BUY" if order.isbuy() else "SELL"
            ex = order.executed
            self.fills.append((day, side, abs(ex.size), ex.price, ex.comm))

    def next(self) -> None:
        if not self.position and self.cross > 0:
            self.buy(size=self.p.stake)
        elif self.position and self.cross < 0:
            self.sell(size=self.position.size)


def run_backtrader(feed: Any, cash: float, stake: int, commission: float) -> tuple[float, list]:
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(feed)
    cerebro.addstrategy(BtSmaCross, period=15, stake=stake)
    cerebro.broker.setcash(cash)
    cerebro.broker.setcommission(commission=commission)
    strategy = cerebro.run()[0]
    return cerebro.broker.getvalue(), strategy.fills


def run_ours(
    path: Path, symbol: str, cash: int, stake: int, fee_bps: str, adjust: bool = False
) -> dict[str, Any]:
    raw = {
        "initial_cash": str(cash),
        "data": [{"path": str(path), "symbol": symbol, "adjust": adjust}],
        "strategies": [
            {
                "class": "tradeswarm.strategy.builtin:SmaCross",
                "symbols": [symbol],
                "params": {"period": 15, "quantity": stake},
            }
        ],
        "fills": {"fee_bps": fee_bps, "round_fees": False},
        "risk": OPEN_LIMITS,
    }
    config = convert_config(raw, BacktestConfig)
    return run_backtest(config)[0]


def our_fills(result: dict[str, Any]) -> list[tuple[dt.date, str, Decimal, Decimal, Decimal]]:
    out = []
    for t in result["trade_list"]:
        day = dt.datetime.fromtimestamp(t["ts"] / 1e9, dt.UTC).date()
        out.append((day, t["side"], Decimal(t["quantity"]), Decimal(t["price"]), Decimal(t["fee"])))
    return out
