from __future__ import annotations

import uuid
from decimal import Decimal

import numpy as np
import pytest
import talib

from tradeswarm.agents.analyzer import WINDOW, MarketAnalyzer
from tradeswarm.agents.trader import TraderConfig, TradingAgent
from tradeswarm.bus.identity import Identity
from tradeswarm.bus.inproc import InProcessBus
from tradeswarm.bus.topics import FILLS, INTENTS, ORDERS, SIGNALS, Role
from tradeswarm.core.clock import NS_PER_SECOND, SimClock
from tradeswarm.data.csv_bars import bundled_bars
from tradeswarm.model.enums import OrderType, Side, SignalDirection, TimeInForce
from tradeswarm.model.envelope import Envelope
from tradeswarm.model.messages import FillReceived, MarketSignal, OrderUpdated, TradeIntent
from tradeswarm.model.order import Order
from tradeswarm.quant.regime import Regime, classify_regime

S = NS_PER_SECOND
T_2006 = 1_136_278_860 * S  # 2006-01-03 09:01 UTC, in the bundled bars' days (not testkit.T0)


def test_analyzer_indicators_equal_talib_on_the_same_window() -> None:
    bars = bundled_bars()[:900]
    clock = SimClock(0)
    analyzer = MarketAnalyzer("market-analyzer-01", InProcessBus(clock), clock)
    checked = 0
    regimes = set()
    for index, bar in enumerate(bars):
        clock.set(bar.ts_event)
        for sig in analyzer.on_bar(bar, publish=False):
            window = bars[max(0, index + 1 - WINDOW) : index + 1]
            h, lo, c = (
                np.array([float(getattr(b, f)) for b in window]) for f in ("high", "low", "close")
            )
            upper, _, lower = talib.BBANDS(c, timeperiod=20, nbdevup=2.0, nbdevdn=2.0)
            expected = {
                "ema_12": round(float(talib.EMA(c, timeperiod=12)[-1]), 4),
                "ema_26": round(float(talib.EMA(c, timeperiod=26)[-1]), 4),
                "rsi_14": round(float(talib.RSI(c, timeperiod=14)[-1]), 2),
                "atr_14": round(max(float(talib.ATR(h, lo, c, timeperiod=14)[-1]), 1e-9), 4),
                "bb_upper": round(float(upper[-1]), 4),
                "bb_lower": round(float(lower[-1]), 4),
            }
            assert sig.indicators == expected, (index, sig.setup)
            assert sig.regime == classify_regime(h, lo, c).regime.value
            regimes.add(sig.regime)
            assert sig.price == bar.close
            assert 0.0 <= sig.strength <= 1.0 and 0.0 <= sig.confidence <= 1.0
            checked += 1
    assert checked >= 3
    assert len(regimes) >= 2 and Regime.UNKNOWN.value not in regimes


def test_analyzer_is_silent_until_the_window_warms_up() -> None:
    clock = SimClock(0)
    analyzer = MarketAnalyzer("market-analyzer-01", InProcessBus(clock), clock)
    assert all(analyzer.on_bar(b) == [] for b in bundled_bars()[:39])


@pytest.mark.asyncio
async def test_analyzer_publishes_what_it_returns() -> None:
    clock = SimClock(0)
    bus = InProcessBus(clock)
    got: list[Envelope] = []

    async def handler(env: Envelope) -> None:
        got.append(env)

    bus.subscribe(SIGNALS, handler)
    analyzer = MarketAnalyzer("market-analyzer-01", bus, clock)
    returned = []
    for bar in bundled_bars()[:400]:
        clock.set(bar.ts_event)
        returned += analyzer.on_bar(bar)
        await bus.drain()
    assert returned
    assert [e.payload for e in got] == returned


def _signal(
    direction: SignalDirection,
    ts: int,
    *,
    strength: float = 0.8,
    confidence: float = 0.6,
    price: str = "1000",
    setup: str = "momentum_cross",
) -> MarketSignal:
    return MarketSignal(
        signal_id=uuid.uuid5(uuid.NAMESPACE_OID, f"{ts}{direction}"),
        symbol="ES",
        direction=direction,
        strength=strength,
        confidence=confidence,
        price=Decimal(price),
        ts_event=ts,
        expiry_ns=ts + 60 * S,
        setup=setup,
        indicators={"atr_14": 2.0},
    )


