from __future__ import annotations

from decimal import Decimal

import pytest
from risk_kit import BUNDLE, approval, intent, judge, rule_ids

from tradeswarm.model.enums import MarketStatus, OrderType, Side, Verdict
from tradeswarm.model.portfolio import Position
from tradeswarm.risk.limits import RiskLimits, TierLimits

PERMIT, DENY, REVIEW = Verdict.PERMIT, Verdict.DENY, Verdict.REVIEW


def test_a_plain_small_trade_is_permitted() -> None:
    assert judge(intent(1, 100)) == (PERMIT, ["all policies passed"])


def test_policy_ids_are_unique_and_all_covered_here() -> None:
    ids = [a["id"] for a in BUNDLE.annotations.values()]
    assert len(ids) == len(set(ids))
    assert set(ids) == {
        "trading_agents_may_trade",
        "agent_tier",
        "value_at_risk",
        "compliance_status",
        "insider_window",
        "kill_switch",
        "asset_class",
        "trade_size",
        "position_limit",
        "no_short",
        "concentration",
        "daily_loss",
        "circuit_volatility",
        "circuit_market_status",
        "circuit_halted",
        "restricted_symbol",
        "order_type",
        "oversight_high_value",
        "instrument_tradable",
        "lot_size",
        "tick_size",
        "insufficient_history",
        "stale_market_data",
        "price_collar",
        "max_order_quantity",
        "max_order_notional",
        "message_throttle",
        "duplicate_order",
        "max_open_orders",
        "gross_exposure",
    }


def test_kill_switch_denies_everything() -> None:
    verdict, reasons = judge(intent(1, 100), kill_switch=True)
    assert verdict is DENY
    assert rule_ids(reasons) == {"kill_switch"}


@pytest.mark.parametrize(("symbol", "expected"), [("BTCUSD", DENY), ("ES", PERMIT)])
def test_excluded_asset_class_comes_from_the_instrument_master(
    symbol: str, expected: Verdict
) -> None:
    verdict, reasons = judge(intent(1, 100, symbol=symbol))
    assert verdict is expected
    assert ("asset_class" in rule_ids(reasons)) is (expected is DENY)
    if expected is DENY:
        assert "asset class crypto is excluded" in reasons[0]


@pytest.mark.parametrize(("price", "expected"), [("100000", PERMIT), ("100000.01", REVIEW)])
def test_oversight_threshold_boundary(price: str, expected: Verdict) -> None:
    verdict, reasons = judge(intent(1, price))
    assert verdict is expected
    if expected is REVIEW:
        assert rule_ids(reasons) == {"oversight_high_value"}


@pytest.mark.parametrize(("price", "expected"), [("10000", PERMIT), ("10000.01", DENY)])
def test_tier_cap_boundary_for_a_starter_agent(price: str, expected: Verdict) -> None:
    limits = RiskLimits(agent_tiers={"trading-agent-01": "starter"})
    verdict, reasons = judge(intent(1, price), limits)
    assert verdict is expected
    assert ("trade_size" in rule_ids(reasons)) is (expected is DENY)


@pytest.mark.parametrize(("price", "expected"), [("120000", PERMIT), ("120000.01", DENY)])
def test_hard_cap_binds_below_the_tier_cap(price: str, expected: Verdict) -> None:
    limits = RiskLimits(hard_cap=Decimal(120_000), oversight_threshold=Decimal(10**9))
    verdict, reasons = judge(intent(1, price), limits)
    assert verdict is expected
    assert ("trade_size" in rule_ids(reasons)) is (expected is DENY)


def test_unknown_agent_has_no_tier_and_is_denied_by_name() -> None:
    verdict, reasons = judge(intent(1, 100, agent_id="rogue-agent"))
    assert verdict is DENY
    assert reasons == [
        "agent_tier: agent rogue-agent is not an enrolled trading agent with a configured tier"
    ]


def test_agent_mapped_to_a_missing_tier_is_denied() -> None:
    limits = RiskLimits(agent_tiers={"trading-agent-01": "platinum"})
    verdict, reasons = judge(intent(1, 100), limits)
    assert verdict is DENY
    assert rule_ids(reasons) == {"agent_tier"}


