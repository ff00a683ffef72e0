"""TradingAgent: the built-in momentum and mean-reversion strategies (a `SignalTrader` on the
Strategy API) turn the analyzer's signals into TradeIntents."""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum
from typing import Any

import msgspec

from tradeswarm.agents.portfolio import PortfolioConfig
from tradeswarm.agents.strategy_host import StrategyAgent
from tradeswarm.bus.inproc import InProcessBus
from tradeswarm.core.clock import NS_PER_SECOND, Clock
from tradeswarm.core.config import ConfigBase
from tradeswarm.core.errors import ConfigurationError
from tradeswarm.model.enums import OrderType, Side, SignalDirection, TimeInForce
from tradeswarm.model.messages import MarketSignal, TradeIntent
from tradeswarm.strategy.api import Context, Proposal, Strategy

STRATEGY_OF_SETUP = {"momentum_cross": "momentum", "band_reversion": "mean_reversion"}
#: What `[trader] strategies` may list: the strategy of each setup the analyzer signals.
STRATEGIES = tuple(sorted(set(STRATEGY_OF_SETUP.values())))

#: (signal, quantity held) -> the notional the sizing wants bought now (>= 0).
Sizer = Callable[[MarketSignal, Decimal], Decimal]


class Sizing(StrEnum):
    """How a trade is sized; every choice is capped by the normal/conviction notionals."""

    FIXED = "fixed"  # the notional caps themselves
    KELLY = "kelly"  # fractional Kelly on the bracket's odds (stop / target in ATRs)
    PORTFOLIO = "portfolio"  # the PortfolioAgent's target under the risk budget, less held


class TraderConfig(ConfigBase, frozen=True):
    strategies: list[str] = msgspec.field(default_factory=lambda: ["momentum", "mean_reversion"])
    min_strength: float = 0.3
    normal_notional: Decimal = Decimal(60_000)
    conviction_notional: Decimal = Decimal(140_000)
    conviction_confidence: float = 0.75
    cooldown_s: int = 600
    stop_loss_atr: float = 3.0
    take_profit_atr: float = 4.0
    sizing: Sizing = Sizing.FIXED
    # sizing = "kelly": the fraction of full Kelly, on this equity
    kelly_fraction: float = 0.25
    kelly_equity: Decimal = Decimal(1_000_000)
    # sizing = "portfolio": [trader.portfolio] (method, risk_budget, vol_budget, ...)
    portfolio: PortfolioConfig = PortfolioConfig()

    def __post_init__(self) -> None:
        # a misspelt strategy would silently never trade, and so would an empty list
        # (stopping trade is the kill switch's job, which is logged and resumable)
        known = ", ".join(STRATEGIES)
        if not self.strategies:
            raise ConfigurationError(
                "trader.strategies", [], f"the trader would never trade; list some of: {known}"
            )
        for name in self.strategies:
            if name not in STRATEGIES:
                raise ConfigurationError(
                    "trader.strategies", name, f"unknown strategy; known: {known}"
                )


