"""`bench marketdata` runs end to end on a small stream and reports its figures (never
timed here)."""

from __future__ import annotations

import pytest

from tradeswarm.bench.marketdata import market_stream, run_marketdata_bench
from tradeswarm.core.errors import InvalidInput
from tradeswarm.data.csv_bars import bundled_month_bars
from tradeswarm.model.market import Bar


def test_a_small_run_reports_the_path_and_the_peer_on_the_same_messages() -> None:
    result = run_marketdata_bench(messages=3_000, symbols=5, batch=250, progress=False)
    assert result["bench"] == "marketdata"
    assert result["messages"] >= 3_000 and result["bars"] * 5 == result["messages"]
    assert result["bars_only"]["bars"] == result["bars"]
    # the same bars, with or without quotes between them, set up the same signals
    assert result["signals"] == result["bars_only"]["signals"] > 0
    for key in ("messages_per_sec", "peer_messages_per_sec", "ratio_vs_peer"):
        assert result[key] > 0
    assert set(result["stage_share"]) == {"decode", "view", "analyzer"}
    assert len(result["load_avg_start"]) == len(result["load_avg_end"]) == 3


def test_the_stream_is_time_ordered_per_symbol_and_replays_real_bars() -> None:
    real = bundled_month_bars()
    stream = list(market_stream(real, symbols=3, minutes=10, quotes_per_bar=2))
    assert len(stream) == 3 * 10 * 3
    last: dict[tuple[str, bool], int] = {}
    for message in stream:
        key = (message.symbol, isinstance(message, Bar))
        assert message.ts_event > last.get(key, -1)
        last[key] = message.ts_event
    closes = {m.close for m in stream if isinstance(m, Bar)}
    assert closes <= {b.close for b in real}


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"messages": 0}, "--messages"),
        ({"symbols": 0}, "--symbols"),
        ({"quotes_per_bar": -1}, "--quotes-per-bar"),
        ({"batch": 0}, "--batch"),
        ({"wire": "xml"}, "--wire"),
    ],
)
def test_bad_options_are_refused_by_name(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        run_marketdata_bench(progress=False, **kwargs)  # type: ignore[arg-type]
    assert err.value.field == field
