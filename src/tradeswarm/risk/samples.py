"""Draws of realistic trade intents and their contexts, for sample_requests."""

from __future__ import annotations

import random
import uuid
from decimal import Decimal

from tradeswarm.core.clock import NS_PER_SECOND
from tradeswarm.model.enums import MarketStatus, OrderType, Side, TimeInForce
from tradeswarm.model.messages import HumanApproval, TradeIntent
from tradeswarm.model.portfolio import Position
from tradeswarm.risk.context import BookFacts, DeskFacts, MarketFacts, RiskContext, build_context
from tradeswarm.risk.limits import RiskLimits

NOW_NS = 1_704_205_800 * NS_PER_SECOND
SIZE_MIX = ((0.70, 1_000, 10_000), (0.25, 10_000, 50_000), (0.04, 50_000, 150_000))
PRICES = {"ES": 4_700, "NQ": 16_800, "AAPL": 185, "MSFT": 370, "BTCUSD": 42_000}


class SampleDraw:
    """One seeded stream of (intent, context) pairs over a fixed universe."""

    def __init__(
        self, seed: int, limits: RiskLimits, instruments: dict[str, str], agents: list[str]
    ) -> None:
        self.rng = random.Random(seed)
        self.limits = limits
        self.instruments = instruments
        self.agents = [*agents, "rogue-agent"]

    def _notional(self) -> Decimal:
        pick = self.rng.random()
        for weight, lo, hi in SIZE_MIX:
            if pick < weight:
                return Decimal(self.rng.randint(lo * 100, hi * 100)).scaleb(-2)
            pick -= weight
        return Decimal(self.rng.randint(150_000, 2_000_000))  # over the cap: 1%

    def _intent(self, k: int) -> TradeIntent:
        rng = self.rng
        symbols = sorted(self.instruments)
        rare = set(self.limits.excluded_asset_classes)
        weights = [
            1 if self.instruments[s] in rare or s in self.limits.restricted_symbols else 12
            for s in symbols
        ]
        symbol = rng.choices(symbols, weights=weights)[0]
        price = Decimal(PRICES.get(symbol, 1)) + Decimal(rng.randint(0, 9999)).scaleb(-2)
        quantity = max((self._notional() / price).quantize(Decimal("0.001")), Decimal("0.001"))
        order_type = rng.choices(list(OrderType), weights=[80, 17, 3])[0]
        return TradeIntent(
            intent_id=uuid.UUID(int=k),
            signal_id=None,
            agent_id=rng.choices(self.agents, weights=[30] * (len(self.agents) - 1) + [2])[0],
            symbol=symbol,
            side=rng.choice(list(Side)),
            quantity=quantity,
            order_type=order_type,
            time_in_force=TimeInForce.DAY,
            reference_price=price,
            limit_price=price if order_type is OrderType.LIMIT else None,
            stop_price=price if order_type is OrderType.STOP else None,
            strategy="sample",
            rationale="sample",
            confidence=0.5,
            ts_event=NOW_NS,
            asset_class=self.instruments[symbol],
        )

    def _market(self, symbol: str, price: Decimal) -> MarketFacts:
        rng = self.rng
        halted = frozenset(s for s in self.instruments if rng.random() < 0.02)
        return MarketFacts(
            marks={symbol: price},
            status=rng.choices(list(MarketStatus), weights=[95, 4, 1])[0],
            volatility=rng.choice([0.08, 0.12, 0.18, 0.25, 0.29]) if rng.random() < 0.93 else 0.35,
            halted_symbols=halted,
            returns=tuple(rng.gauss(0.0, 0.001) for _ in range(30)),
        )

    def _desk(self) -> DeskFacts:
        rng = self.rng
        approval = None
        if rng.random() < 0.3:
            approval = HumanApproval(
                request_id=uuid.UUID(int=1),
                approver="jane.doe@desk",
                approved=rng.random() < 0.8,
                decided_ns=NOW_NS - rng.randint(-5, 600) * NS_PER_SECOND,
            )
        return DeskFacts(
            kill_switch=rng.random() < 0.01,
            compliance_status="approved" if rng.random() < 0.98 else "suspended",
            insider_window=rng.random() < 0.01,
            approval=approval,
            now_ns=NOW_NS,
        )

    def _pnl(self) -> Decimal:
        """Today's P&L so far: usually modest, now and then past the daily-loss limit."""
        return Decimal(round(self.rng.gauss(0, 20_000), 2))

    def intent_and_context(self, k: int) -> tuple[TradeIntent, RiskContext]:
        intent = self._intent(k)
        cash = Decimal(self.rng.choice([1_000_000, 5_000_000, 20_000_000]))
        book_share = Decimal(self.rng.randint(0, 800)).scaleb(-4)  # 0-8% of cash, long
        held = (cash * book_share / intent.reference_price).to_integral_value()
        book = BookFacts(
            cash=cash,
            positions={
                intent.symbol: Position(
                    symbol=intent.symbol, quantity=held, avg_cost=intent.reference_price
                )
            },
            equity_at_open=cash + held * intent.reference_price + self._pnl(),
        )
        market = self._market(intent.symbol, intent.reference_price)
        return intent, build_context(intent, book, market, self._desk())
