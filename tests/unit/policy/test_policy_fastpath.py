"""The typed scalar path and the generated context converters: same answers, same errors,
as the generic generated function, the interpretive parser and cedarpy."""

from __future__ import annotations

from typing import Any

import pytest

from tradeswarm.core.errors import InvalidInput
from tradeswarm.policy import PreparedRequest, compile_policies
from tradeswarm.policy.kinds import Kind
from tradeswarm.policy.reference import ReferenceEngine
from tradeswarm.policy.values import Uid
from tradeswarm.risk.policyset import bundled_text, sample_entities, sample_requests

SCHEMA = """
entity G;
entity U in [G] = { lim: Long, name: String };
action go, grouped in [Action::"all"] appliesTo {
  principal: [U], resource: [U],
  context: { a: Long, d: decimal, r?: { x: Long } },
};
action all;
"""
ENTITIES = [
    {"uid": {"type": "U", "id": "x"}, "attrs": {"lim": 3, "name": "s"}, "parents": []},
]
GO = Uid(("Action", "go"))


def _request(context: dict[str, Any], who: str = "x", action: str = "go") -> dict[str, Any]:
    return {
        "principal": {"type": "U", "id": who},
        "action": {"type": "Action", "id": action},
        "resource": {"type": "U", "id": "x"},
        "context": context,
    }


def _both(policies: str, request: dict[str, Any]) -> tuple[Any, Any]:
    engine = compile_policies(policies, SCHEMA, validate=False)
    store = engine.prepare_entities(ENTITIES)
    prepared = engine.prepare_request(request)
    assert prepared.checked
    typed = engine.decide_prepared(prepared, store)
    assert typed == engine.decide_generic(prepared, store)
    reference = ReferenceEngine(policies, SCHEMA).is_authorized(request, ENTITIES)
    assert (typed.decision, typed.reasons, typed.error_ids) == (
        reference.decision,
        reference.reasons,
        reference.error_ids,
    )
    return typed, engine


@pytest.mark.parametrize(
    ("expr", "a"),
    [
        ("context.a + 1 > 0", 2**63 - 1),
        ("context.a - 2 < 0", -(2**63) + 1),
        ("context.a * 2 > 0", 2**62),
        ("-context.a > 0", -(2**63)),
        ("context.a + 1 > 0", 5),
    ],
)
def test_typed_arithmetic_overflows_exactly_where_cedar_does(expr: str, a: int) -> None:
    policy = f"permit(principal, action, resource) when {{ {expr} }};"
    got, _ = _both(policy, _request({"a": a, "d": "1.0"}))
    if a != 5:
        assert got.errors[0].message.startswith("integer overflow")


def test_an_absent_optional_record_errors_like_the_generic_path() -> None:
    policy = "permit(principal, action, resource) when { context.r.x > 0 };"
    got, _ = _both(policy, _request({"a": 1, "d": "1.0"}))
    assert got.error_ids == ("policy0",)
    got, _ = _both(policy, _request({"a": 1, "d": "1.0", "r": {"x": 2}}))
    assert got.allowed


def test_an_unknown_principal_takes_the_generic_test_for_its_policies() -> None:
    policy = (
        "permit(principal, action, resource) when { principal.lim > context.a };\n"
        'permit(principal, action, resource) when { context.d.greaterThan(decimal("0.5")) };'
    )
    got, engine = _both(policy, _request({"a": 1, "d": "1.0"}, who="nobody"))
    assert got.reasons == ("policy1",) and got.error_ids == ("policy0",)
    assert any(Kind.ERR in signature for _, signature in engine.fast.sources)


def test_action_groups_are_read_from_the_entities() -> None:
    policy = 'permit(principal, action in Action::"all", resource) when { context.a > 0 };'
    got, _ = _both(policy, _request({"a": 1, "d": "1.0"}))
    assert got.allowed


def test_an_unchecked_prepared_request_takes_the_generic_path() -> None:
    policy = "permit(principal, action, resource) when { context.a > 0 };"
    engine = compile_policies(policy, SCHEMA)
    store = engine.prepare_entities(ENTITIES)
    wrong = PreparedRequest(Uid(("U", "x")), GO, Uid(("U", "x")), {"a": "1"})
    assert not wrong.checked
    got = engine.decide_prepared(wrong, store)
    assert got.error_ids == ("policy0",) and "type error" in got.errors[0].message


def test_the_generated_converter_gives_the_interpretive_parsers_values() -> None:
    engine = compile_policies(bundled_text("trading.cedar"), bundled_text("trading.cedarschema"))
    parser = engine.context_parser
    action = Uid(("Action", "SubmitTrade"))
    for request in sample_requests(300, 3):
        context = request["context"]
        assert parser.parse(context, action) == parser.interpret(context, action)


@pytest.mark.parametrize(
    ("attribute", "value"),
    [
        ("trade_amount", {"__extn": {"fn": "decimal", "arg": "1.23456"}}),
        ("trade_amount", "12"),
        ("trade_amount", 12),
        ("now_ns", 2**63),
        ("now_ns", True),
        ("kill_switch", 0),
        ("halted_symbols", "AAPL"),
        ("human_approval", {"approved": "yes", "approver": "a", "decided_ns": 1}),
        ("surprise", 1),
    ],
)
def test_the_converter_refuses_what_the_interpretive_parser_refuses(
    attribute: str, value: Any
) -> None:
    engine = compile_policies(bundled_text("trading.cedar"), bundled_text("trading.cedarschema"))
    context = {**sample_requests(1, 5)[0]["context"], attribute: value}
    action = Uid(("Action", "SubmitTrade"))
    with pytest.raises(InvalidInput) as slow:
        engine.context_parser.interpret(context, action)
    with pytest.raises(InvalidInput) as fast:
        engine.context_parser.parse(context, action)
    assert (fast.value.field, fast.value.value, str(fast.value)) == (
        slow.value.field,
        slow.value.value,
        str(slow.value),
    )
    assert fast.value.field.startswith(f"context.{attribute}")


def test_trading_requests_decide_identically_typed_and_generic() -> None:
    engine = compile_policies(bundled_text("trading.cedar"), bundled_text("trading.cedarschema"))
    store = engine.prepare_entities(sample_entities())
    for request in sample_requests(400, 8):
        prepared = engine.prepare_request(request)
        assert prepared.checked
        assert engine.decide_prepared(prepared, store) == engine.decide_generic(prepared, store)
