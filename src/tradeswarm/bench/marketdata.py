"""Market-data benchmark: feed batches -> decode -> MarketView -> analyzer, vs msgspec alone.

Data: the real one-minute bars of January 2006 (``idxf-2006-01-1min.csv.gz``, 30,889 bars)
dealt out to ``symbols`` symbols, each replaying its own stretch of the month on a common
minute clock (symbol k starts k / symbols of the way into the month), and between two bars
of a symbol ``quotes_per_bar`` quotes whose mid walks from the one close to the next with
a 0.5 spread (synthesized: no real quote data of this size is bundled). The stream is
time-ordered (each minute: the quotes of every symbol, then their bars) and cut into
batches of ``batch`` messages, encoded once, untimed (a producer's cost).

Timed, per batch, the real path of a live feed: ``FeedDecoder.decode_batch`` (msgspec into
checked Bar / Quote messages), ``MarketView.apply`` (ordering checks, closes, returns,
volatility state, quotes) and ``MarketAnalyzer.on_bars`` (streaming indicators, setups,
the regime and the MarketSignal when a setup fires; not published: the bus and its log
are the pipeline bench's). Peer, same bytes, same run, batch by batch in alternating
order: msgspec decoding the batch into plain structs of the same fields and types, no
checks. The first ``WINDOW`` minutes warm every symbol's window up through the same path,
untimed. A second pass times the same bars without quotes (every message a bar: the
worst case for the analyzer), and the analyzer as it was before the streaming indicators
(TA-Lib recomputed over the 120-bar window on every bar) is timed on a sample of bars.
"""

from __future__ import annotations

import collections
import os
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import msgspec
import numpy as np

from tradeswarm.agents.analyzer import WINDOW, MarketAnalyzer, windowed_snapshot
from tradeswarm.bus.inproc import InProcessBus
from tradeswarm.core.clock import SimClock
from tradeswarm.core.errors import InvalidInput
from tradeswarm.data.csv_bars import bundled_month_bars
from tradeswarm.data.feed import MarketFeed
from tradeswarm.data.view import MarketView
from tradeswarm.data.wire import WireFormat, encode_batch
from tradeswarm.model.market import Bar, Quote

START = 1_700_000_000 * 1_000_000_000
MINUTE = 60 * 1_000_000_000
HALF_SPREAD = Decimal("0.25")
CENT = Decimal("0.01")


class _PeerBar(msgspec.Struct, tag="bar", frozen=True):
    symbol: str
    ts_event: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal


class _PeerQuote(msgspec.Struct, tag="quote", frozen=True):
    symbol: str
    ts_event: int
    bid: Decimal
    ask: Decimal


def _quotes(symbol: str, ts: int, prev: Decimal, close: Decimal, count: int) -> Iterator[Quote]:
    for j in range(1, count + 1):
        mid = (prev + (close - prev) * j / (count + 1)).quantize(CENT)
        at = ts - MINUTE + j * MINUTE // (count + 1)
        yield Quote(symbol=symbol, ts_event=at, bid=mid - HALF_SPREAD, ask=mid + HALF_SPREAD)


def market_stream(
    real: list[Bar], symbols: int, minutes: int, quotes_per_bar: int, first: int = 1
) -> Iterator[Bar | Quote]:
    """The benchmark's time-ordered stream (module docstring), minutes first to minutes."""
    stride = len(real) // symbols
    names = [f"S{k:04d}" for k in range(symbols)]
    for m in range(first, minutes + 1):
        ts = START + m * MINUTE
        picks = [(names[k], real[(k * stride + m) % len(real)]) for k in range(symbols)]
        if quotes_per_bar:
            prevs = [real[(k * stride + m - 1) % len(real)].close for k in range(symbols)]
            per = [
                list(_quotes(name, ts, prev, bar.close, quotes_per_bar))
                for (name, bar), prev in zip(picks, prevs, strict=True)
            ]
            for j in range(quotes_per_bar):
                yield from (quotes[j] for quotes in per)
        for name, bar in picks:
            yield msgspec.structs.replace(bar, symbol=name, ts_event=ts)


def _batches(stream: Iterator[Bar | Quote], batch: int, wire: WireFormat) -> list[bytes]:
    out: list[bytes] = []
    chunk: list[Bar | Quote] = []
    for message in stream:
        chunk.append(message)
        if len(chunk) == batch:
            out.append(encode_batch(chunk, wire))
            chunk = []
    if chunk:
        out.append(encode_batch(chunk, wire))
    return out


class _Path:
    """The timed path and its peer, one pair of fresh state per pass."""

    def __init__(self, wire: WireFormat) -> None:
        clock = SimClock(START)
        self.view = MarketView()
        self.feed = MarketFeed(self.view, wire)
        self.analyzer = MarketAnalyzer("market-analyzer-01", InProcessBus(clock), clock)
        module: Any = msgspec.json if wire is WireFormat.JSON else msgspec.msgpack
        self.peer = module.Decoder(list[_PeerBar | _PeerQuote])
        self.messages = self.bars = self.signals = 0
        self.times: dict[str, list[float]] = collections.defaultdict(list)

    def warm(self, data: bytes) -> None:
        self.analyzer.on_bars(self.feed.ingest(data), publish=False)

    def timed(self, data: bytes, peer_first: bool) -> None:
        if peer_first:
            self._peer(data)
        t0 = time.perf_counter()
        messages = self.feed.decoder.decode_batch(data)
        t1 = time.perf_counter()
        bars = self.view.apply(messages)
        t2 = time.perf_counter()
        signals = self.analyzer.on_bars(bars, publish=False)
        t3 = time.perf_counter()
        if not peer_first:
            self._peer(data)
        self.times["decode"].append(t1 - t0)
        self.times["view"].append(t2 - t1)
        self.times["analyzer"].append(t3 - t2)
        self.times["ours"].append(t3 - t0)
        self.times["size"].append(len(messages))
        self.messages += len(messages)
        self.bars += len(bars)
        self.signals += len(signals)

    def _peer(self, data: bytes) -> None:
        t0 = time.perf_counter()
        self.peer.decode(data)
        self.times["peer"].append(time.perf_counter() - t0)


