"""The simulated exchange's rules, each tried on bars built to hit (or miss) it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np
from engine_kit import OPEN, engine_for

from tradeswarm.backtest.config import FillConfig
from tradeswarm.data.series import BarSeries
from tradeswarm.model.enums import OrderType
from tradeswarm.risk.limits import RiskLimits

DAY = 86_400 * 10**9


def _bars(rows: list[tuple[float, float, float, float, float]]) -> BarSeries:
    o, h, lo, c, v = (np.array(col, dtype=float) for col in zip(*rows, strict=True))
    cols = {"open": o, "high": h, "low": lo, "close": c, "volume": v}
    return BarSeries("AAA", [k * DAY for k in range(len(rows))], cols)


class Script:
    """Proposes on given bar numbers: {k: (method, qty, kwargs)}."""

    def __init__(self, plan: dict[int, tuple[str, Any, dict[str, Any]]]) -> None:
        self.plan, self.k, self.fills, self.decisions = plan, -1, [], []

    def on_start(self, ctx: Any) -> None: ...

    def on_stop(self, ctx: Any) -> None: ...

    def on_fill(self, ctx: Any, fill: Any) -> None:
        self.fills.append(fill)

    def on_decision(self, ctx: Any, decision: Any) -> None:
        self.decisions.append(decision)

    def on_timer(self, ctx: Any, name: str) -> None: ...

    def on_bar(self, ctx: Any, bar: Any) -> None:
        self.k += 1
        if self.k in self.plan:
            method, qty, how = self.plan[self.k]
            getattr(ctx, method)("AAA", qty, **how)


FLAT = [(10.0, 11.0, 9.0, 10.0, 1000.0)] * 3


def _run(rows: list, plan: dict, **kw: Any) -> tuple[Any, Script]:
    script = Script(plan)
    run = engine_for({"AAA": _bars(rows)}, script, **kw).run()
    return run, script


def test_a_market_order_fills_at_the_next_bars_open() -> None:
    rows = [(10, 11, 9, 10, 1000), (12, 13, 11, 12.5, 1000), (12, 13, 11, 12, 1000)]
    run, script = _run(rows, {0: ("buy", 5, {})})
    assert [(t.ts, Decimal(t.price), t.quantity) for t in run.trades] == [(DAY, 12, "5")]
    assert run.cash == Decimal(100_000 - 60)
    assert script.fills[0].price == Decimal(12)


LIMIT_ROWS = [(10, 11, 9, 10, 1000), (10, 11, 9.7, 10, 1000), (9, 9.2, 8, 8.5, 1000)]


def test_a_limit_buy_waits_for_the_bar_that_reaches_it_and_takes_the_better_price() -> None:
    run, _ = _run(LIMIT_ROWS, {0: ("buy", 1, {"limit": 9.6, "tif": "GTC"})})
    assert [(t.ts, Decimal(t.price)) for t in run.trades] == [(2 * DAY, 9)]  # open 9 < 9.6


def test_the_gate_denies_a_limit_outside_the_price_collar() -> None:
    run, script = _run(LIMIT_ROWS, {0: ("buy", 1, {"limit": 9.4, "tif": "GTC"})})
    assert run.trades == []
    assert script.decisions[0].verdict == "DENY"
    assert script.decisions[0].reasons[0].startswith("price_collar")


def test_a_day_limit_not_reached_on_its_day_expires() -> None:
    run, _ = _run(LIMIT_ROWS, {0: ("buy", 1, {"limit": 9.6})})
    assert run.trades == []
    assert run.decisions[-1].verdict == "CANCELED" and "expired" in run.decisions[-1].reasons[0]


def test_a_stop_sell_triggers_on_touch_at_the_worse_of_open_and_stop() -> None:
    rows = [(10, 11, 9, 10, 1), (10, 11, 9, 10, 1), (10, 10, 9.7, 9.8, 1), (9, 9.5, 8.5, 9, 1)]
    stops = RiskLimits(**{**_fields(OPEN), "allowed_order_types": list(OrderType)})
    plan = {0: ("buy", 2, {}), 1: ("sell", 2, {"stop": 9.6, "tif": "GTC"})}
    run, _ = _run(rows, plan, limits=stops)
    assert [Decimal(t.price) for t in run.trades] == [10, 9]  # gapped through: the open


def test_participation_fills_an_order_over_several_bars() -> None:
    rows = [(10, 11, 9, 10, 100)] * 5
    run, _ = _run(rows, {0: ("buy", 25, {})}, fills=FillConfig(participation=Decimal("0.1")))
    assert [t.quantity for t in run.trades] == ["10", "10", "5"]


def test_fees_are_booked_and_rounded_to_cents() -> None:
    cfg = FillConfig(fee_bps=Decimal(3), fee_min=Decimal(1))
    run, _ = _run(FLAT, {0: ("buy", 1000, {})}, fills=cfg)
    assert run.trades[0].fee == "3.00"  # 10,000 x 3 bps
    run, _ = _run(FLAT, {0: ("buy", 1, {})}, fills=cfg)
    assert run.trades[0].fee == "1.00"  # the minimum


def test_the_gate_denies_a_short_sale_and_the_exchange_never_shorts() -> None:
    run, script = _run(FLAT, {0: ("sell", 1, {})})
    assert run.trades == []
    assert script.decisions[0].verdict == "DENY"


def test_shorting_where_allowed_charges_borrow() -> None:
    limits = RiskLimits(**{**_fields(OPEN), "allow_short": True})
    cfg = FillConfig(borrow_bps_per_year=Decimal(3650))
    run, _ = _run(FLAT, {0: ("sell", 10, {})}, limits=limits, fills=cfg)
    assert run.positions == {"AAA": Decimal(-10)}
    assert run.borrow > 0  # charged on the bars the short was held


def test_a_buy_beyond_the_cash_is_refused_at_the_fill() -> None:
    run, _ = _run(FLAT, {0: ("buy", 50, {})}, cash=Decimal(100))
    assert run.trades == []
    assert "insufficient cash" in run.decisions[-1].reasons[0]


def _fields(limits: RiskLimits) -> dict[str, Any]:
    return {f: getattr(limits, f) for f in limits.__struct_fields__}


def test_a_proposal_before_the_first_bar_is_denied_not_a_crash() -> None:
    class Eager(Script):
        def on_start(self, ctx: Any) -> None:
            ctx.buy("AAA", 1)

    script = Eager({})
    run = engine_for({"AAA": _bars(FLAT)}, script).run()
    assert run.trades == []
    assert script.decisions[0].verdict == "DENY"
    assert script.decisions[0].reasons[0].startswith("market_data: no bar of AAA")


def test_a_strategy_that_raises_is_named_in_the_error() -> None:
    import pytest

    from tradeswarm.strategy import LookAheadError
    from tradeswarm.strategy.market import StrategyError

    class Broken(Script):
        def on_bar(self, ctx: Any, bar: Any) -> None:
            ctx.bar("AAA", ago=-1)  # reaches for tomorrow, and does not catch it

    with pytest.raises(StrategyError, match=r"strategy 's' raised in on_bar.*LookAheadError"):
        engine_for({"AAA": _bars(FLAT)}, Broken({})).run()
    with pytest.raises(StrategyError, match="InvalidInput"):
        engine_for({"AAA": _bars(FLAT)}, Script({0: ("buy", "-3", {})})).run()
    assert LookAheadError is not None
