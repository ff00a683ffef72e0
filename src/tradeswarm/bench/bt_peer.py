"""The backtest bench's peer: backtrader's own SMA crossover (its SMA and CrossOver
indicators), filled at the next open, recording each fill. Imported only by the bench and
the parity tests (backtrader is in the `oracles` extra)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import backtrader as bt


class BtSmaCross(bt.Strategy):  # type: ignore[misc]
    params = (("period", 15), ("stake", 10))

    def __init__(self) -> None:
        sma = bt.ind.SMA(self.data.close, period=self.p.period)
        self.cross = bt.ind.CrossOver(self.data.close, sma)
        self.fills: list[tuple[dt.date, str, float, float, float]] = []

    def notify_order(self, order: Any) -> None:
        if order.status == order.Completed:
            day = bt.num2date(order.executed.dt).date()
            ex = order.executed
            side = "BUY" if order.isbuy() else "SELL"
            self.fills.append((day, side, abs(ex.size), ex.price, ex.comm))

    def next(self) -> None:
        if not self.position and self.cross > 0:
            self.buy(size=self.p.stake)
        elif self.position and self.cross < 0:
            self.sell(size=self.position.size)


def run(
    path: Path, cash: float, stake: int, commission: float, feed: Any = None
) -> tuple[float, list[Any]]:
    cerebro = bt.Cerebro(stdstats=False)
    data = feed
    if data is None:  # a feed is a line object: its truth value is a line operation
        data = bt.feeds.YahooFinanceCSVData(dataname=str(path), adjclose=False, round=False)
    cerebro.adddata(data)
    cerebro.addstrategy(BtSmaCross, period=15, stake=stake)
    cerebro.broker.setcash(cash)
    cerebro.broker.setcommission(commission=commission)
    strategy = cerebro.run()[0]
    return cerebro.broker.getvalue(), strategy.fills
