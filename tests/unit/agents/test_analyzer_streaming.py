"""The analyzer's streaming indicators against their definition, TA-Lib over the window.

``windowed_snapshot`` recomputes TA-Lib (and the rule-based regime) over the last
``WINDOW`` bars; ``WindowIndicators`` keeps the same quantities a bar at a time. On the
whole real month they agree bar for bar, and the analyzer's signals equal those of the
analyzer as it was (the window recomputed on every bar).
"""

from __future__ import annotations

import collections
from decimal import Decimal

import numpy as np
import pytest

from tradeswarm.agents.analyzer import (
    _SETUPS,
    MIN_BARS,
    SIGNAL_TTL_NS,
    WINDOW,
    MarketAnalyzer,
    WindowIndicators,
    windowed_snapshot,
)
from tradeswarm.bus.inproc import InProcessBus
from tradeswarm.core.clock import SimClock
from tradeswarm.core.errors import InvalidInput
from tradeswarm.core.ids import derived_id
from tradeswarm.data.csv_bars import bundled_bars, bundled_month_bars
from tradeswarm.model.market import Bar
from tradeswarm.model.messages import MarketSignal

RTOL = 1e-10


def _analyzer() -> MarketAnalyzer:
    clock = SimClock(0)
    return MarketAnalyzer("market-analyzer-01", InProcessBus(clock), clock)


def _columns(bars: list[Bar]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return tuple(  # type: ignore[return-value]
        np.array([float(getattr(b, f)) for b in bars]) for f in ("high", "low", "close")
    )


def test_window_indicators_equal_talib_over_the_window_on_the_whole_real_month() -> None:
    bars = bundled_month_bars()
    h, lo, c = _columns(bars)
    window = WindowIndicators()
    compared = fired = 0
    for t in range(len(bars)):
        window.push(float(h[t]), float(lo[t]), float(c[t]))
        if t >= 2_000 and t % 5:  # every bar at first, then every fifth (each costs TA-Lib)
            continue
        s = slice(max(0, t + 1 - WINDOW), t + 1)
        want = windowed_snapshot(h[s], lo[s], c[s])
        got = window.snapshot()
        if want is None:
            assert got is None and t + 1 < MIN_BARS
            continue
        assert got is not None
        np.testing.assert_allclose(got, want[0], rtol=RTOL, atol=1e-9, err_msg=f"bar {t}")
        setups = [setup(want[0]) for _, setup in _SETUPS]
        if any(found is not None for found in setups):
            # a bar that sets something up is never skipped, and its regime is the window's
            assert window.candidate() is not None, t
            regime, expected = window.regime(), want[1]
            assert regime.regime == expected.regime, t
            assert regime.confidence == pytest.approx(expected.confidence, rel=1e-9), t
            fired += 1
        compared += 1
    assert compared > 7_000 and fired > 500


def _reference_signals(bars: list[Bar]) -> list[MarketSignal]:
    """The analyzer as it was: TA-Lib and the regime recomputed over the window per bar."""
    windows: dict[str, collections.deque[Bar]] = {}
    out = []
    for bar in bars:
        window = windows.setdefault(bar.symbol, collections.deque(maxlen=WINDOW))
        window.append(bar)
        found = windowed_snapshot(*_columns(list(window)))
        if found is None:
            continue
        snap, regime = found
        for name, setup in _SETUPS:
            fired = setup(snap)
            if fired is None:
                continue
            direction, strength, confidence = fired
            out.append(
                MarketSignal(
                    signal_id=derived_id(bar.ts_event, "signal", bar.symbol, name),
                    symbol=bar.symbol,
                    direction=direction,
                    strength=round(strength, 4),
                    confidence=round(confidence, 4),
                    price=bar.close,
                    ts_event=bar.ts_event,
                    expiry_ns=bar.ts_event + SIGNAL_TTL_NS,
                    setup=name,
                    regime=regime.regime.value,
                    indicators={
                        "ema_12": round(snap.ema_fast, 4),
                        "ema_26": round(snap.ema_slow, 4),
                        "rsi_14": round(snap.rsi, 2),
                        "atr_14": round(snap.atr, 4),
                        "bb_upper": round(snap.bb_upper, 4),
                        "bb_lower": round(snap.bb_lower, 4),
                    },
                )
            )
    return out


def test_signals_on_the_bundled_days_equal_the_recomputing_analyzers() -> None:
    bars = bundled_bars()
    got = _analyzer().on_bars(bars, publish=False)
    assert len(got) > 100
    assert got == _reference_signals(bars)


def test_symbols_keep_separate_windows_and_on_bars_is_on_bar_in_turn() -> None:
    real = bundled_bars()[:600]
    other = [Bar(**{**_fields(b), "symbol": "OTHER"}) for b in real[300:]]
    mixed = [m for pair in zip(real[:300], other, strict=True) for m in pair] + real[300:]
    one = _analyzer()
    by_bar = [s for b in mixed for s in one.on_bar(b, publish=False)]
    assert _analyzer().on_bars(mixed, publish=False) == by_bar
    assert by_bar == _reference_signals(mixed)
    assert {s.symbol for s in by_bar} == {"IDXF", "OTHER"}


def _fields(bar: Bar) -> dict[str, object]:
    return {f: getattr(bar, f) for f in bar.__struct_fields__}


def test_a_price_beyond_a_float_is_refused_naming_it_and_leaves_the_window_as_it_was() -> None:
    bars = bundled_bars()[:300]
    analyzer, twin = _analyzer(), _analyzer()
    analyzer.on_bars(bars[:200], publish=False)
    twin.on_bars(bars[:200], publish=False)
    huge = Decimal("1e400")  # a valid Decimal price no float carries
    bad = Bar(**{**_fields(bars[200]), "high": huge})
    with pytest.raises(InvalidInput) as err:
        analyzer.on_bar(bad, publish=False)
    assert err.value.field == "bar.high" and err.value.value == huge
    assert "float" in err.value.problem
    assert analyzer.on_bars(bars[200:], publish=False) == twin.on_bars(bars[200:], publish=False)


def test_a_sum_that_overflows_is_refused_naming_the_bar() -> None:
    big = Decimal("1e308")
    bar = Bar(symbol="X", ts_event=1, open=big, high=big, low=big, close=big, volume=Decimal(1))
    with pytest.raises(InvalidInput) as err:
        _analyzer().on_bar(bar, publish=False)
    assert err.value.field == "bar" and "overflows" in err.value.problem
