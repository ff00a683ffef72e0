"""Draws of realistic trade intents and their contexts, for sample_requests.

The universe is a handful of instruments of the bundled instrument master (stocks, index
futures, crypto, FX) and one sample-only derivative; each draw values the intent the way
the risk manager does (its own quote, the contract multiplier) and now and then trips a
pre-trade control: an off-collar limit, a stale quote, too little history, a burst of
intents, a duplicate, too many open orders.
"""

from __future__ import annotations

import random
import uuid
from decimal import ROUND_DOWN, Decimal

from tradeswarm.core.clock import NS_PER_SECOND
from tradeswarm.model.enums import MarketStatus, OrderType, Side, TimeInForce
from tradeswarm.model.market import Instrument, Quote
from tradeswarm.model.messages import HumanApproval, TradeIntent
from tradeswarm.model.portfolio import Position
from tradeswarm.risk.context import BookFacts, DeskFacts, MarketFacts, RiskContext, build_context
from tradeswarm.risk.limits import RiskLimits

NOW_NS = 1_704_205_800 * NS_PER_SECOND
SIZE_MIX = ((0.70, 1_000, 10_000), (0.25, 10_000, 50_000), (0.04, 50_000, 150_000))
PRICES = {
    "ES": 4_700,
    "NQ": 16_800,
    "AAPL": 185,
    "GOOG": 140,
    "JPM": 170,
    "MSFT": 370,
    "WMT": 160,
    "XOM": 100,
    "BTCUSD": 42_000,
    "EURUSD": 1,
    "SHLD": 2,
}
#: Most traffic is in stocks the desk may trade; a little in what it may not (a restricted
#: stock, index futures whose one contract passes most caps, excluded asset classes, an
#: untradable listing).
WEIGHTS = {"AAPL": 10, "GOOG": 10, "JPM": 10, "WMT": 10, "XOM": 10, "MSFT": 2, "ES": 2}


def _rarely(rng: random.Random, p: float) -> bool:
    return rng.random() < p