def _pass(
    warm: list[bytes], batches: list[bytes], wire: WireFormat, tick: Callable[[], None]
) -> dict[str, Any]:
    path = _Path(wire)
    for data in warm:
        path.warm(data)
    for index, data in enumerate(batches):
        path.timed(data, peer_first=bool(index % 2))
        tick()
    return _figures(path)


def _figures(path: _Path) -> dict[str, Any]:
    t = {k: np.asarray(v) for k, v in path.times.items()}
    ours, peer = float(t["ours"].sum()), float(t["peer"].sum())
    per_message = t["ours"] / t["size"] * 1e6
    stages = {k: float(t[k].sum()) for k in ("decode", "view", "analyzer")}
    return {
        "messages": path.messages,
        "bars": path.bars,
        "quotes": path.messages - path.bars,
        "signals": path.signals,
        "messages_per_sec": round(path.messages / ours),
        "peer_messages_per_sec": round(path.messages / peer),
        "ratio_vs_peer": round((path.messages / ours) / (path.messages / peer), 4),
        "batch_ms_p50": round(float(np.percentile(t["ours"], 50)) * 1e3, 3),
        "batch_ms_p99": round(float(np.percentile(t["ours"], 99)) * 1e3, 3),
        "message_us_p50": round(float(np.percentile(per_message, 50)), 3),
        "message_us_p99": round(float(np.percentile(per_message, 99)), 3),
        "peer_batch_ms_p50": round(float(np.percentile(t["peer"], 50)) * 1e3, 3),
        "peer_batch_ms_p99": round(float(np.percentile(t["peer"], 99)) * 1e3, 3),
        "stage_share": {k: round(v / ours, 3) for k, v in stages.items()},
        "stage_us_per_message": {k: round(v / path.messages * 1e6, 3) for k, v in stages.items()},
    }


def recompute_us_per_bar(real: list[Bar], bars: int) -> float:
    """The analyzer before streaming indicators: the window's arrays rebuilt from its Bars
    and TA-Lib (and the regime) recomputed over them on every bar; microseconds per bar."""
    window: collections.deque[Bar] = collections.deque(maxlen=WINDOW)
    for bar in real[:WINDOW]:
        window.append(bar)
    t0 = time.perf_counter()
    for bar in real[WINDOW : WINDOW + bars]:
        window.append(bar)
        arrays = [
            np.array([float(getattr(b, f)) for b in window]) for f in ("high", "low", "close")
        ]
        windowed_snapshot(*arrays)
    return round((time.perf_counter() - t0) / bars * 1e6, 1)


def _check(messages: int, symbols: int, quotes_per_bar: int, batch: int) -> None:
    for name, value, low in (
        ("--messages", messages, 1),
        ("--symbols", symbols, 1),
        ("--quotes-per-bar", quotes_per_bar, 0),
        ("--batch", batch, 1),
    ):
        if value < low:
            raise InvalidInput(name, value, f"must be >= {low}")


def run_marketdata_bench(
    messages: int = 200_000,
    symbols: int = 100,
    quotes_per_bar: int = 4,
    batch: int = 1_000,
    wire: str = "json",
    progress: bool = True,
) -> dict[str, Any]:
    """Time the market-data path and msgspec alone on the same batches; one JSON-able dict."""
    from rich.progress import Progress

    _check(messages, symbols, quotes_per_bar, batch)
    try:
        fmt = WireFormat(wire)
    except ValueError:
        raise InvalidInput("--wire", wire, f"use one of {[w.value for w in WireFormat]}") from None
    load_start = os.getloadavg()
    real = bundled_month_bars()
    per_minute = symbols * (quotes_per_bar + 1)
    minutes = WINDOW + -(-messages // per_minute)
    streams = {
        q: (
            _batches(market_stream(real, symbols, WINDOW, q), batch, fmt),
            _batches(market_stream(real, symbols, minutes, q, first=WINDOW + 1), batch, fmt),
        )
        for q in (quotes_per_bar, 0)
    }
    with Progress(disable=not progress) as bar:
        task = bar.add_task("marketdata", total=sum(len(t) for _, t in streams.values()))
        figures = _pass(*streams[quotes_per_bar], fmt, lambda: bar.advance(task))
        bars_only = _pass(*streams[0], fmt, lambda: bar.advance(task))
    return {
        "bench": "marketdata",
        "wire": fmt.value,
        "symbols": symbols,
        "quotes_per_bar": quotes_per_bar,
        "batch": batch,
        "data": "real 1-minute bars (January 2006, 30,889) dealt to the symbols; "
        "quotes synthesized between consecutive bars",
        "path": "decode (msgspec, checked) -> MarketView.apply -> MarketAnalyzer.on_bars",
        "peer": "msgspec decode alone: same bytes into plain structs, no checks",
        "warmup_messages": WINDOW * per_minute,
        **figures,
        "bars_only": bars_only,
        "recompute_analyzer_us_per_bar": recompute_us_per_bar(real, 1_000),
        "target_messages_per_sec": 100_000,
        "load_avg_start": [round(x, 2) for x in load_start],
        "load_avg_end": [round(x, 2) for x in os.getloadavg()],
    }
