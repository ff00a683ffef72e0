"""The gate values trades from its own quote and the instrument master, denies what it
cannot know, and holds the pre-trade controls of a regulated desk (15c3-5, RTS 6).

Every verdict is checked against cedarpy by the kit; the boundaries are exact."""

from __future__ import annotations

from decimal import Decimal

import pytest
from risk_kit import approval, context, intent, judge, rule_ids

from tradeswarm.model.enums import OrderType, Side, Verdict
from tradeswarm.model.portfolio import Position
from tradeswarm.risk.limits import InstrumentLimits, RiskLimits

PERMIT, DENY, REVIEW = Verdict.PERMIT, Verdict.DENY, Verdict.REVIEW


def test_the_agents_reference_price_is_never_what_the_trade_is_valued_at() -> None:
    honest = judge(intent(90, 3660), limits=None)
    lying = judge(intent(90, 1), mark=Decimal(3660))
    assert honest[0] is DENY and lying[0] is DENY  # $329,400 > the $150,000 hard cap
    assert "trade_size" in rule_ids(lying[1])
    assert "$329,400.00" in lying[1][0]


def test_a_buy_is_valued_at_the_ask_and_a_sell_at_the_bid() -> None:
    buy = context(intent(10, 100), bid=99, ask=101)
    sell = context(intent(10, 100, side=Side.SELL), bid=99, ask=101, positions=_held(10))
    assert (buy.valuation_price, buy.notional) == (Decimal(101), Decimal(1010))
    assert (sell.valuation_price, sell.notional) == (Decimal(99), Decimal(990))
    assert buy.reference_price == sell.reference_price == Decimal(100)


def test_a_limit_above_the_ask_is_valued_at_the_limit() -> None:
    limit = intent(10, 100, order_type=OrderType.LIMIT, limit_price=Decimal("102.5"))
    assert context(limit, bid=99, ask=101).valuation_price == Decimal("102.5")
    passive = intent(10, 100, order_type=OrderType.LIMIT, limit_price=Decimal(98))
    assert context(passive, bid=99, ask=101).valuation_price == Decimal(101)


def test_the_contract_multiplier_scales_the_trade_value() -> None:
    one = context(intent(1, 4700, symbol="FUT50"))
    assert one.notional == Decimal(235_000)
    verdict, reasons = judge(intent(1, 4700, symbol="FUT50"))
    assert verdict is DENY and "trade_size" in rule_ids(reasons)


def test_review_shows_the_gates_valuation_not_the_agents() -> None:
    verdict, reasons = judge(intent(2, 1), mark=Decimal("60000.5"))
    assert verdict is REVIEW
    assert "trade $120,001.00 > $100,000.00" in reasons[0]


@pytest.mark.parametrize(("bars", "expected"), [(29, DENY), (30, PERMIT)])
def test_unknown_means_deny_too_little_history(bars: int, expected: Verdict) -> None:
    verdict, reasons = judge(intent(1, 100), history_bars=bars)
    assert verdict is expected
    if expected is DENY:
        assert reasons == [f"insufficient_history: insufficient history: {bars} of 30 bars"]


@pytest.mark.parametrize(("age_s", "expected"), [(120, PERMIT), (120.001, DENY)])
def test_a_quote_older_than_the_limit_values_nothing(age_s: float, expected: Verdict) -> None:
    verdict, reasons = judge(intent(1, 100), mark_age_s=age_s)
    assert verdict is expected
    assert ("stale_market_data" in rule_ids(reasons)) is (expected is DENY)


@pytest.mark.parametrize(
    ("limit", "expected"), [("105", PERMIT), ("105.01", DENY), ("94.99", DENY), ("95", PERMIT)]
)
def test_price_collar_boundary_at_five_percent_of_the_mid(limit: str, expected: Verdict) -> None:
    order = intent(1, 100, order_type=OrderType.LIMIT, limit_price=Decimal(limit))
    verdict, reasons = judge(order)
    assert verdict is expected
    assert ("price_collar" in rule_ids(reasons)) is (expected is DENY)


def test_a_fat_finger_limit_ten_times_the_market_is_denied_by_the_collar() -> None:
    order = intent(1, 100, order_type=OrderType.LIMIT, limit_price=Decimal(1000))
    verdict, reasons = judge(order)
    assert verdict is DENY
    collar = next(r for r in reasons if r.startswith("price_collar"))
    assert "limit price 1000 is 900.00%" in collar


def test_a_stop_far_through_the_market_is_denied_by_the_collar() -> None:
    limits = RiskLimits(allowed_order_types=list(OrderType))
    order = intent(1, 100, order_type=OrderType.STOP, stop_price=Decimal(50))
    verdict, reasons = judge(order, limits)
    assert verdict is DENY
    assert rule_ids(reasons) == {"price_collar"}