@pytest.mark.parametrize(("qty", "expected"), [(40, PERMIT), (41, DENY)])
def test_position_limit_boundary_counts_the_existing_position(qty: int, expected: Verdict) -> None:
    held = {"ES": Position(symbol="ES", quantity=Decimal(60), avg_cost=Decimal(10))}
    verdict, reasons = judge(intent(qty, 10), positions=held)
    assert verdict is expected
    assert ("position_limit" in rule_ids(reasons)) is (expected is DENY)


def test_position_limit_applies_to_shorts_too() -> None:
    limits = RiskLimits(allow_short=True)
    assert judge(intent(100, 10, side=Side.SELL), limits)[0] is PERMIT
    verdict, reasons = judge(intent(101, 10, side=Side.SELL), limits)
    assert verdict is DENY
    assert rule_ids(reasons) == {"position_limit"}


def test_selling_more_than_held_is_a_short_and_denied() -> None:
    held = {"ES": Position(symbol="ES", quantity=Decimal(5), avg_cost=Decimal(10))}
    assert judge(intent(5, 10, side=Side.SELL), positions=held)[0] is PERMIT
    verdict, reasons = judge(intent(6, 10, side=Side.SELL), positions=held)
    assert verdict is DENY
    assert rule_ids(reasons) == {"no_short"}


@pytest.mark.parametrize(("qty", "expected"), [(199, PERMIT), (200, DENY)])
def test_concentration_boundary(qty: int, expected: Verdict) -> None:
    limits = RiskLimits(position_limit=Decimal(10_000))
    verdict, reasons = judge(intent(qty, 100), limits, cash=100_000)
    assert verdict is expected
    assert ("concentration" in rule_ids(reasons)) is (expected is DENY)


def test_concentration_uses_the_mark_not_the_reference_price() -> None:
    limits = RiskLimits(position_limit=Decimal(10_000))
    # at the reference price 100 the trade is 19.9%, at the mark 101 it is 20.1%
    verdict, reasons = judge(intent(199, 100), limits, cash=100_000, marks={"ES": Decimal(101)})
    assert verdict is DENY
    assert "concentration" in rule_ids(reasons)


def test_closing_a_whole_position_is_never_a_concentration_breach() -> None:
    held = {"ES": Position(symbol="ES", quantity=Decimal(50), avg_cost=Decimal(100))}
    verdict, _ = judge(intent(50, 100, side=Side.SELL), cash=1, positions=held)
    assert verdict is PERMIT


@pytest.mark.parametrize(("loss", "expected"), [("49999.99", PERMIT), ("50000", DENY)])
def test_daily_loss_boundary(loss: str, expected: Verdict) -> None:
    opened = Decimal(5_000_000) + Decimal(loss)
    verdict, reasons = judge(intent(1, 100), equity_at_open=opened)
    assert verdict is expected
    assert ("daily_loss" in rule_ids(reasons)) is (expected is DENY)


@pytest.mark.parametrize(("vol", "expected"), [(0.30, PERMIT), (0.3001, DENY)])
def test_volatility_circuit_breaker_boundary(vol: float, expected: Verdict) -> None:
    verdict, reasons = judge(intent(1, 100), volatility=vol)
    assert verdict is expected
    assert ("circuit_volatility" in rule_ids(reasons)) is (expected is DENY)


@pytest.mark.parametrize("status", [MarketStatus.CLOSED, MarketStatus.HALTED])
def test_market_not_open_is_denied(status: MarketStatus) -> None:
    verdict, reasons = judge(intent(1, 100), status=status)
    assert verdict is DENY
    assert rule_ids(reasons) == {"circuit_market_status"}


def test_halted_symbol_is_denied() -> None:
    verdict, reasons = judge(intent(1, 100), halted=frozenset({"ES", "NQ"}))
    assert verdict is DENY
    assert reasons == ["circuit_halted: circuit breaker: ES is halted"]
    assert judge(intent(1, 100), halted=frozenset({"NQ"}))[0] is PERMIT


