"""MarketAnalyzer: indicators and regime on each bar -> MarketSignal with strength and confidence.

The numbers are TA-Lib's over the last ``WINDOW`` bars of the symbol (each indicator seeded
inside that window, as TA-Lib run over the window seeds it) and the seed's rule-based
classifier of ``quant.regime`` (SMA 20/50 spread and ATR percentile), which labels each
signal's regime. :func:`windowed_snapshot` is that definition, computed by recomputing over
the window; the analyzer keeps the same quantities per symbol as streaming indicators
(``quant.streaming``), O(1) per bar, and classifies the regime only when a setup fires.
Tests hold the two equal bar for bar on real data.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import NamedTuple

import numpy as np

from tradeswarm.bus.agent import Agent
from tradeswarm.bus.inproc import InProcessBus
from tradeswarm.bus.topics import SIGNALS, Role
from tradeswarm.core.clock import NS_PER_SECOND, Clock
from tradeswarm.core.errors import InvalidInput
from tradeswarm.core.ids import derived_id
from tradeswarm.model.enums import SignalDirection
from tradeswarm.model.market import Bar
from tradeswarm.model.messages import MarketSignal
from tradeswarm.quant.indicators import atr, bollinger, ema, rsi
from tradeswarm.quant.regime import RegimeClassification, classify_regime
from tradeswarm.quant.streaming import Atr, Bollinger, Ema, Rsi, Sma
from tradeswarm.quant.streaming_regime import classify_from_parts

WINDOW = 120
MIN_BARS = 40  # bars in the window before the analyzer says anything
SIGNAL_TTL_NS = 60 * NS_PER_SECOND


class Snapshot(NamedTuple):
    close: float
    ema_fast: float
    ema_slow: float
    rsi: float
    bb_upper: float
    bb_lower: float
    atr: float
    spread_prev: float

    @property
    def spread(self) -> float:
        return self.ema_fast - self.ema_slow


def _clip(x: float) -> float:
    return float(min(1.0, max(0.0, x)))


def windowed_snapshot(
    highs: np.ndarray, lows: np.ndarray, closes: np.ndarray
) -> tuple[Snapshot, RegimeClassification] | None:
    """The definition: indicators on the latest bar of a window by TA-Lib over the window,
    and its regime; None while the window is too short."""
    if len(closes) < MIN_BARS:
        return None
    fast = ema(closes, 12)
    slow = ema(closes, 26)
    upper, _, lower = bollinger(closes, 20, 2.0)
    snap = Snapshot(
        close=float(closes[-1]),
        ema_fast=float(fast[-1]),
        ema_slow=float(slow[-1]),
        rsi=float(rsi(closes, 14)[-1]),
        bb_upper=float(upper[-1]),
        bb_lower=float(lower[-1]),
        atr=max(float(atr(highs, lows, closes, 14)[-1]), 1e-9),
        spread_prev=float(fast[-2] - slow[-2]),
    )
    return snap, classify_regime(highs, lows, closes)


class WindowIndicators:
    """One symbol's indicators over its last ``WINDOW`` bars, pushed a bar at a time:
    what :func:`windowed_snapshot` gives, without recomputing the window."""

    __slots__ = ("_atr", "_bands", "_ema_fast", "_ema_slow", "_rsi", "_slow_ma", "bars", "close")

    def __init__(self) -> None:
        self._ema_fast = Ema(12, WINDOW)
        self._ema_slow = Ema(26, WINDOW)
        self._rsi = Rsi(14, WINDOW)
        self._atr = Atr(14, WINDOW)
        self._bands = Bollinger(20, 2.0)
        self._slow_ma = Sma(50)
        self.bars = 0  # bars in the window
        self.close = float("nan")

    def push(self, high: float, low: float, close: float) -> None:
        self._ema_fast.push(close)
        self._ema_slow.push(close)
        self._rsi.push(close)
        self._atr.push(high, low, close)
        self._bands.push(close)
        self._slow_ma.push(close)
        self.close = close
        if self.bars < WINDOW:
            self.bars += 1

    def snapshot(self) -> Snapshot | None:
        """The latest bar's indicators; None while the window is too short."""
        if self.bars < MIN_BARS:
            return None
        fast, fast_prev = self._ema_fast.last_two()
        slow, slow_prev = self._ema_slow.last_two()
        upper, _, lower = self._bands.bands()
        atr_now = self._atr.value()
        return Snapshot(
            self.close,
            fast,
            slow,
            self._rsi.value(),
            upper,
            lower,
            atr_now if atr_now > 1e-9 else 1e-9,
            fast_prev - slow_prev,
        )

    def candidate(self) -> Snapshot | None:
        """The snapshot when the bar may set something up, else None (most bars: two EMA
        pairs and the bands read, nothing built). May: the EMA spread changed sign (the
        momentum cross) or the close left the bands (the reversion), which the setups need."""
        if self.bars < MIN_BARS:
            return None
        fast, fast_prev = self._ema_fast.last_two()
        slow, slow_prev = self._ema_slow.last_two()
        spread = fast - slow
        crossed = spread != 0 and (spread > 0) != (fast_prev - slow_prev > 0)
        if not crossed:
            upper, _, lower = self._bands.bands()
            if lower <= self.close <= upper:
                return None
        return self.snapshot()

    def regime(self) -> RegimeClassification:
        """The rule-based regime of the window (O(window): only when a setup fires)."""
        return classify_from_parts(
            self.bars, self.close, self._bands.middle, self._slow_ma.value, self._atr.series()
        )