class TraderRig:
    def __init__(self) -> None:
        self.clock = SimClock(T_2006)
        self.bus = InProcessBus(self.clock)
        self.trader = TradingAgent("trading-agent-01", self.bus, self.clock, TraderConfig())
        self.intents: list[TradeIntent] = []
        self.analyzer = self.bus.attach(Identity("market-analyzer-01", Role.ANALYZER))
        self.execution = self.bus.attach(Identity("order-executor-01", Role.EXECUTION))

        async def handler(env: Envelope) -> None:
            assert isinstance(env.payload, TradeIntent)
            self.intents.append(env.payload)

        self.bus.subscribe(INTENTS, handler)

    async def signal(self, sig: MarketSignal) -> None:
        self.clock.set(max(self.clock.now_ns(), sig.ts_event))
        self.analyzer.publish(SIGNALS, sig, key=str(sig.signal_id))
        await self.bus.drain()

    def order(self, n: int, side: Side, qty: str) -> Envelope:
        """The execution agent announces the trader's order (its fills count as the
        trader's position: a trader's position is its own orders' fills)."""
        now = self.clock.now_ns()
        order = Order(
            order_id=uuid.UUID(int=n),
            client_order_id=f"c{n}",
            intent_id=uuid.UUID(int=10_000 + n),
            agent_id="trading-agent-01",
            symbol="ES",
            side=side,
            quantity=Decimal(qty),
            order_type=OrderType.MARKET,
            time_in_force=TimeInForce.DAY,
            created_ns=now,
            updated_ns=now,
        )
        return self.execution.publish(ORDERS, OrderUpdated(order=order, ts_event=now), key=f"o{n}")

    async def fill(self, side: Side, qty: str) -> None:
        n = len(self.intents) + self.bus.stats.published
        self.order(n, side, qty)
        self.execution.publish(
            FILLS,
            FillReceived(
                fill_id=f"f{n}",
                order_id=uuid.UUID(int=n),
                client_order_id=f"c{n}",
                symbol="ES",
                side=side,
                quantity=Decimal(qty),
                price=Decimal(1000),
                fee=Decimal(0),
                ts_event=self.clock.now_ns(),
            ),
            key=f"f{n}",
        )
        await self.bus.drain()


@pytest.mark.asyncio
async def test_sell_signal_without_a_position_proposes_nothing() -> None:
    rig = TraderRig()
    await rig.signal(_signal(SignalDirection.SELL, T_2006))
    assert rig.intents == []


@pytest.mark.asyncio
async def test_sell_is_capped_at_the_long_position() -> None:
    rig = TraderRig()
    await rig.fill(Side.BUY, "7")
    await rig.signal(_signal(SignalDirection.SELL, T_2006))
    assert [(i.side, i.quantity) for i in rig.intents] == [(Side.SELL, Decimal(7))]
    assert rig.intents[0].stop_loss is None


@pytest.mark.asyncio
async def test_buy_sizes_by_notional_and_confidence() -> None:
    rig = TraderRig()
    await rig.signal(_signal(SignalDirection.BUY, T_2006, confidence=0.6, price="1000"))
    await rig.signal(_signal(SignalDirection.BUY, T_2006 + 600 * S, confidence=0.8, price="1000"))
    assert [i.quantity for i in rig.intents] == [Decimal(60), Decimal(140)]
    first = rig.intents[0]
    assert first.side is Side.BUY
    assert first.stop_loss == Decimal(1000) - Decimal("6.0")
    assert first.take_profit == Decimal(1000) + Decimal("8.0")


@pytest.mark.asyncio
async def test_cooldown_blocks_a_second_intent_until_it_ends() -> None:
    rig = TraderRig()
    await rig.signal(_signal(SignalDirection.BUY, T_2006))
    await rig.signal(_signal(SignalDirection.BUY, T_2006 + 600 * S - 1))
    assert len(rig.intents) == 1
    await rig.signal(_signal(SignalDirection.BUY, T_2006 + 600 * S))
    assert len(rig.intents) == 2


@pytest.mark.asyncio
async def test_weak_hold_and_unknown_setups_are_ignored() -> None:
    rig = TraderRig()
    await rig.signal(_signal(SignalDirection.BUY, T_2006, strength=0.29))
    await rig.signal(_signal(SignalDirection.HOLD, T_2006 + 1))
    await rig.signal(_signal(SignalDirection.BUY, T_2006 + 2, setup="astrology"))
    assert rig.intents == []


@pytest.mark.asyncio
async def test_position_never_goes_short_over_a_sequence_of_signals() -> None:
    rig = TraderRig()
    held = Decimal(0)
    ts = T_2006
    for direction in [
        SignalDirection.SELL,
        SignalDirection.BUY,
        SignalDirection.SELL,
        SignalDirection.SELL,
        SignalDirection.BUY,
        SignalDirection.SELL,
    ]:
        before = len(rig.intents)
        await rig.signal(_signal(direction, ts))
        for intent in rig.intents[before:]:
            if intent.side is Side.SELL:
                assert intent.quantity <= held
            await rig.fill(intent.side, str(intent.quantity))
            held += intent.side.sign * intent.quantity
        assert held >= 0
        ts += 600 * S
    assert any(i.side is Side.SELL for i in rig.intents)


def test_restore_rebuilds_position_and_cooldown() -> None:
    rig = TraderRig()
    other = TradingAgent("trading-agent-01", rig.bus, rig.clock, TraderConfig())
    other.restore(rig.order(1, Side.BUY, "3"))
    fill = rig.execution.publish(
        FILLS,
        FillReceived(
            fill_id="x",
            order_id=uuid.UUID(int=1),
            client_order_id="c",
            symbol="ES",
            side=Side.BUY,
            quantity=Decimal(3),
            price=Decimal(1000),
            fee=Decimal(0),
            ts_event=T_2006,
        ),
        key="x",
    )
    other.restore(fill)
    sell = other.intent_for_signal(_signal(SignalDirection.SELL, T_2006))
    assert sell is not None and sell.quantity == Decimal(3)