class SignalTrader(Strategy):
    """The swarm's built-in trader as a Strategy: momentum and mean reversion on the
    analyzer's signals (``on_signal``), sized fixed, by fractional Kelly or by the
    portfolio sizing, long-only, one intent per symbol per cooldown."""

    def __init__(self, config: TraderConfig, sizer: Sizer | None = None) -> None:
        super().__init__()
        if config.sizing is Sizing.PORTFOLIO and sizer is None:
            raise ConfigurationError("trader.sizing", config.sizing, "needs a portfolio sizer")
        self.config = config
        self.sizer = sizer

    def on_signal(self, ctx: Context, signal: Any) -> None:
        assert isinstance(signal, MarketSignal)
        planned = self.plan(
            signal, ctx.position(signal.symbol), ctx.last_proposal_ns(signal.symbol)
        )
        if planned is not None:
            side, qty, claims = planned
            propose = ctx.buy if side is Side.BUY else ctx.sell
            propose(signal.symbol, qty, **claims)

    def plan(
        self, sig: MarketSignal, held: Decimal, last_ns: int | None
    ) -> tuple[Side, Decimal, dict[str, Any]] | None:
        """(side, quantity, the intent's claims) for sig, or None when the strategy passes."""
        strategy = STRATEGY_OF_SETUP.get(sig.setup)
        if strategy not in self.config.strategies or sig.direction is SignalDirection.HOLD:
            return None
        cooling = (
            last_ns is not None and sig.ts_event - last_ns < self.config.cooldown_s * NS_PER_SECOND
        )
        if sig.strength < self.config.min_strength or cooling:
            return None
        qty = (self._notional(sig, held) / sig.price).to_integral_value(rounding=ROUND_DOWN)
        side = Side.BUY
        if sig.direction is SignalDirection.SELL:
            # long-only: a sell signal reduces a long, never opens a short
            qty, side = min(qty, held), Side.SELL
        return (side, qty, self._claims(sig, strategy, side)) if qty > 0 else None

    def _notional(self, sig: MarketSignal, held: Decimal) -> Decimal:
        c = self.config
        cap = c.conviction_notional if sig.confidence >= c.conviction_confidence else None
        cap = c.normal_notional if cap is None else cap
        if c.sizing is Sizing.FIXED:
            return cap
        if c.sizing is Sizing.PORTFOLIO:
            assert self.sizer is not None
            return max(Decimal(0), min(cap, self.sizer(sig, held)))
        from tradeswarm.agents.portfolio import kelly_notional

        kelly = kelly_notional(
            price=sig.price,
            atr=float(sig.indicators.get("atr_14", 0.0)),
            confidence=sig.confidence,
            stop_atr=c.stop_loss_atr,
            target_atr=c.take_profit_atr,
            equity=c.kelly_equity,
            fraction=c.kelly_fraction,
        )
        return min(cap, kelly)

    def _claims(self, sig: MarketSignal, strategy: str, side: Side) -> dict[str, Any]:
        atr = Decimal(str(sig.indicators.get("atr_14", 0.0)))
        stop = Decimal(str(self.config.stop_loss_atr)) * atr
        target = Decimal(str(self.config.take_profit_atr)) * atr
        protective = side is Side.BUY and atr > 0
        return {
            "signal_id": sig.signal_id,
            "reference_price": sig.price,
            "stop_loss": (sig.price - stop) if protective else None,
            "take_profit": (sig.price + target) if protective else None,
            "label": strategy,
            "confidence": sig.confidence,
            "at_ns": sig.ts_event,
            "rationale": (
                f"{sig.setup} {sig.direction} strength={sig.strength:.2f} "
                f"confidence={sig.confidence:.2f} rsi={sig.indicators.get('rsi_14', 0):.1f} "
                f"regime={sig.regime}"
            ),
        }


class TradingAgent(StrategyAgent):
    """The swarm's built-in trader: a `SignalTrader` hosted like any user strategy. It
    proposes trades; it has no broker handle and cannot bypass the risk manager."""

    def __init__(
        self,
        name: str,
        bus: InProcessBus,
        clock: Clock,
        config: TraderConfig,
        sizer: Sizer | None = None,
    ) -> None:
        """sizer: the portfolio sizing (the swarm builds it from the PortfolioAgent, the
        market view and the books); required when config.sizing is "portfolio"."""
        self.config = config
        super().__init__(name, bus, clock, SignalTrader(config, sizer), [], None)

    def intent_for_signal(self, sig: MarketSignal) -> TradeIntent | None:
        """The intent the trader would propose on sig now (not published), or None."""
        assert isinstance(self.strategy, SignalTrader)
        planned = self.strategy.plan(
            sig, self.position(self.identity.name, sig.symbol), self._last.get(sig.symbol)
        )
        if planned is None:
            return None
        side, qty, claims = planned
        rationale = claims.pop("rationale")
        proposal = Proposal(
            sig.symbol,
            side,
            qty,
            OrderType.MARKET,
            None,
            None,
            TimeInForce.DAY,
            rationale,
            **claims,
        )
        return self.intent_for(proposal)