def momentum_setup(s: Snapshot) -> tuple[SignalDirection, float, float] | None:
    """EMA(12)/EMA(26) cross; confidence rises when RSI agrees with the direction."""
    if s.spread == 0 or (s.spread > 0) == (s.spread_prev > 0):
        return None
    buy = s.spread > 0
    rsi_agree = (s.rsi - 50) / 25 if buy else (50 - s.rsi) / 25
    strength = _clip(abs(s.spread - s.spread_prev) / (0.25 * s.atr))
    confidence = _clip(0.5 + 0.35 * _clip(rsi_agree) + 0.15 * strength)
    return (SignalDirection.BUY if buy else SignalDirection.SELL), strength, confidence


def reversion_setup(s: Snapshot) -> tuple[SignalDirection, float, float] | None:
    """Close outside a Bollinger band with RSI at an extreme: expect a pull back."""
    if s.close < s.bb_lower and s.rsi < 30:
        direction, excess, extreme = SignalDirection.BUY, s.bb_lower - s.close, 30 - s.rsi
    elif s.close > s.bb_upper and s.rsi > 70:
        direction, excess, extreme = SignalDirection.SELL, s.close - s.bb_upper, s.rsi - 70
    else:
        return None
    strength = _clip(excess / s.atr)
    return direction, strength, _clip(0.5 + extreme / 40 + 0.2 * strength)


_SETUPS = (("momentum_cross", momentum_setup), ("band_reversion", reversion_setup))


def _beyond_floats(bar: Bar) -> InvalidInput:
    """A valid Bar whose prices no float carries (1e400): streaming state never recovers
    from an infinity, so the bar is refused before it touches any."""
    for name in ("high", "low", "close"):
        value = getattr(bar, name)
        if not math.isfinite(float(value)):
            return InvalidInput(f"bar.{name}", value, "beyond a float's range")
    return InvalidInput("bar", bar, "high + low + close overflows a float")


class MarketAnalyzer(Agent):
    """Watches bars, publishes a MarketSignal when a momentum or reversion setup appears."""

    role = Role.ANALYZER

    def __init__(self, name: str, bus: InProcessBus, clock: Clock) -> None:
        super().__init__(name, bus, clock)
        self._windows: dict[str, WindowIndicators] = {}

    def on_bar(self, bar: Bar, publish: bool = True) -> list[MarketSignal]:
        """Update the indicators; publish what the bar sets up unless in warm-up."""
        high, low, close = float(bar.high), float(bar.low), float(bar.close)
        if not math.isfinite(high + low + close):
            raise _beyond_floats(bar)
        window = self._windows.get(bar.symbol)
        if window is None:
            window = self._windows[bar.symbol] = WindowIndicators()
        window.push(high, low, close)
        snap = window.candidate()
        if snap is None:
            return []
        signals = []
        regime = None
        for name, setup in _SETUPS:
            found = setup(snap)
            if found is not None:
                regime = regime or window.regime()
                signals.append(self._signal(bar, name, snap, regime.regime.value, *found))
        if publish:
            for sig in signals:
                self.out.publish(SIGNALS, sig, key=str(sig.signal_id))
        return signals

    def on_bars(self, bars: Iterable[Bar], publish: bool = True) -> list[MarketSignal]:
        """Each bar in turn (a feed's batch, in its order): the signals they set up."""
        signals: list[MarketSignal] = []
        for bar in bars:
            signals += self.on_bar(bar, publish)
        return signals

    def _signal(
        self,
        bar: Bar,
        setup: str,
        s: Snapshot,
        regime: str,
        direction: SignalDirection,
        strength: float,
        confidence: float,
    ) -> MarketSignal:
        return MarketSignal(
            signal_id=derived_id(bar.ts_event, "signal", bar.symbol, setup),
            symbol=bar.symbol,
            direction=direction,
            strength=round(strength, 4),
            confidence=round(confidence, 4),
            price=bar.close,
            ts_event=bar.ts_event,
            expiry_ns=bar.ts_event + SIGNAL_TTL_NS,
            setup=setup,
            regime=regime,
            indicators={
                "ema_12": round(s.ema_fast, 4),
                "ema_26": round(s.ema_slow, 4),
                "rsi_14": round(s.rsi, 2),
                "atr_14": round(s.atr, 4),
                "bb_upper": round(s.bb_upper, 4),
                "bb_lower": round(s.bb_lower, 4),
            },
        )
