"""The market-data feed's wire form: bars and quotes as msgspec messages, JSON or
MessagePack, one message or a batch (an array) decoded in one call.

A message is an object tagged by ``type``::

    {"type": "bar", "symbol": "IDXF", "ts_event": 1136275260000000000,
     "open": 3623.0, "high": 3625.0, "low": 3622.0, "close": 3624.0, "volume": 4026}
    {"type": "quote", "symbol": "IDXF", "ts_event": 1136275261000000000,
     "bid": "3623.5", "ask": "3624.0"}

``ts_event`` is int nanoseconds since the epoch; prices and volumes are decimals, read
exactly (JSON numbers or strings, MessagePack strings or numbers). A field the message
type does not have, a missing field or a wrong type refuses the message; so does a bar
the model refuses (a price not finite and positive, high below low, a negative volume), a
price outside [``MIN_PRICE``, ``MAX_PRICE``] (no float could carry it to the indicators),
a negative or non-finite bid or ask, a negative ``ts_event``, an empty symbol, one longer
than ``MAX_SYMBOL`` or with spaces. A zero bid or ask and a crossed quote pass: they are
market facts, which the gate answers with a DENY naming them.

``BarMessage`` and ``QuoteMessage`` are ``Bar`` and ``Quote`` (subclasses adding the tag
and these checks), so a decoded batch goes to the MarketView and the analyzer as it is.
An error is an ``InvalidInput`` naming the message (``feed[3]``), the field and the value.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

import msgspec

from tradeswarm.core.errors import InvalidInput
from tradeswarm.model.market import Bar, Quote

MIN_PRICE = Decimal("1e-12")
MAX_PRICE = Decimal("1e12")
MAX_VOLUME = Decimal("1e18")
MAX_SYMBOL = 32


class WireFormat(enum.StrEnum):
    JSON = "json"
    MSGPACK = "msgpack"


def _check_head(kind: str, symbol: str, ts_event: int) -> None:
    if not symbol or len(symbol) > MAX_SYMBOL or " " in symbol or not symbol.isprintable():
        raise InvalidInput(
            f"{kind}.symbol", symbol, f"1 to {MAX_SYMBOL} printable characters, no spaces"
        )
    if ts_event < 0:
        raise InvalidInput(f"{kind}.ts_event", ts_event, "must be >= 0 (ns since the epoch)")


class BarMessage(Bar, tag="bar", forbid_unknown_fields=True, frozen=True, kw_only=True):
    """A bar on the wire: the model's Bar, checked as the model checks it and more."""

    def __post_init__(self) -> None:
        low, high = self.low, self.high
        try:  # one pass for the common case; the slow path names what failed
            ok = (
                MIN_PRICE <= low <= self.open <= high <= MAX_PRICE
                and low <= self.close <= high
                and 0 <= self.volume <= MAX_VOLUME
            )
        except InvalidOperation:  # a NaN compared
            ok = False
        if not ok:
            self._refuse()
        _check_head("bar", self.symbol, self.ts_event)

    def _refuse(self) -> None:
        Bar.__post_init__(self)  # the model's own refusal, when it refuses
        for name in ("open", "high", "low", "close"):
            value = getattr(self, name)
            if not MIN_PRICE <= value <= MAX_PRICE:
                raise InvalidInput(f"bar.{name}", value, f"outside [{MIN_PRICE}, {MAX_PRICE}]")
        raise InvalidInput("bar.volume", self.volume, f"above {MAX_VOLUME}")


class QuoteMessage(Quote, tag="quote", forbid_unknown_fields=True, frozen=True, kw_only=True):
    """A quote on the wire; crossed and empty (zero) sides pass, the gate denies on them."""

    def __post_init__(self) -> None:
        bid, ask = self.bid, self.ask
        try:  # one pass for the common case; the slow path names what failed
            ok = (MIN_PRICE <= bid <= MAX_PRICE or bid == 0) and (
                MIN_PRICE <= ask <= MAX_PRICE or ask == 0
            )
        except InvalidOperation:  # a NaN compared
            ok = False
        if not ok:
            self._refuse()
        _check_head("quote", self.symbol, self.ts_event)

    def _refuse(self) -> None:
        for name in ("bid", "ask"):
            value = getattr(self, name)
            if not value.is_finite() or value < 0:
                raise InvalidInput(f"quote.{name}", value, "must be finite and >= 0")
            if not (value == 0 or MIN_PRICE <= value <= MAX_PRICE):
                raise InvalidInput(
                    f"quote.{name}", value, f"0 or within [{MIN_PRICE}, {MAX_PRICE}]"
                )


