"""Exact money in Cedar, the context math, and unknown-means-deny on bad input."""

from __future__ import annotations

import math
from decimal import Decimal

import cedarpy
import numpy as np
import pytest
from risk_kit import BUNDLE, T0, approval, context, gate, intent, judge, rule_ids

from tradeswarm.core.errors import ConfigurationError, InvalidInput
from tradeswarm.model.enums import MarketStatus, Side, Verdict
from tradeswarm.model.portfolio import Position
from tradeswarm.risk.cedar_values import (
    DECIMAL_MAX,
    Rounding,
    cedar_decimal,
    cedar_long,
    to_grid,
)
from tradeswarm.risk.context import concentration
from tradeswarm.risk.limits import EngineKind, RiskLimits, TierLimits
from tradeswarm.risk.policyset import to_cedar_request


@pytest.mark.parametrize(
    ("value", "rounding", "grid"),
    [
        (Decimal("100000.00001"), Rounding.UP, Decimal("100000.0001")),
        (Decimal("100000.00001"), Rounding.DOWN, Decimal("100000.0000")),
        (Decimal("-0.00001"), Rounding.DOWN, Decimal("-0.0001")),
        (Decimal("-0.00001"), Rounding.UP, Decimal("0.0000")),
        (0.3, Rounding.UP, Decimal("0.3000")),  # the float 0.3 is just below 0.3
        (0.30000000000000004, Rounding.UP, Decimal("0.3001")),
        (DECIMAL_MAX, Rounding.EXACT, DECIMAL_MAX),
    ],
)
def test_rounding_direction_keeps_grid_comparisons_exact(
    value: Decimal | float, rounding: Rounding, grid: Decimal
) -> None:
    assert to_grid("x", value, rounding) == grid


def test_cedar_parses_the_decimal_we_send_to_the_same_value() -> None:
    policy = 'permit(principal, action, resource) when { context.v == decimal("-12.3400") };'
    value = cedar_decimal("v", Decimal("-12.34"))
    req = {"principal": 'A::"a"', "action": 'Action::"x"', "resource": 'R::"r"'}
    assert cedarpy.is_authorized(req | {"context": {"v": value}}, policy, []).allowed


@pytest.mark.parametrize(
    "value", [DECIMAL_MAX + Decimal("0.0001"), Decimal("1e20"), Decimal("-1e15"), math.nan]
)
def test_values_outside_cedar_range_or_not_finite_are_refused(value: Decimal | float) -> None:
    with pytest.raises(InvalidInput, match="trade_amount"):
        cedar_decimal("trade_amount", value, Rounding.UP)


def test_long_range_is_checked() -> None:
    assert cedar_long("t", 2**63 - 1) == 2**63 - 1
    with pytest.raises(InvalidInput, match="Long range"):
        cedar_long("t", 2**63)


def test_limit_off_the_grid_stops_start_up() -> None:
    with pytest.raises(ConfigurationError, match=r"risk.hard_cap.*4 fractional digits"):
        RiskLimits(hard_cap=Decimal("150000.00001"))
    with pytest.raises(ConfigurationError, match="max_concentration"):
        RiskLimits(max_concentration=0.123456)
    with pytest.raises(ConfigurationError, match=r"tiers\.starter"):
        RiskLimits(tiers={"starter": TierLimits(max_trade_size=Decimal("1e16"))})


def test_notional_above_cedar_range_is_denied_not_crashed() -> None:
    huge = intent("1000000000", "1000000000")  # $1e18
    verdict, reasons = judge(huge)
    assert verdict is Verdict.DENY
    assert reasons[0].startswith("context_error: trade_amount=")
    assert "outside Cedar's decimal range" in reasons[0]


def test_nan_volatility_is_denied_with_a_clear_reason() -> None:
    verdict, reasons = judge(intent(1, 100), volatility=math.nan)
    assert verdict is Verdict.DENY
    assert reasons == [
        "context_error: market_volatility=nan: must be a finite number (unknown means deny)"
    ]


