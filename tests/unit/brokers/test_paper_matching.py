from __future__ import annotations

from decimal import Decimal

from tradeswarm.brokers.matching import estimated_cost, fee_for, fill_quantity, slipped
from tradeswarm.model.enums import Side

D = Decimal


def test_fee_is_bps_of_notional_with_a_minimum_rounded_half_even() -> None:
    assert fee_for(D("1000"), D(1), D(1)) == D("1.00")  # 0.10 -> minimum
    assert fee_for(D("50105.01"), D(1), D(1)) == D("5.01")
    assert fee_for(D("50250"), D(1), D(1)) == D("5.02")  # 5.025 -> even
    assert fee_for(D("50350"), D(1), D(1)) == D("5.04")  # 5.035 -> even
    assert fee_for(D("1000"), D(0), D(0)) == D("0.00")


def test_fill_quantity_floors_participation_times_volume() -> None:
    assert fill_quantity(D(250), D(1000), D("0.1")) == D(100)
    assert fill_quantity(D(50), D(1000), D("0.1")) == D(50)
    assert fill_quantity(D(50), D(9), D("0.1")) == D(0)
    assert fill_quantity(D(50), D(19), D("0.1")) == D(1)


def test_slippage_buy_pays_up_sell_receives_less() -> None:
    assert slipped(D(5000), Side.BUY, D(1)) == D("5000.5000")
    assert slipped(D(5000), Side.SELL, D(1)) == D("4999.5000")
    assert slipped(D("4999.99"), Side.BUY, D(3)) == D("5001.4900")


def test_estimated_cost_includes_slippage_and_fee() -> None:
    assert estimated_cost(D(10), D(5000), D(1), D(1), D(1)) == D("50005.000") + D("5.00")
