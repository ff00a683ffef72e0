from __future__ import annotations

import uuid
from decimal import Decimal

import msgspec
import pytest

from tradeswarm.core.errors import InvalidInput
from tradeswarm.model.enums import MessageIntent, OrderType, Side, TimeInForce
from tradeswarm.model.envelope import Envelope, decode_envelope, encode_envelope, signing_bytes
from tradeswarm.model.market import Bar
from tradeswarm.model.messages import TradeIntent
from tradeswarm.model.money import round_money, to_decimal
from tradeswarm.testkit import T0


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (1.5, "not a float"),
        (0.1, "not a float"),
        (float("nan"), "not a float"),
        (float("inf"), "not a float"),
        (True, "not a float"),
        ("NaN", "finite"),
        ("inf", "finite"),
        ("-Infinity", "finite"),
        (Decimal("NaN"), "finite"),
        (Decimal("sNaN"), "finite"),
        (Decimal("Infinity"), "finite"),
        ("abc", "not a number"),
        (None, "unsupported type"),
        ([1], "unsupported type"),
    ],
)
def test_to_decimal_refuses_with_the_field_name(value: object, problem: str) -> None:
    with pytest.raises(InvalidInput) as info:
        to_decimal(value, "order.price")
    assert info.value.field == "order.price"
    assert "order.price" in str(info.value)
    assert problem in str(info.value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1.10", Decimal("1.10")), (3, Decimal(3)), (Decimal("2.5"), Decimal("2.5"))],
)
def test_to_decimal_accepts_exact_inputs(value: object, expected: Decimal) -> None:
    result = to_decimal(value, "x")
    assert result == expected
    assert isinstance(result, Decimal)


def test_round_money_uses_bankers_rounding() -> None:
    assert round_money(Decimal("0.125")) == Decimal("0.12")
    assert round_money(Decimal("0.135")) == Decimal("0.14")


