"""The market-data wire path: a feed's batch of bytes -> checked Bars and Quotes -> the view.

``MarketFeed.ingest`` decodes a batch (``data.wire``: msgspec, one call per batch, JSON or
MessagePack) and applies it to the ``MarketView`` whole or not at all (``MarketView.apply``:
each symbol's bars in rising time, quotes never older than the symbol's last); it returns
the batch's bars, which the caller hands to the analyzer (``MarketAnalyzer.on_bars``). A
bad message anywhere in the batch is an ``InvalidInput`` naming it, its field and value,
and the view is as it was.
"""

from __future__ import annotations

from tradeswarm.data.view import MarketView
from tradeswarm.data.wire import FeedDecoder, WireFormat
from tradeswarm.model.market import Bar


class MarketFeed:
    """Decode a feed's batches into one MarketView."""

    def __init__(self, view: MarketView, wire: WireFormat = WireFormat.JSON) -> None:
        self.view = view
        self.decoder = FeedDecoder(wire)

    def ingest(self, data: bytes) -> list[Bar]:
        """Decode one batch and apply it; return its bars, in the batch's order."""
        return self.view.apply(self.decoder.decode_batch(data))
