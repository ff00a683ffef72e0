"""MarketAnalyzer: indicators and regime on each bar -> MarketSignal with strength and confidence.

The numbers come from ``tradeswarm.quant``: the checked TA-Lib wrappers of
``quant.indicators`` and the seed's rule-based classifier of ``quant.regime`` (SMA 20/50
spread and ATR percentile), which labels each signal's regime.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass

import numpy as np

from tradeswarm.bus.agent import Agent
from tradeswarm.bus.inproc import InProcessBus
from tradeswarm.bus.topics import SIGNALS, Role
from tradeswarm.core.clock import NS_PER_SECOND, Clock
from tradeswarm.core.ids import derived_id
from tradeswarm.model.enums import SignalDirection
from tradeswarm.model.market import Bar
from tradeswarm.model.messages import MarketSignal
from tradeswarm.quant.indicators import atr, bollinger, ema, rsi
from tradeswarm.quant.regime import RegimeClassification, classify_regime

WINDOW = 120
SIGNAL_TTL_NS = 60 * NS_PER_SECOND


@dataclass(frozen=True)
class Snapshot:
    close: float
    ema_fast: float
    ema_slow: float
    rsi: float
    bb_upper: float
    bb_lower: float
    atr: float
    spread_prev: float
    regime: RegimeClassification

    @property
    def spread(self) -> float:
        return self.ema_fast - self.ema_slow


def _clip(x: float) -> float:
    return float(min(1.0, max(0.0, x)))


def snapshot(highs: np.ndarray, lows: np.ndarray, closes: np.ndarray) -> Snapshot | None:
    """Indicators on the latest bar, or None while the window is too short."""
    if len(closes) < 40:
        return None
    fast = ema(closes, 12)
    slow = ema(closes, 26)
    upper, _, lower = bollinger(closes, 20, 2.0)
    return Snapshot(
        close=float(closes[-1]),
        ema_fast=float(fast[-1]),
        ema_slow=float(slow[-1]),
        rsi=float(rsi(closes, 14)[-1]),
        bb_upper=float(upper[-1]),
        bb_lower=float(lower[-1]),
        atr=max(float(atr(highs, lows, closes, 14)[-1]), 1e-9),
        spread_prev=float(fast[-2] - slow[-2]),
        regime=classify_regime(highs, lows, closes),
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


def regime_of(s: Snapshot) -> str:
    """The rule-based regime of the window (UNKNOWN until 50 bars have been seen)."""
    return s.regime.regime.value


class MarketAnalyzer(Agent):
    """Watches bars, publishes a MarketSignal when a momentum or reversion setup appears."""

    role = Role.ANALYZER

    def __init__(self, name: str, bus: InProcessBus, clock: Clock) -> None:
        super().__init__(name, bus, clock)
        self._bars: dict[str, collections.deque[Bar]] = {}

    def on_bar(self, bar: Bar, publish: bool = True) -> list[MarketSignal]:
        """Update the indicators; publish what the bar sets up unless in warm-up."""
        window = self._bars.setdefault(bar.symbol, collections.deque(maxlen=WINDOW))
        window.append(bar)
        arrays = [
            np.array([float(getattr(b, f)) for b in window]) for f in ("high", "low", "close")
        ]
        snap = snapshot(*arrays)
        if snap is None:
            return []
        signals = []
        for name, setup in (
            ("momentum_cross", momentum_setup),
            ("band_reversion", reversion_setup),
        ):
            found = setup(snap)
            if found is not None:
                signals.append(self._signal(bar, name, snap, *found))
        if publish:
            for sig in signals:
                self.out.publish(SIGNALS, sig, key=str(sig.signal_id))
        return signals

    def _signal(
        self,
        bar: Bar,
        setup: str,
        s: Snapshot,
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
            regime=regime_of(s),
            indicators={
                "ema_12": round(s.ema_fast, 4),
                "ema_26": round(s.ema_slow, 4),
                "rsi_14": round(s.rsi, 2),
                "atr_14": round(s.atr, 4),
                "bb_upper": round(s.bb_upper, 4),
                "bb_lower": round(s.bb_lower, 4),
            },
        )
