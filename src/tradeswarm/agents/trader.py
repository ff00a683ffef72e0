"""TradingAgent: momentum and mean-reversion strategies turn signals into TradeIntents."""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum

import msgspec

from tradeswarm.agents.portfolio import PortfolioConfig
from tradeswarm.bus.agent import Agent
from tradeswarm.bus.inproc import InProcessBus
from tradeswarm.bus.topics import FILLS, INTENTS, SIGNALS, Role
from tradeswarm.core.clock import NS_PER_SECOND, Clock
from tradeswarm.core.config import ConfigBase
from tradeswarm.core.errors import ConfigurationError
from tradeswarm.core.ids import derived_id
from tradeswarm.model.enums import OrderType, Side, SignalDirection, TimeInForce
from tradeswarm.model.envelope import Envelope
from tradeswarm.model.messages import FillReceived, MarketSignal, TradeIntent

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


class TradingAgent(Agent):
    """Proposes trades; it has no broker handle and cannot bypass the risk manager."""

    role = Role.TRADER

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
        if config.sizing is Sizing.PORTFOLIO and sizer is None:
            raise ConfigurationError("trader.sizing", config.sizing, "needs a portfolio sizer")
        self.config = config
        self.sizer = sizer
        self._position: dict[str, Decimal] = {}
        self._last_intent_ns: dict[str, int] = {}
        super().__init__(name, bus, clock)

    def subscribe(self, bus: InProcessBus) -> None:
        bus.subscribe(SIGNALS, self.on_signal)
        bus.subscribe(FILLS, self.on_fill)

    def restore(self, env: Envelope) -> None:
        """Rebuild in-memory state from the log after a restart."""
        if isinstance(env.payload, FillReceived):
            self._apply_fill(env.payload)
        elif isinstance(env.payload, TradeIntent) and env.payload.agent_id == self.identity.name:
            self._last_intent_ns[env.payload.symbol] = env.payload.ts_event

    async def on_fill(self, env: Envelope) -> None:
        assert isinstance(env.payload, FillReceived)
        self._apply_fill(env.payload)

    def _apply_fill(self, fill: FillReceived) -> None:
        held = self._position.get(fill.symbol, Decimal(0))
        self._position[fill.symbol] = held + fill.side.sign * fill.quantity

    async def on_signal(self, env: Envelope) -> None:
        sig = env.payload
        assert isinstance(sig, MarketSignal)
        intent = self.propose(sig)
        if intent is not None:
            self._last_intent_ns[sig.symbol] = sig.ts_event
            self.out.publish(INTENTS, intent, key=str(intent.intent_id), cause=env)

    def propose(self, sig: MarketSignal) -> TradeIntent | None:
        """Decide whether and how much to trade on sig; None when the strategy passes."""
        strategy = STRATEGY_OF_SETUP.get(sig.setup)
        if strategy not in self.config.strategies or sig.direction is SignalDirection.HOLD:
            return None
        if sig.strength < self.config.min_strength or self._cooling_down(sig):
            return None
        qty = (self._notional(sig) / sig.price).to_integral_value(rounding=ROUND_DOWN)
        side = Side.BUY
        if sig.direction is SignalDirection.SELL:
            # long-only: a sell signal reduces a long, never opens a short
            qty, side = min(qty, self._position.get(sig.symbol, Decimal(0))), Side.SELL
        return self._intent(sig, strategy, side, qty) if qty > 0 else None

    def _cooling_down(self, sig: MarketSignal) -> bool:
        last = self._last_intent_ns.get(sig.symbol)
        return last is not None and sig.ts_event - last < self.config.cooldown_s * NS_PER_SECOND

    def _notional(self, sig: MarketSignal) -> Decimal:
        c = self.config
        cap = c.conviction_notional if sig.confidence >= c.conviction_confidence else None
        cap = c.normal_notional if cap is None else cap
        if c.sizing is Sizing.FIXED:
            return cap
        if c.sizing is Sizing.PORTFOLIO:
            assert self.sizer is not None
            held = self._position.get(sig.symbol, Decimal(0))
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

    def _intent(self, sig: MarketSignal, strategy: str, side: Side, qty: Decimal) -> TradeIntent:
        atr = Decimal(str(sig.indicators.get("atr_14", 0.0)))
        stop = Decimal(str(self.config.stop_loss_atr)) * atr
        target = Decimal(str(self.config.take_profit_atr)) * atr
        protective = side is Side.BUY and atr > 0
        return TradeIntent(
            intent_id=derived_id(sig.ts_event, "intent", self.identity.name, str(sig.signal_id)),
            signal_id=sig.signal_id,
            agent_id=self.identity.name,
            symbol=sig.symbol,
            side=side,
            quantity=qty,
            order_type=OrderType.MARKET,
            time_in_force=TimeInForce.DAY,
            reference_price=sig.price,
            stop_loss=(sig.price - stop) if protective else None,
            take_profit=(sig.price + target) if protective else None,
            strategy=strategy,
            confidence=sig.confidence,
            ts_event=sig.ts_event,
            rationale=(
                f"{sig.setup} {sig.direction} strength={sig.strength:.2f} "
                f"confidence={sig.confidence:.2f} rsi={sig.indicators.get('rsi_14', 0):.1f} "
                f"regime={sig.regime}"
            ),
        )
