"""PortfolioAgent sizing (mean-variance / HRP / Kelly under a risk budget) and the
TradingAgent's opt-in Kelly sizing."""

from __future__ import annotations

import uuid
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from pypfopt import HRPOpt
from scipy.optimize import minimize_scalar

from shared_data import MARKET_DATA
from tradeswarm.agents.portfolio import (
    PortfolioAgent,
    PortfolioConfig,
    SizingMethod,
    kelly_notional,
)
from tradeswarm.agents.trader import Sizing, TraderConfig, TradingAgent
from tradeswarm.bus.inproc import InProcessBus
from tradeswarm.core.clock import NS_PER_SECOND, SimClock
from tradeswarm.model.enums import SignalDirection
from tradeswarm.model.messages import MarketSignal

MARKET = MARKET_DATA


def _returns() -> pd.DataFrame:
    prices = pd.read_csv(MARKET / "stock_prices_20.csv", index_col=0).dropna()
    return prices.pct_change().dropna().iloc[-500:, :8]


def _ex_ante_vol(w: np.ndarray, r: np.ndarray) -> float:
    from sklearn.covariance import LedoitWolf

    return float(np.sqrt(w @ LedoitWolf().fit(r).covariance_ @ w * 252))


@pytest.mark.parametrize("method", list(SizingMethod))
def test_every_method_stays_within_the_risk_budget(method: SizingMethod) -> None:
    r = _returns().to_numpy()
    cfg = PortfolioConfig(method=method, risk_budget=0.8, vol_budget=0.10, max_weight=0.3)
    w = PortfolioAgent(cfg).target_weights(r)
    assert np.abs(w).sum() <= 0.8 + 1e-9
    assert _ex_ante_vol(w, r) <= 0.10 + 1e-9
    assert (np.abs(w) <= 0.3 + 1e-9).all()


def test_hrp_sizing_is_pypfopt_hrp_scaled_to_the_budget() -> None:
    r = _returns()
    cfg = PortfolioConfig(method=SizingMethod.HRP, max_weight=1.0, vol_budget=10.0)
    w = PortfolioAgent(cfg).target_weights(r.to_numpy())
    expected = pd.Series(HRPOpt(r).optimize()).reindex(r.columns).to_numpy()
    np.testing.assert_allclose(w, expected, atol=1e-8)


def test_target_notionals_are_decimal_cents() -> None:
    r = _returns()
    agent = PortfolioAgent(PortfolioConfig(method=SizingMethod.MEAN_VARIANCE, vol_budget=1.0))
    got = agent.target_notionals(list(r.columns), r.to_numpy(), Decimal(1_000_000))
    assert all(isinstance(v, Decimal) and v == v.quantize(Decimal("0.01")) for v in got.values())
    assert sum(got.values()) <= Decimal(1_000_000)
    with pytest.raises(ValueError, match="symbols"):
        agent.target_notionals(["A"], r.to_numpy(), Decimal(1))


def test_kelly_notional_approximates_the_log_optimal_bet() -> None:
    price, atr, p = Decimal(1000), 2.0, 0.6
    gain, loss = 4 * atr / 1000, 3 * atr / 1000
    got = kelly_notional(
        price=price,
        atr=atr,
        confidence=p,
        stop_atr=3.0,
        target_atr=4.0,
        equity=Decimal(1_000_000),
        fraction=1.0,
    )
    # outside oracle: maximise E[log(1 + f X)] for the two-point bet directly
    best = minimize_scalar(
        lambda f: -(p * np.log1p(f * gain) + (1 - p) * np.log1p(-f * loss)),
        bounds=(0, 0.99 / loss),
        method="bounded",
        options={"xatol": 1e-10},
    )
    cap = 1.0  # kelly_notional caps at 1x equity
    assert float(got) == pytest.approx(1_000_000 * min(best.x, cap), rel=0.05)
    none = kelly_notional(
        price=price,
        atr=atr,
        confidence=0.3,
        stop_atr=3.0,
        target_atr=4.0,
        equity=Decimal(1_000_000),
        fraction=0.25,
    )
    assert none == 0


def _signal(confidence: float) -> MarketSignal:
    ts = 1_136_278_860 * NS_PER_SECOND
    return MarketSignal(
        signal_id=uuid.uuid5(uuid.NAMESPACE_OID, f"{ts}{confidence}"),
        symbol="ES",
        direction=SignalDirection.BUY,
        strength=0.8,
        confidence=confidence,
        price=Decimal(1000),
        ts_event=ts,
        expiry_ns=ts + 60 * NS_PER_SECOND,
        setup="momentum_cross",
        indicators={"atr_14": 20.0},
    )


def _trader(config: TraderConfig) -> TradingAgent:
    clock = SimClock(0)
    return TradingAgent("trading-agent-01", InProcessBus(clock), clock, config)


def test_trader_kelly_sizing_is_opt_in_and_capped_by_the_notionals() -> None:
    plain = _trader(TraderConfig()).intent_for_signal(_signal(0.6))
    assert plain is not None and plain.quantity == 60  # 60,000 / 1,000: unchanged default
    kelly_cfg = TraderConfig(sizing=Sizing.KELLY, kelly_equity=Decimal(30_000))
    sized = _trader(kelly_cfg).intent_for_signal(_signal(0.6))
    expected = kelly_notional(
        price=Decimal(1000),
        atr=20.0,
        confidence=0.6,
        stop_atr=3.0,
        target_atr=4.0,
        equity=Decimal(30_000),
        fraction=0.25,
    )
    assert sized is not None and sized.quantity == min(Decimal(60), expected // 1000)
    assert 0 < sized.quantity < 60
    assert _trader(kelly_cfg).intent_for_signal(_signal(0.2)) is None  # no edge, no trade
    rich = TraderConfig(sizing=Sizing.KELLY, kelly_equity=Decimal(10**9))
    capped = _trader(rich).intent_for_signal(_signal(0.8))
    assert capped is not None and capped.quantity == 140  # conviction cap still binds