@pytest.mark.parametrize("kind", list(EngineKind))
def test_a_policy_error_is_a_deny_even_when_cedar_allows(kind: EngineKind) -> None:
    # now_ns - decided_ns overflows a Long: the oversight forbid errors and Cedar skips it
    big = intent(1, "120000")
    stale = approval(0)
    broken = type(stale)(
        request_id=stale.request_id, approver="x", approved=True, decided_ns=-(2**63)
    )
    ctx = context(big, human=broken)
    the_gate = gate(kind=kind)
    stores = the_gate.entities_for(ctx.instrument)
    response = the_gate.engine.is_authorized(to_cedar_request(big, ctx), stores)
    assert response.allowed and response.errors  # what Cedar itself says
    decided = gate(kind=kind).decide(big, ctx)
    assert decided.verdict is Verdict.DENY
    assert rule_ids(decided.reasons) == {"policy_error"}
    assert "oversight_high_value" in decided.reasons[0]
    assert "overflow" in decided.reasons[0]


def test_concentration_is_an_exact_floor_to_a_basis_point() -> None:
    assert concentration(Decimal("19999.99"), Decimal(100_000)) == Decimal("0.1999")
    assert concentration(Decimal(20_000), Decimal(100_000)) == Decimal("0.2")
    assert concentration(Decimal(-20_000), Decimal(100_000)) == Decimal("0.2")
    assert concentration(Decimal(1), Decimal(0)) == Decimal(10_000)


def test_context_computes_equity_post_position_pnl_and_approval() -> None:
    held = {
        "ES": Position(symbol="ES", quantity=Decimal(10), avg_cost=Decimal(90)),
        "NQ": Position(symbol="NQ", quantity=Decimal(-2), avg_cost=Decimal(50)),
    }
    ctx = context(
        intent(5, 100),
        cash=1000,
        positions=held,
        marks={"ES": Decimal(100)},
        equity_at_open=Decimal(2000),
        human=approval(30),
    )
    assert ctx.current_position == Decimal(10)
    assert ctx.post_position == Decimal(15)
    assert ctx.equity == Decimal(1000 + 10 * 100 - 2 * 50)
    assert ctx.daily_loss == Decimal(2000) - ctx.equity
    assert ctx.concentration_after == Decimal("0.7894")  # 1500 / 1900 floored
    request = to_cedar_request(intent(5, 100), ctx)
    assert request["context"]["human_approval"]["decided_ns"] == T0 - 30 * 10**9
    assert request["context"]["trade_amount"]["__extn"]["arg"] == "500.0000"


def _returns() -> tuple[float, ...]:
    rng = np.random.default_rng(3)
    return tuple(float(r) for r in rng.normal(0.0, 0.01, 60))


def test_var_context_matches_numpy_historical_quantile() -> None:
    rets = _returns()
    held = {"ES": Position(symbol="ES", quantity=Decimal(10), avg_cost=Decimal(100))}
    ctx = context(
        intent(20, 100), cash=100_000, positions=held, marks={"ES": Decimal(100)}, returns=rets
    )
    equity = 100_000 + 1_000
    for value, var, es in (
        (1_000, ctx.var_95_before, ctx.es_95_before),
        (3_000, ctx.var_95_after, ctx.es_95_after),
    ):
        losses = np.sort(-np.asarray(rets) * value)
        assert var == pytest.approx(np.quantile(losses, 0.95, method="inverted_cdf") / equity)
        # ES: the mean of the worst 5% of outcomes (fractional weight on the boundary one)
        k = 0.05 * losses.size
        whole = int(np.floor(k))
        tail = losses[::-1]
        expected = (tail[:whole].sum() + (k - whole) * tail[whole]) / k
        assert es == pytest.approx(expected / equity)
        assert es >= var


def test_var_limit_denies_a_risk_increasing_trade_only() -> None:
    rets = _returns()
    limits = RiskLimits(
        max_var_95=Decimal("0.005"), position_limit=Decimal(10_000), max_concentration=1.0
    )
    marks = {"ES": Decimal(100)}
    verdict, reasons = judge(intent(400, 100), limits, cash=100_000, marks=marks, returns=rets)
    assert verdict is Verdict.DENY
    assert rule_ids(reasons) == {"value_at_risk"}
    held = {"ES": Position(symbol="ES", quantity=Decimal(800), avg_cost=Decimal(100))}
    reducing = intent(100, 100, side=Side.SELL)
    assert (
        judge(reducing, limits, cash=20_000, positions=held, marks=marks, returns=rets)[0]
        is Verdict.PERMIT
    )


def test_metrics_keep_the_exact_numbers() -> None:
    ctx = context(intent(3, "33.335"), status=MarketStatus.OPEN)
    assert ctx.metrics()["notional"] == "100.005"
    assert BUNDLE.rule_name("policy0") == "trading_agents_may_trade"
