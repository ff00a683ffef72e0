"""The feed's wire form: round trips, and every refusal naming the message, field and value."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest

from tradeswarm.core.errors import InvalidInput
from tradeswarm.data.csv_bars import bundled_bars
from tradeswarm.data.wire import (
    MAX_SYMBOL,
    BarMessage,
    FeedDecoder,
    QuoteMessage,
    WireFormat,
    encode_batch,
)
from tradeswarm.model.market import Bar, Quote

BAR = (
    b'{"type":"bar","symbol":"IDXF","ts_event":1136275260000000000,'
    b'"open":3623.0,"high":3625.0,"low":3622.0,"close":3624.0,"volume":4026}'
)
QUOTE = (
    b'{"type":"quote","symbol":"IDXF","ts_event":1136275261000000000,"bid":"3623.5","ask":"3624"}'
)


LONG = "X" * (MAX_SYMBOL + 1)


def _same(got: object, want: object) -> bool:
    """Equal, NaN equal to NaN (a Decimal NaN equals nothing)."""
    if isinstance(want, Decimal) and want.is_nan():
        return isinstance(got, Decimal) and got.is_nan()
    return type(got) is type(want) and got == want


def _fields(message: Bar | Quote) -> dict[str, object]:
    return msgspec.structs.asdict(message)


def _mixed() -> list[Bar | Quote]:
    out: list[Bar | Quote] = []
    for bar in bundled_bars()[:50]:
        out.append(bar)
        out.append(
            Quote(
                symbol=bar.symbol,
                ts_event=bar.ts_event + 1,
                bid=bar.close - Decimal("0.5"),
                ask=bar.close + Decimal("0.5"),
            )
        )
    return out


@pytest.mark.parametrize("wire", list(WireFormat))
def test_a_batch_round_trips_exactly_as_checked_bars_and_quotes(wire: WireFormat) -> None:
    messages = _mixed()
    decoded = FeedDecoder(wire).decode_batch(encode_batch(messages, wire))
    assert [type(m) for m in decoded] == [
        BarMessage if isinstance(m, Bar) else QuoteMessage for m in messages
    ]
    assert all(isinstance(d, type(m)) for d, m in zip(decoded, messages, strict=True))
    assert [_fields(m) for m in decoded] == [_fields(m) for m in messages]


def test_one_message_decodes_and_decimals_are_read_exactly() -> None:
    decoder = FeedDecoder()
    bar = decoder.decode(BAR)
    assert isinstance(bar, BarMessage) and bar.close == Decimal("3624.0")
    quote = decoder.decode(QUOTE)
    assert isinstance(quote, QuoteMessage) and quote.bid == Decimal("3623.5")
    assert decoder.decode(BAR.replace(b"3624.0", b"3624.1")).close == Decimal("3624.1")


def _refused(message: bytes, wire: WireFormat = WireFormat.JSON) -> InvalidInput:
    """The error for ``message`` as the second of a batch (and the same as one message)."""
    decoder = FeedDecoder(wire)
    with pytest.raises(InvalidInput) as batch:
        decoder.decode_batch(b"[" + BAR + b"," + message + b"]")
    with pytest.raises(InvalidInput) as one:
        decoder.decode(message)
    assert batch.value.field.removeprefix("feed[1]") == one.value.field.removeprefix("feed")
    assert _same(batch.value.value, one.value.value)
    assert batch.value.problem == one.value.problem
    return batch.value


@pytest.mark.parametrize(
    ("old", "new", "field", "value", "problem"),
    [
        (b'"volume":4026', b'"volume":4026,"vwap":1', "feed[1].vwap", 1, "unknown field"),
        (b',"volume":4026', b"", "feed[1].volume", None, "missing required field"),
        (b'"ts_event":1136275260000000000', b'"ts_event":"1"', "feed[1].ts_event", "1", "int"),
        (b'"ts_event":1136275260000000000', b'"ts_event":true', "feed[1].ts_event", True, "int"),
        (b'"high":3625.0', b'"high":"abc"', "feed[1].high", "abc", "decimal"),
        (b'"type":"bar"', b'"type":"trade"', "feed[1].type", "trade", "Invalid value"),
        (b'"open":3623.0', b'"open":-1', "feed[1].bar.open", Decimal(-1), "positive"),
        (b'"open":3623.0', b'"open":0', "feed[1].bar.open", Decimal(0), "positive"),
        (b'"high":3625.0', b'"high":1e13', "feed[1].bar.high", Decimal("1e13"), "outside"),
        (b'"low":3622.0', b'"low":1e-13', "feed[1].bar.low", Decimal("1e-13"), "outside"),
        (b'"close":3624.0', b'"close":"NaN"', "feed[1].bar.close", Decimal("NaN"), "finite"),
        (b'"volume":4026', b'"volume":-5', "feed[1].bar.volume", Decimal(-5), "volume"),
        (b'"volume":4026', b'"volume":1e19', "feed[1].bar.volume", Decimal("1e19"), "above"),
        (b'"ts_event":1136275260000000000', b'"ts_event":-1', "feed[1].bar.ts_event", -1, ">= 0"),
        (b'"IDXF"', b'"ID XF"', "feed[1].bar.symbol", "ID XF", "no spaces"),
        (b'"IDXF"', b'""', "feed[1].bar.symbol", "", "printable"),
        (b'"IDXF"', b'"' + b"X" * (MAX_SYMBOL + 1) + b'"', "feed[1].bar.symbol", LONG, "32"),
    ],
)
def test_a_bad_bar_is_refused_naming_the_message_field_and_value(
    old: bytes, new: bytes, field: str, value: object, problem: str
) -> None:
    assert old in BAR
    err = _refused(BAR.replace(old, new))
    assert err.field == field
    assert _same(err.value, value), err.value
    assert problem in err.problem
    assert field in str(err)


def test_a_bar_whose_low_is_above_its_high_is_refused_naming_the_bar() -> None:
    err = _refused(BAR.replace(b'"low":3622.0', b'"low":3626.0'))
    assert err.field == "feed[1].bar"
    assert isinstance(err.value, Bar) and err.value.low == Decimal(3626)
    assert "low <= open,close <= high" in err.problem


@pytest.mark.parametrize(
    ("old", "new", "field", "value", "problem"),
    [
        (b'"3623.5"', b'"NaN"', "feed[1].quote.bid", Decimal("NaN"), "finite"),
        (b'"3623.5"', b'"Infinity"', "feed[1].quote.bid", Decimal("Infinity"), "finite"),
        (b'"3624"', b'"-1"', "feed[1].quote.ask", Decimal(-1), ">= 0"),
        (b'"3624"', b'"1e-13"', "feed[1].quote.ask", Decimal("1e-13"), "0 or within"),
        (b'"3624"', b'"1e13"', "feed[1].quote.ask", Decimal("1e13"), "0 or within"),
        (b'"bid"', b'"high"', "feed[1].high", "3623.5", "unknown field"),
    ],
)
def test_a_bad_quote_is_refused_naming_the_message_field_and_value(
    old: bytes, new: bytes, field: str, value: object, problem: str
) -> None:
    err = _refused(QUOTE.replace(old, new))
    assert err.field == field
    assert _same(err.value, value), err.value
    assert problem in err.problem


def test_a_zero_side_and_a_crossed_quote_pass_for_the_gate_to_deny() -> None:
    decoder = FeedDecoder()
    zero = decoder.decode(QUOTE.replace(b'"3623.5"', b'"0"'))
    assert isinstance(zero, QuoteMessage) and zero.bid == 0
    crossed = decoder.decode(QUOTE.replace(b'"3623.5"', b'"3625"'))
    assert isinstance(crossed, QuoteMessage) and crossed.bid > crossed.ask


def test_the_first_bad_message_of_a_batch_is_the_one_named() -> None:
    bad = BAR.replace(b'"open":3623.0', b'"open":-1')
    batch = b"[" + b",".join([BAR, QUOTE, BAR, bad, QUOTE.replace(b'"3624"', b'"-2"')]) + b"]"
    with pytest.raises(InvalidInput) as err:
        FeedDecoder().decode_batch(batch)
    assert err.value.field == "feed[3].bar.open" and err.value.value == Decimal(-1)


@pytest.mark.parametrize(
    ("data", "field", "problem"),
    [
        (b"{}", "feed", "a batch is an array of messages"),
        (b"nope", "feed", "not json"),
        (b"", "feed", "not json"),
        (b"[" + BAR[:-20], "feed", "not json"),
        (b"[1]", "feed[0]", "Expected `object`, got `int`"),
    ],
)
def test_bytes_that_are_no_batch_are_refused_with_an_excerpt(
    data: bytes, field: str, problem: str
) -> None:
    with pytest.raises(InvalidInput) as err:
        FeedDecoder().decode_batch(data)
    assert err.value.field == field and problem in err.value.problem
    assert isinstance(err.value.value, str | int)


def test_msgpack_refusals_name_the_field_too() -> None:
    decoder = FeedDecoder(WireFormat.MSGPACK)
    missing = msgspec.msgpack.encode([{"type": "bar", "symbol": "X"}])
    with pytest.raises(InvalidInput) as err:
        decoder.decode_batch(missing)
    assert err.value.field == "feed[0].ts_event" and "missing" in err.value.problem
    with pytest.raises(InvalidInput) as err:
        decoder.decode_batch(b"\xc1")
    assert err.value.field == "feed" and "not msgpack" in err.value.problem


def test_an_unknown_wire_format_is_refused() -> None:
    with pytest.raises(ValueError, match="xml"):
        FeedDecoder("xml")  # type: ignore[arg-type]
