"""The trader's portfolio sizing: the PortfolioAgent's target for a symbol, from the market
view's returns and the books' equity, under the risk budget ([trader] sizing = "portfolio")."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

import numpy as np

from tradeswarm.agents.portfolio import PortfolioAgent, PortfolioConfig
from tradeswarm.data.view import MarketView
from tradeswarm.model.messages import MarketSignal
from tradeswarm.risk.context import equity_of
from tradeswarm.store import Store

MIN_RETURNS = 10  # fewer one-bar returns than this: no estimate, no trade


class PortfolioSizer:
    """How much more of a symbol to buy: target notional minus what is held, never < 0.

    The target is `PortfolioAgent.target_notionals` over the one-bar returns the market
    view holds and the equity the books hold now (cash + positions at the marks): gross
    exposure at most risk_budget x equity, ex-ante volatility at most vol_budget.
    """

    def __init__(
        self,
        config: PortfolioConfig,
        market: MarketView,
        store: Store,
        multipliers: Mapping[str, Decimal] | None = None,
    ) -> None:
        """multipliers: contract multipliers by symbol (the instrument master's)."""
        self.agent = PortfolioAgent(config)
        self.market = market
        self.store = store
        self.multipliers = dict(multipliers or {})

    def target(self, symbol: str) -> Decimal:
        """The symbol's target market value now (0 without enough history)."""
        returns = self.market.returns(symbol)
        if len(returns) < MIN_RETURNS:
            return Decimal(0)
        equity = equity_of(
            self.store.get_cash(), self.store.get_positions(), self.market.marks(), self.multipliers
        )
        matrix = np.asarray(returns, dtype=np.float64)[:, None]
        try:
            return self.agent.target_notionals([symbol], matrix, equity)[symbol]
        except ValueError:  # degenerate history (e.g. all-equal prices): no estimate
            return Decimal(0)

    def __call__(self, sig: MarketSignal, held: Decimal) -> Decimal:
        return max(Decimal(0), self.target(sig.symbol) - held * sig.price)