class SampleDraw:
    """One seeded stream of (intent, context) pairs over a fixed universe."""

    def __init__(
        self,
        seed: int,
        limits: RiskLimits,
        instruments: dict[str, Instrument],
        agents: list[str],
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

    def _quantity(self, instrument: Instrument, price: Decimal) -> Decimal:
        lots = self._notional() / (price * instrument.multiplier * instrument.lot_size)
        whole = max(lots.to_integral_value(rounding=ROUND_DOWN), Decimal(1))
        quantity = whole * instrument.lot_size
        if _rarely(self.rng, 0.01):  # an odd lot now and then
            quantity += instrument.lot_size / 2
        return quantity

    def _order_price(self, instrument: Instrument, mid: Decimal) -> Decimal:
        """A limit or stop near the market; one in fifty far outside the collar."""
        bps = self.rng.randint(-150, 150) if not _rarely(self.rng, 0.02) else 5_000
        raw = mid * (1 + Decimal(bps).scaleb(-4))
        ticks = max((raw / instrument.tick_size).to_integral_value(), Decimal(1))
        off = instrument.tick_size / 2 if _rarely(self.rng, 0.01) else 0  # off the tick grid
        return ticks * instrument.tick_size + off

    def _intent(self, k: int) -> tuple[TradeIntent, Instrument, Decimal]:
        rng = self.rng
        symbols = sorted(self.instruments)
        symbol = rng.choices(symbols, weights=[WEIGHTS.get(s, 1) for s in symbols])[0]
        instrument = self.instruments[symbol]
        ticks = Decimal(rng.randint(0, 9_999)).scaleb(-2) / instrument.tick_size
        mid = Decimal(PRICES.get(symbol, 100)) + ticks.to_integral_value() * instrument.tick_size
        order_type = rng.choices(list(OrderType), weights=[80, 17, 3])[0]
        price = self._order_price(instrument, mid)
        intent = TradeIntent(
            intent_id=uuid.UUID(int=k),
            signal_id=None,
            agent_id=rng.choices(self.agents, weights=[30] * (len(self.agents) - 1) + [2])[0],
            symbol=symbol,
            side=rng.choice(list(Side)),
            quantity=self._quantity(instrument, mid),
            order_type=order_type,
            time_in_force=TimeInForce.DAY,
            reference_price=mid,
            limit_price=price if order_type is OrderType.LIMIT else None,
            stop_price=price if order_type is OrderType.STOP else None,
            strategy="sample",
            rationale="sample",
            confidence=0.5,
            ts_event=NOW_NS,
        )
        return intent, instrument, mid

    def _market(self, instrument: Instrument, mid: Decimal) -> MarketFacts:
        rng = self.rng
        half = instrument.tick_size * rng.randint(1, 4)
        age_s = rng.randint(0, 30) if not _rarely(rng, 0.01) else 600
        quote = Quote(
            symbol=instrument.symbol,
            ts_event=NOW_NS - age_s * NS_PER_SECOND,
            bid=mid - half,
            ask=mid + half,
        )
        return MarketFacts(
            quote=quote,
            marks={instrument.symbol: mid},
            multipliers={s: i.multiplier for s, i in self.instruments.items()},
            status=rng.choices(list(MarketStatus), weights=[95, 4, 1])[0],
            volatility=rng.choice([0.08, 0.12, 0.18, 0.25, 0.29]) if rng.random() < 0.93 else 0.35,
            history_bars=31 if not _rarely(rng, 0.01) else rng.randint(0, 29),
            halted_symbols=frozenset(s for s in self.instruments if rng.random() < 0.02),
            returns=tuple(rng.gauss(0.0, 0.001) for _ in range(30)),
        )

    def _desk(self, agent: str) -> DeskFacts:
        rng = self.rng
        approval = None
        if rng.random() < 0.3:
            approval = HumanApproval(
                request_id=uuid.UUID(int=1),
                approver="jane.doe@desk",
                approved=rng.random() < 0.8,
                decided_ns=NOW_NS - rng.randint(-5, 600) * NS_PER_SECOND,
            )
        burst = _rarely(rng, 0.01)
        return DeskFacts(
            principal=agent,
            kill_switch=rng.random() < 0.01,
            compliance_status="approved" if rng.random() < 0.98 else "suspended",
            insider_window=rng.random() < 0.01,
            approval=approval,
            intents_last_second=rng.randint(1, 3) if not burst else 40,
            intents_last_minute=rng.randint(1, 30) if not burst else 400,
            duplicate_of=str(uuid.UUID(int=7)) if _rarely(rng, 0.01) else "",
            now_ns=NOW_NS,
        )

    def _pnl(self) -> Decimal:
        """Today's P&L so far: usually modest, now and then past the daily-loss limit."""
        return Decimal(round(self.rng.gauss(0, 20_000), 2))

    def intent_and_context(self, k: int) -> tuple[TradeIntent, RiskContext]:
        intent, instrument, mid = self._intent(k)
        cash = Decimal(self.rng.choice([1_000_000, 5_000_000, 20_000_000]))
        book_share = Decimal(self.rng.randint(0, 800)).scaleb(-4)  # 0-8% of cash, long
        held = (cash * book_share / (mid * instrument.multiplier)).to_integral_value()
        open_orders = self.rng.randint(0, 5) if not _rarely(self.rng, 0.01) else 25
        book = BookFacts(
            cash=cash,
            positions={intent.symbol: Position(symbol=intent.symbol, quantity=held, avg_cost=mid)},
            equity_at_open=cash + held * mid * instrument.multiplier + self._pnl(),
            open_orders=open_orders,
            open_order_exposure=Decimal(open_orders * 5_000),
        )
        market = self._market(instrument, mid)
        return intent, build_context(intent, instrument, book, market, self._desk(intent.agent_id))