def _intent(**changes: object) -> TradeIntent:
    fields: dict[str, object] = {
        "intent_id": uuid.UUID(int=7),
        "signal_id": None,
        "agent_id": "trading-agent-01",
        "symbol": "ES",
        "side": Side.BUY,
        "quantity": Decimal(2),
        "order_type": OrderType.MARKET,
        "time_in_force": TimeInForce.DAY,
        "reference_price": Decimal(100),
        "strategy": "momentum",
        "rationale": "test",
        "confidence": 0.5,
        "ts_event": T0,
    }
    fields.update(changes)
    return TradeIntent(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"quantity": Decimal(-1)}, "intent.quantity"),
        ({"quantity": Decimal(0)}, "intent.quantity"),
        ({"quantity": Decimal("NaN")}, "intent.quantity"),
        ({"reference_price": Decimal("NaN")}, "intent.reference_price"),
        ({"reference_price": Decimal("Infinity")}, "intent.reference_price"),
        ({"reference_price": Decimal(0)}, "intent.reference_price"),
        ({"order_type": OrderType.LIMIT}, "intent.limit_price"),
        ({"order_type": OrderType.LIMIT, "limit_price": Decimal("NaN")}, "intent.limit_price"),
        ({"order_type": OrderType.STOP}, "intent.stop_price"),
        ({"stop_loss": Decimal(-5)}, "intent.stop_loss"),
        ({"confidence": 1.5}, "intent.confidence"),
        ({"confidence": float("nan")}, "intent.confidence"),
        ({"symbol": ""}, "intent.symbol"),
        ({"limit_price": Decimal(90)}, "intent.limit_price"),
        ({"stop_price": Decimal(90)}, "intent.stop_price"),
        (
            {"order_type": OrderType.LIMIT, "limit_price": Decimal(90), "stop_price": Decimal(95)},
            "intent.stop_price",
        ),
        (
            {"order_type": OrderType.STOP, "stop_price": Decimal(95), "limit_price": Decimal(90)},
            "intent.limit_price",
        ),
    ],
)
def test_trade_intent_refuses_bad_fields_by_name(changes: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as info:
        _intent(**changes)
    assert info.value.field == field
    assert field in str(info.value)


def test_trade_intent_claimed_notional_prefers_limit_price() -> None:
    assert _intent().claimed_notional == Decimal(200)
    limit = _intent(order_type=OrderType.LIMIT, limit_price=Decimal(90))
    assert limit.claimed_notional == Decimal(180)
    stop = _intent(order_type=OrderType.STOP, stop_price=Decimal(95))
    assert stop.claimed_notional == Decimal(190)


@pytest.mark.parametrize(
    ("name", "forced", "field"),
    [
        ("quantity", Decimal(-5), "intent.quantity"),
        ("quantity", 2.0, "intent.quantity"),
        ("quantity", None, "intent.quantity"),
        ("limit_price", Decimal(99), "intent.limit_price"),
        ("reference_price", Decimal("NaN"), "intent.reference_price"),
        ("side", "BUY", "intent.side"),
        ("symbol", "", "intent.symbol"),
    ],
)
def test_validate_refuses_an_intent_altered_after_construction(
    name: str, forced: object, field: str
) -> None:
    intent = _intent()  # a valid MARKET buy of 2
    intent.validate()
    msgspec.structs.force_setattr(intent, name, forced)  # the frozen struct, altered in place
    with pytest.raises(InvalidInput) as info:
        intent.validate()
    assert info.value.field == field


def _bar(**changes: object) -> Bar:
    fields: dict[str, object] = {
        "symbol": "ES",
        "ts_event": T0,
        "open": Decimal(100),
        "high": Decimal(101),
        "low": Decimal(99),
        "close": Decimal(100),
        "volume": Decimal(10),
    }
    fields.update(changes)
    return Bar(**fields)  # type: ignore[arg-type]


def test_bar_refuses_low_above_high() -> None:
    with pytest.raises(InvalidInput, match="low <= open,close <= high"):
        _bar(low=Decimal(102), high=Decimal(101), open=Decimal("101.5"), close=Decimal("101.5"))


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"close": Decimal("NaN")}, "bar.close"),
        ({"open": Decimal(0)}, "bar.open"),
        ({"volume": Decimal(-1)}, "bar.volume"),
        ({"close": Decimal(102)}, "bar"),
    ],
)
def test_bar_refuses_bad_prices_by_name(changes: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as info:
        _bar(**changes)
    assert info.value.field == field


def test_bar_accepts_a_valid_bar() -> None:
    assert _bar().close == Decimal(100)


def _envelope() -> Envelope:
    return Envelope(
        msg_id=uuid.UUID(int=11),
        type="TradeIntent",
        topic="trading.intent.created",
        correlation_id=uuid.UUID(int=11),
        causation_id=None,
        ttl_ms=60_000,
        sender="trading-agent:trading-agent-01",
        intent=MessageIntent.COMMAND,
        idempotency_key="k",
        ts_ns=T0,
        nonce=b"\x00\x01" * 8,
        payload=_intent(limit_price=Decimal("99.50"), order_type=OrderType.LIMIT),
    )


def test_envelope_round_trips_exactly() -> None:
    env = _envelope()
    back = decode_envelope(encode_envelope(env))
    assert back == env
    assert isinstance(back.payload, TradeIntent)
    assert back.payload.limit_price == Decimal("99.50")
    assert str(back.payload.limit_price) == "99.50"


def test_envelope_canonical_bytes_are_stable() -> None:
    first = encode_envelope(_envelope())
    again = encode_envelope(decode_envelope(first))
    assert first == again
    assert first == encode_envelope(_envelope())
    assert (
        first.index(b'"causation_id"') < first.index(b'"correlation_id"') < first.index(b'"ts_ns"')
    )


def test_signing_bytes_ignore_the_signature_slot() -> None:
    import msgspec

    env = _envelope()
    signed = msgspec.structs.replace(env, signature=b"sig")
    assert signing_bytes(signed) == signing_bytes(env)
    assert encode_envelope(signed) != encode_envelope(env)


def test_envelope_expiry_is_strictly_after_the_ttl() -> None:
    env = _envelope()
    assert not env.expired(T0 + 60_000 * 1_000_000)
    assert env.expired(T0 + 60_000 * 1_000_000 + 1)