FeedMessage = BarMessage | QuoteMessage

_AT = re.compile(r"^(?P<problem>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_FIELD = re.compile(r"field `(?P<name>[^`]+)`")
_BYTE = re.compile(r"\(byte (?P<at>\d+)\)")


def _excerpt(data: bytes, message: str) -> str:
    """The bytes around the offset a DecodeError names (the start when it names none)."""
    found = _BYTE.search(message)
    at = int(found["at"]) if found else 0
    return data[max(0, at - 24) : at + 24].decode("utf-8", "replace")


class FeedDecoder:
    """Decode the feed's messages, a batch at a time, into checked Bars and Quotes."""

    def __init__(self, wire: WireFormat = WireFormat.JSON) -> None:
        self.wire = WireFormat(wire)
        module: Any = msgspec.json if self.wire is WireFormat.JSON else msgspec.msgpack
        self._batch = module.Decoder(list[FeedMessage])
        self._one = module.Decoder(FeedMessage)
        self._raws = module.Decoder(list[msgspec.Raw])
        self._any = module.Decoder()

    def decode_batch(self, data: bytes) -> list[BarMessage | QuoteMessage]:
        """An array of messages in one call; any bad message refuses the whole batch."""
        try:
            return self._batch.decode(data)  # type: ignore[no-any-return]
        except (msgspec.DecodeError, InvalidInput) as err:
            raise self._diagnose(data, err) from err

    def decode(self, data: bytes) -> BarMessage | QuoteMessage:
        """One message."""
        try:
            return self._one.decode(data)  # type: ignore[no-any-return]
        except (msgspec.DecodeError, InvalidInput) as err:
            raise self._refusal("feed", data, err) from err

    def _diagnose(self, data: bytes, err: Exception) -> InvalidInput:
        """Find the first bad message of a refused batch and say what is wrong with it."""
        try:
            items = self._raws.decode(data)
        except msgspec.ValidationError:
            return InvalidInput("feed", _excerpt(data, ""), "a batch is an array of messages")
        except msgspec.DecodeError as bad:
            return InvalidInput("feed", _excerpt(data, str(bad)), f"not {self.wire}: {bad}")
        for index, raw in enumerate(items):
            try:
                self._one.decode(raw)
            except (msgspec.DecodeError, InvalidInput) as one:
                return self._refusal(f"feed[{index}]", bytes(raw), one)
        return InvalidInput("feed", _excerpt(data, str(err)), str(err))

    def _refusal(self, where: str, data: bytes, err: Exception) -> InvalidInput:
        if isinstance(err, InvalidInput):
            return InvalidInput(f"{where}.{err.field}", err.value, err.problem)
        if not isinstance(err, msgspec.ValidationError):
            return InvalidInput(where, _excerpt(data, str(err)), f"not {self.wire}: {err}")
        found = _AT.match(str(err))
        problem = found["problem"] if found else str(err)
        path = (found["path"] if found else None) or ""
        named = _FIELD.search(problem)
        key = path.lstrip(".") or (named["name"] if named else "")
        try:
            message = self._any.decode(data)
        except msgspec.DecodeError:
            message = None
        value = message.get(key) if isinstance(message, dict) and key else message
        return InvalidInput(f"{where}.{key}" if key else where, value, problem)


def encode_batch(messages: Sequence[Bar | Quote], wire: WireFormat = WireFormat.JSON) -> bytes:
    """The wire form of a batch (what a producer sends; tests and the bench use it).

    JSON writes decimals as numbers, as market-data feeds do; MessagePack as strings."""
    tagged = [_tagged(m) for m in messages]
    if WireFormat(wire) is WireFormat.JSON:
        return msgspec.json.Encoder(decimal_format="number").encode(tagged)
    return msgspec.msgpack.encode(tagged)


def _tagged(message: Bar | Quote) -> BarMessage | QuoteMessage:
    if isinstance(message, BarMessage | QuoteMessage):
        return message
    fields = msgspec.structs.asdict(message)
    return BarMessage(**fields) if isinstance(message, Bar) else QuoteMessage(**fields)