def test_the_collar_in_ticks_widens_the_percentage() -> None:
    order = intent(1, 100, order_type=OrderType.LIMIT, limit_price=Decimal(106))
    assert judge(order)[0] is DENY
    wide = RiskLimits(price_collar_ticks=Decimal(600))
    assert judge(order, wide)[0] is PERMIT  # 600 ticks of a cent is $6


def test_prices_off_the_tick_and_quantities_off_the_lot_are_denied() -> None:
    off_tick = intent(1, 100, order_type=OrderType.LIMIT, limit_price=Decimal("100.005"))
    assert rule_ids(judge(off_tick)[1]) == {"tick_size"}
    off_lot = intent("0.0005", 100, symbol="BTCUSD")
    limits = RiskLimits(excluded_asset_classes=[])
    assert rule_ids(judge(off_lot, limits)[1]) == {"lot_size"}
    assert judge(intent("0.001", 100, symbol="BTCUSD"), limits)[0] is PERMIT


def test_an_instrument_the_master_marks_untradable_is_denied() -> None:
    verdict, reasons = judge(intent(1, 10, symbol="DELISTED"))
    assert verdict is DENY
    assert reasons == ["instrument_tradable: instrument DELISTED is not tradable"]


@pytest.mark.parametrize(("qty", "expected"), [(1000, PERMIT), (1001, DENY)])
def test_maximum_order_quantity_per_instrument(qty: int, expected: Verdict) -> None:
    limits = RiskLimits(position_limit=Decimal(10_000))
    verdict, reasons = judge(intent(qty, 1), limits)
    assert verdict is expected
    assert ("max_order_quantity" in rule_ids(reasons)) is (expected is DENY)


def test_an_instruments_own_caps_replace_the_desks() -> None:
    limits = RiskLimits(
        instrument_limits={"ES": InstrumentLimits(max_order_quantity=Decimal(5))},
        position_limit=Decimal(10_000),
    )
    assert rule_ids(judge(intent(6, 1), limits)[1]) == {"max_order_quantity"}
    assert judge(intent(6, 1, symbol="NQ"), limits)[0] is PERMIT
    capped = RiskLimits(instrument_limits={"ES": InstrumentLimits(max_order_notional=Decimal(500))})
    assert rule_ids(judge(intent(6, 100), capped)[1]) == {"max_order_notional"}


@pytest.mark.parametrize(
    ("second", "minute", "expected"),
    [(10, 10, PERMIT), (11, 11, DENY), (1, 120, PERMIT), (1, 121, DENY)],
)
def test_message_throttle_per_second_and_per_minute(
    second: int, minute: int, expected: Verdict
) -> None:
    verdict, reasons = judge(intent(1, 100), intents_last_second=second, intents_last_minute=minute)
    assert verdict is expected
    assert ("message_throttle" in rule_ids(reasons)) is (expected is DENY)


def test_a_duplicate_order_is_denied_naming_the_first() -> None:
    verdict, reasons = judge(intent(1, 100), duplicate_of="01234567-89ab-7def-8123-456789abcdef")
    assert verdict is DENY
    assert reasons == [
        "duplicate_order: duplicate order: intent 01234567 had the same agent, side, symbol "
        "and quantity within 10s"
    ]


@pytest.mark.parametrize(("open_orders", "expected"), [(19, PERMIT), (20, DENY)])
def test_maximum_open_orders_per_agent(open_orders: int, expected: Verdict) -> None:
    verdict, reasons = judge(intent(1, 100), open_orders=open_orders)
    assert verdict is expected
    assert ("max_open_orders" in rule_ids(reasons)) is (expected is DENY)


@pytest.mark.parametrize(("pending", "expected"), [("999900", PERMIT), ("999900.01", DENY)])
def test_gross_exposure_counts_positions_the_trade_and_open_orders(
    pending: str, expected: Verdict
) -> None:
    verdict, reasons = judge(intent(1, 100), open_order_exposure=Decimal(pending))
    assert verdict is expected
    assert ("gross_exposure" in rule_ids(reasons)) is (expected is DENY)


def test_an_approval_never_lifts_a_pre_trade_control() -> None:
    order = intent(1, "120000", order_type=OrderType.LIMIT, limit_price=Decimal(130_000))
    verdict, reasons = judge(order, human=approval(1))
    assert verdict is DENY
    assert "price_collar" in rule_ids(reasons)


def test_the_principal_not_the_intents_agent_id_picks_the_tier() -> None:
    limits = RiskLimits(agent_tiers={"trading-agent-01": "enterprise", "small": "starter"})
    big = intent(1, 50_000, agent_id="trading-agent-01")
    assert judge(big, limits, principal="small")[0] is DENY  # judged as the starter it is
    assert judge(big, limits, human=approval(1))[0] is PERMIT


def _held(qty: int) -> dict[str, Position]:
    return {"ES": Position(symbol="ES", quantity=Decimal(qty), avg_cost=Decimal(100))}
