"""An SMA-crossover strategy as a user writes it, in their own file, on tradeswarm's API.

Fast SMA crosses above the slow one: buy `quantity`; crosses below: sell what is held.
Run it: `tradeswarm backtest --config examples/sma_crossover/backtest.toml --report r.html`.
"""

from __future__ import annotations

import math
from decimal import Decimal

from tradeswarm.strategy import BarRef, Context, Strategy, StrategyParams


class Params(StrategyParams, frozen=True):
    fast: int = 10
    slow: int = 30
    quantity: Decimal = Decimal(100)

    def __post_init__(self) -> None:
        if not 0 < self.fast < self.slow:
            raise ValueError(f"fast={self.fast} must be > 0 and < slow={self.slow}")


class SmaCrossover(Strategy):
    Params = Params

    def __init__(self, params: Params | None = None) -> None:
        super().__init__(params)
        self.above: dict[str, bool] = {}

    def on_bar(self, ctx: Context, bar: BarRef) -> None:
        p = self.params
        closes = ctx.history(bar.symbol, "close", p.slow)
        if len(closes) < p.slow:
            return
        fast = math.fsum(closes[-p.fast :]) / p.fast
        slow = math.fsum(closes) / p.slow
        above, before = fast > slow, self.above.get(bar.symbol)
        self.above[bar.symbol] = above
        held = ctx.position(bar.symbol)
        if before is False and above and held == 0:
            ctx.buy(bar.symbol, p.quantity, rationale=f"SMA{p.fast} crossed above SMA{p.slow}")
        elif before is True and not above and held > 0:
            ctx.sell(bar.symbol, held, rationale=f"SMA{p.fast} crossed below SMA{p.slow}")
