"""The message builders: valid defaults, overrides that apply, unknown names refused."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from tradeswarm.core.errors import InvalidInput
from tradeswarm.model.enums import DecisionKind, MessageIntent, OrderType, Side, Verdict
from tradeswarm.model.envelope import decode_envelope, encode_envelope
from tradeswarm.model.messages import KillSwitchActivated, TradeIntent
from tradeswarm.testkit import (
    DEFAULT_OVERSIGHT_TIMEOUT_NS,
    DEFAULT_TS_NS,
    make_decision,
    make_envelope,
    make_intent,
    make_oversight_request,
)


def test_default_intent_is_a_valid_one_contract_market_buy() -> None:
    intent = make_intent()
    assert (intent.symbol, intent.side, intent.order_type) == ("ES", Side.BUY, OrderType.MARKET)
    assert intent.quantity == Decimal(1)
    assert intent.claimed_notional == Decimal(100)
    assert intent.ts_event == DEFAULT_TS_NS


def test_intent_overrides_apply_and_money_is_converted_exactly() -> None:
    intent = make_intent(
        side=Side.SELL,
        quantity="0.1",
        order_type=OrderType.LIMIT,
        limit_price=4750,
        reference_price=Decimal("4750.25"),
        intent_id=uuid.UUID(int=9),
    )
    assert intent.side is Side.SELL
    assert intent.quantity == Decimal("0.1")
    assert intent.limit_price == Decimal(4750)
    assert isinstance(intent.limit_price, Decimal)
    assert intent.claimed_notional == Decimal("475.0")
    assert intent.intent_id == uuid.UUID(int=9)


def test_intent_keeps_the_models_own_validation() -> None:
    with pytest.raises(InvalidInput, match=r"intent\.limit_price"):
        make_intent(order_type=OrderType.LIMIT)
    with pytest.raises(InvalidInput, match=r"intent\.quantity"):
        make_intent(quantity=1.5)
    with pytest.raises(InvalidInput, match=r"intent\.limit_price"):
        make_intent(limit_price=100)  # the default MARKET order takes no limit price


@pytest.mark.parametrize(
    ("build", "name"),
    [
        (make_intent, "TradeIntent"),
        (make_decision, "RiskDecision"),
        (make_oversight_request, "OversightRequested"),
    ],
)
def test_an_unknown_override_is_refused_by_name(build: object, name: str) -> None:
    with pytest.raises(TypeError, match=rf"'qty' is not a field of {name}"):
        build(qty=5)  # type: ignore[operator]


def test_unknown_envelope_override_is_refused_by_name() -> None:
    with pytest.raises(TypeError, match="'signer' is not a field of Envelope"):
        make_envelope(make_intent(), topic="t", sender="s", ts_ns=1, signer="x")


def test_decision_defaults_follow_its_intent_and_overrides_apply() -> None:
    intent = make_intent(ts_event=123)
    decision = make_decision(intent=intent)
    assert decision.intent is intent
    assert (decision.verdict, decision.reasons, decision.ts_event) == (Verdict.PERMIT, [], 123)
    assert (decision.principal, decision.phase) == ("", DecisionKind.INTENT)
    denied = make_decision(verdict=Verdict.DENY, reasons=["closed"], ts_event=5)
    assert (denied.verdict, denied.reasons, denied.ts_event) == (Verdict.DENY, ["closed"], 5)
    assert make_decision().reasons is not make_decision().reasons


def test_oversight_request_defaults_follow_its_intent() -> None:
    intent = make_intent(quantity=2, reference_price="60000", ts_event=1_000)
    req = make_oversight_request(intent=intent)
    assert req.trade_amount == Decimal(120_000)
    assert req.created_ns == 1_000
    assert req.timeout_ns == 1_000 + DEFAULT_OVERSIGHT_TIMEOUT_NS
    later = make_oversight_request(intent=intent, created_ns=2_000, trade_amount="5")
    assert later.timeout_ns == 2_000 + DEFAULT_OVERSIGHT_TIMEOUT_NS
    assert later.trade_amount == Decimal(5)


def test_envelope_defaults_and_round_trip() -> None:
    env = make_envelope(make_intent(), topic="trading.intents", sender="trader:t1", ts_ns=7)
    assert env.type == "TradeIntent"
    assert env.correlation_id == env.msg_id
    assert env.idempotency_key == str(env.msg_id)
    assert (env.causation_id, env.intent, env.signature) == (None, MessageIntent.COMMAND, None)
    assert isinstance(decode_envelope(encode_envelope(env)).payload, TradeIntent)
    kill = KillSwitchActivated(reason="drawdown", triggered_by="ops", ts_event=7)
    event = make_envelope(
        kill, topic="k", sender="s", ts_ns=7, ttl_ms=0, intent=MessageIntent.EVENT
    )
    assert event.type == "KillSwitchActivated"
    assert (event.ttl_ms, event.intent) == (0, MessageIntent.EVENT)
    assert decode_envelope(encode_envelope(event)) == event
