"""No look-ahead by construction: a strategy that reaches for a later bar gets an error."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from tradeswarm.data.series import BarSeries
from tradeswarm.strategy import LookAheadError
from tradeswarm.strategy.market import AsOfMarket

DAY = 86_400 * 10**9


def _series(n: int = 10) -> BarSeries:
    close = np.arange(1.0, n + 1.0)
    cols = {"open": close, "high": close, "low": close, "close": close, "volume": close * 0}
    return BarSeries("AAA", [k * DAY for k in range(n)], cols)


def _market(at: int) -> AsOfMarket:
    market = AsOfMarket({"AAA": _series()})
    market.advance("AAA", at, at * DAY)
    return market


def test_reads_stop_at_the_clock() -> None:
    market = _market(4)
    assert market.bar("AAA").close == 5.0
    assert market.history("AAA").tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert market.history("AAA", n=2).tolist() == [4.0, 5.0]
    assert market.at("AAA", 2 * DAY + 1).close == 3.0
    assert market.bar("AAA", ago=10) is None


def test_a_negative_ago_is_a_bar_in_the_future() -> None:
    with pytest.raises(LookAheadError):
        _market(4).bar("AAA", ago=-1)


def test_a_time_after_the_clock_is_refused() -> None:
    with pytest.raises(LookAheadError):
        _market(4).at("AAA", 5 * DAY)


def test_history_is_a_copy_that_reaches_nothing_later() -> None:
    window = _market(4).history("AAA")
    assert window.base is None  # no view onto the whole column
    window[0] = 99.0  # the strategy may scribble on its copy ...
    assert _market(4).history("AAA")[0] == 1.0


def test_the_series_columns_are_read_only() -> None:
    series = _series()
    with pytest.raises(ValueError):
        series.close[0] = 5.0


class _Peeker:
    """A hostile strategy: tries every way the context offers to see tomorrow."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def on_start(self, ctx: object) -> None: ...

    def on_stop(self, ctx: object) -> None: ...

    def on_bar(self, ctx, bar) -> None:  # type: ignore[no-untyped-def]
        for attempt in (lambda: ctx.bar(bar.symbol, -1), lambda: ctx.at(bar.symbol, bar.ts + 1)):
            try:
                attempt()
            except LookAheadError as err:
                self.errors.append(str(err))
        assert ctx.history(bar.symbol)[-1] == bar.close  # the last value it sees is now's


def test_a_strategy_in_a_run_cannot_peek(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from engine_kit import engine_for

    peeker = _Peeker()
    engine_for({"AAA": _series()}, peeker, cash=Decimal(1000)).run()
    assert len(peeker.errors) == 20  # both attempts refused on each of the 10 bars
