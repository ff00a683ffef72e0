"""Built-in strategies on the Strategy API: SMA crossover, momentum, mean reversion.

Each is what a user would write in their own package; the config names them as
``tradeswarm.strategy.builtin:SmaCross`` and so on.
"""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np

from tradeswarm.strategy.api import Context, Strategy, StrategyParams
from tradeswarm.strategy.market import BarRef


class SmaCrossParams(StrategyParams, frozen=True):
    period: int = 15
    quantity: Decimal = Decimal(10)


class SmaCross(Strategy):
    """Long while the close is above its SMA: buy when the close crosses above, sell the
    position when it crosses below (backtrader's CrossOver of close and SMA)."""

    Params = SmaCrossParams

    def __init__(self, params: StrategyParams | None = None) -> None:
        super().__init__(params)
        self._diff: dict[str, float] = {}

    def on_bar(self, ctx: Context, bar: BarRef) -> None:
        p = self.params
        closes = ctx.history(bar.symbol, "close", p.period)
        if len(closes) < p.period:
            return
        diff = bar.close - math.fsum(closes) / p.period  # the exactly rounded sum
        before = self._diff.get(bar.symbol)
        self._diff[bar.symbol] = diff if diff != 0 else (before or 0.0)
        if before is None or diff == 0:
            return
        held = ctx.position(bar.symbol)
        if before < 0 < diff and held == 0:
            ctx.buy(bar.symbol, p.quantity, rationale="close crossed above its SMA")
        elif before > 0 > diff and held > 0:
            ctx.sell(bar.symbol, held, rationale="close crossed below its SMA")


class MomentumParams(StrategyParams, frozen=True):
    fast: int = 10
    slow: int = 30
    notional: Decimal = Decimal(10_000)


class Momentum(Strategy):
    """Fast SMA above slow SMA: hold about `notional` worth; below: flat."""

    Params = MomentumParams

    def on_bar(self, ctx: Context, bar: BarRef) -> None:
        p = self.params
        closes = ctx.history(bar.symbol, "close", p.slow)
        if len(closes) < p.slow:
            return
        long = float(np.mean(closes[-p.fast :])) > float(np.mean(closes))
        want = int(p.notional / Decimal(repr(bar.close))) if long else 0
        held = ctx.position(bar.symbol)
        if (want > 0) != (held > 0) and (want or held):
            ctx.order_target(bar.symbol, want, rationale="fast SMA vs slow SMA")


class MeanReversionParams(StrategyParams, frozen=True):
    period: int = 20
    width: float = 2.0
    notional: Decimal = Decimal(10_000)


class MeanReversion(Strategy):
    """Buy below the lower Bollinger band, sell back at the mean."""

    Params = MeanReversionParams

    def on_bar(self, ctx: Context, bar: BarRef) -> None:
        p = self.params
        closes = ctx.history(bar.symbol, "close", p.period)
        if len(closes) < p.period:
            return
        mean, std = float(np.mean(closes)), float(np.std(closes))
        held = ctx.position(bar.symbol)
        if held == 0 and bar.close < mean - p.width * std:
            qty = int(p.notional / Decimal(repr(bar.close)))
            if qty > 0:
                ctx.buy(bar.symbol, qty, rationale="below the lower band")
        elif held > 0 and bar.close >= mean:
            ctx.sell(bar.symbol, held, rationale="back at the mean")