def test_restricted_symbol_is_denied() -> None:
    limits = RiskLimits(restricted_symbols=["ES"])
    verdict, reasons = judge(intent(1, 100), limits)
    assert verdict is DENY
    assert rule_ids(reasons) == {"restricted_symbol"}
    assert judge(intent(1, 100, symbol="NQ"), limits)[0] is PERMIT


def test_stop_order_type_is_denied_by_default() -> None:
    stop = intent(1, 100, order_type=OrderType.STOP, stop_price=Decimal(95))
    verdict, reasons = judge(stop)
    assert verdict is DENY
    assert rule_ids(reasons) == {"order_type"}
    allowed = RiskLimits(allowed_order_types=[OrderType.MARKET, OrderType.STOP])
    assert judge(stop, allowed)[0] is PERMIT


def test_deny_overrides_review_and_lists_only_deny_reasons() -> None:
    verdict, reasons = judge(intent(1, "100000.01"), kill_switch=True, volatility=0.5)
    assert verdict is DENY
    assert reasons == [
        "kill_switch: kill switch is active: no new trades until a human resumes",
        "circuit_volatility: circuit breaker: volatility 0.50 > 0.30",
    ]
    verdict, reasons = judge(intent(1, "100000.01"), kill_switch=True, volatility=0.5)
    assert verdict is DENY
    assert rule_ids(reasons) == {"kill_switch", "circuit_volatility"}


def test_every_firing_deny_rule_is_reported() -> None:
    limits = RiskLimits(restricted_symbols=["ES"])
    verdict, reasons = judge(
        intent(1, 100),
        limits,
        kill_switch=True,
        halted=frozenset({"ES"}),
        status=MarketStatus.CLOSED,
    )
    assert verdict is DENY
    assert rule_ids(reasons) == {
        "kill_switch",
        "circuit_halted",
        "circuit_market_status",
        "restricted_symbol",
    }


@pytest.mark.parametrize(
    ("age_s", "approved", "expected"),
    [
        (0, True, PERMIT),
        (300, True, PERMIT),
        (300.001, True, REVIEW),
        (301, True, REVIEW),
        (-1, True, REVIEW),  # an approval from the future is not an approval
        (10, False, REVIEW),
    ],
)
def test_approval_clears_review_only_while_fresh(
    age_s: float, approved: bool, expected: Verdict
) -> None:
    verdict, _ = judge(intent(1, "120000"), human=approval(age_s, approved))
    assert verdict is expected


def test_approval_does_not_clear_a_deny() -> None:
    verdict, reasons = judge(intent(1, "120000"), human=approval(1), halted=frozenset({"ES"}))
    assert verdict is DENY
    assert rule_ids(reasons) == {"circuit_halted"}


def test_zero_or_negative_equity_is_a_concentration_breach() -> None:
    limits = RiskLimits(tiers={"professional": TierLimits(max_trade_size=Decimal(10**6))})
    verdict, reasons = judge(intent(1, 100), limits, cash=0)
    assert verdict is DENY
    assert rule_ids(reasons) == {"concentration"}


@pytest.mark.parametrize("status", ["suspended", "pending"])
def test_agent_not_compliance_approved_is_denied(status: str) -> None:
    verdict, reasons = judge(intent(1, 100), compliance_status=status)
    assert verdict is DENY
    assert reasons == [
        f"compliance_status: compliance: agent trading-agent-01 compliance status is {status}"
    ]


def test_insider_trading_window_denies() -> None:
    verdict, reasons = judge(intent(1, 100), insider_window=True)
    assert verdict is DENY
    assert reasons == ["insider_window: compliance: ES is inside an insider trading window"]


def test_review_reason_quotes_the_numbers() -> None:
    verdict, reasons = judge(intent(2, "60000.5"))
    assert verdict is REVIEW
    assert reasons == [
        "oversight_high_value: trade $120,001.00 > $100,000.00 needs a human approval "
        "from the last 5 minutes"
    ]
