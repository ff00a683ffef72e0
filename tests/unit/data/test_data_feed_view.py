"""MarketView.apply and MarketFeed.ingest: a feed's batch whole or not at all, in order."""

from __future__ import annotations

import itertools
import math
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from tradeswarm.core.errors import InvalidInput
from tradeswarm.data.csv_bars import BUNDLED_SYMBOL, bundled_bars, bundled_month_bars
from tradeswarm.data.feed import MarketFeed
from tradeswarm.data.replay import synth_quote
from tradeswarm.data.view import MINUTES_PER_YEAR, MarketView
from tradeswarm.data.wire import WireFormat, encode_batch
from tradeswarm.model.market import Bar, Quote

S = BUNDLED_SYMBOL


def _quote(bar: Bar, ts: int, bid: str = "1", ask: str = "2") -> Quote:
    return Quote(symbol=bar.symbol, ts_event=ts, bid=Decimal(bid), ask=Decimal(ask))


def _state(view: MarketView) -> tuple[object, ...]:
    return (
        view.marks(),
        view.quote(S),
        view.returns(S),
        view.realized_volatility(S),
        view.history_bars(S),
    )


def test_returns_and_volatility_equal_pandas_over_the_whole_real_month() -> None:
    bars = bundled_month_bars()
    view = MarketView(window=30)
    closes = pd.Series([float(b.close) for b in bars])
    want_vol = np.log(closes).diff().rolling(30, min_periods=2).std().to_numpy()
    got_vol = np.empty(len(bars))
    for i, bar in enumerate(bars):
        view.on_bar(bar)
        got_vol[i] = view.realized_volatility(S)
        if i % 1_000 == 999:
            window = closes[i - 30 : i + 1].to_numpy()
            assert view.returns(S) == [b / a - 1.0 for a, b in itertools.pairwise(window)]
            assert view.history_bars(S) == 31
    assert (got_vol[:2] == 0).all()
    np.testing.assert_allclose(got_vol[2:], want_vol[2:] * math.sqrt(MINUTES_PER_YEAR), rtol=1e-8)


def test_apply_of_bars_is_on_bar_in_turn_and_derives_the_quotes() -> None:
    bars = bundled_bars()[:200]
    one, batch = MarketView(), MarketView()
    for bar in bars:
        one.on_bar(bar)
    assert batch.apply(bars[:120]) == bars[:120]
    assert batch.apply(bars[120:]) == bars[120:]
    assert _state(batch) == _state(one)
    assert batch.quote(S) == synth_quote(bars[-1], Decimal(1))


def test_a_fed_quote_is_kept_and_a_fed_symbol_no_longer_derives_one() -> None:
    bars = bundled_bars()[:3]
    view = MarketView()
    view.apply([bars[0]])
    assert view.quote(S) == synth_quote(bars[0], Decimal(1))
    fed = _quote(bars[0], bars[0].ts_event + 1)
    view.apply([fed, bars[1]])
    assert view.quote(S) == fed  # the symbol is fed now: its bars derive no quote
    later = _quote(bars[1], bars[1].ts_event + 1, "3", "4")
    view.apply([bars[2], later])
    assert view.quote(S) == later and view.last_price(S) == bars[2].close


def test_a_bar_not_after_its_symbols_last_refuses_the_whole_batch() -> None:
    bars = bundled_bars()[:10]
    view = MarketView()
    view.apply(bars[:5])
    before = _state(view)
    for batch, index, ts in (
        ([bars[5], bars[4]], 1, bars[4].ts_event),  # older than the last applied
        ([bars[5], bars[6], bars[6]], 2, bars[6].ts_event),  # a repeat inside the batch
    ):
        with pytest.raises(InvalidInput) as err:
            view.apply(batch)
        assert err.value.field == f"feed[{index}].ts_event" and err.value.value == ts
        assert f"not after {S}'s bar" in err.value.problem
        assert _state(view) == before


def test_a_quote_older_than_its_symbols_last_feed_quote_refuses_the_batch() -> None:
    bar = bundled_bars()[0]
    view = MarketView()
    first = _quote(bar, 100)
    view.apply([first])
    view.apply([_quote(bar, 100)])  # the same time passes: a quote may repeat its time
    with pytest.raises(InvalidInput) as err:
        view.apply([bar, _quote(bar, 99)])
    assert err.value.field == "feed[1].ts_event" and err.value.value == 99
    assert "older than" in err.value.problem
    assert view.marks() == {} and view.history_bars(S) == 0  # the bar was not applied
    other = Quote(symbol="OTHER", ts_event=1, bid=Decimal(1), ask=Decimal(2))
    view.apply([other])  # another symbol's clock is its own


def test_a_close_too_small_for_a_float_does_not_stop_the_view() -> None:
    bars = bundled_bars()[:5]
    view = MarketView()
    view.apply(bars[:3])
    tiny = Decimal("1e-400")  # positive, valid for the model, 0.0 as a float
    low = Bar(
        symbol=S, ts_event=bars[3].ts_event, open=tiny, high=tiny, low=tiny, close=tiny,
        volume=Decimal(1),
    )  # fmt: skip
    view.apply([low, bars[4]])
    assert view.returns(S)[-2:] == [-1.0, math.inf]
    assert not math.isfinite(view.realized_volatility(S))  # the gate denies on it


@pytest.mark.parametrize("wire", list(WireFormat))
def test_the_feed_decodes_and_applies_a_batch_or_leaves_the_view_as_it_was(
    wire: WireFormat,
) -> None:
    bars = bundled_bars()[:20]
    quotes = [_quote(b, b.ts_event + 1, str(b.close - 1), str(b.close + 1)) for b in bars]
    messages = [m for pair in zip(bars, quotes, strict=True) for m in pair]
    feed = MarketFeed(MarketView(), wire)
    got = feed.ingest(encode_batch(messages[:20], wire))
    assert [b.ts_event for b in got] == [b.ts_event for b in bars[:10]]
    assert feed.view.quote(S) is not None and feed.view.quote(S).ts_event == quotes[9].ts_event
    before = _state(feed.view)
    bad = [*messages[20:30], messages[0]]  # decodes, but its last bar is out of order
    with pytest.raises(InvalidInput) as err:
        feed.ingest(encode_batch(bad, wire))
    assert err.value.field == "feed[10].ts_event"
    assert _state(feed.view) == before
    assert [b.ts_event for b in feed.ingest(encode_batch(messages[20:], wire))] == [
        b.ts_event for b in bars[10:]
    ]
