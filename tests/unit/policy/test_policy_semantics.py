"""Cedar semantics of the compiled engine, checked expression by expression against cedarpy."""

from __future__ import annotations

from typing import Any

import pytest

from tradeswarm.policy import Decision, PolicyLoadError, compile_policies
from tradeswarm.policy.reference import ReferenceEngine

ENTITIES: list[dict[str, Any]] = [
    {
        "uid": {"type": "User", "id": "alice"},
        "attrs": {"age": 30, "boss": {"__entity": {"type": "User", "id": "bob"}}},
        "parents": [{"type": "Group", "id": "staff"}],
        "tags": {"team": "red"},
    },
    {"uid": {"type": "User", "id": "bob"}, "attrs": {"age": 50}, "parents": []},
    {
        "uid": {"type": "Group", "id": "staff"},
        "attrs": {},
        "parents": [{"type": "Group", "id": "all"}],
    },
]
CONTEXT: dict[str, Any] = {
    "n": 5,
    "big": 9223372036854775807,
    "s": "hello*world",
    "flag": True,
    "tags": ["a", "b"],
    "rec": {"x": 1, "inner": {"y": "z"}},
    "amount": {"__extn": {"fn": "decimal", "arg": "12.5"}},
    "addr": {"__extn": {"fn": "ip", "arg": "10.1.2.3"}},
    "when": {"__extn": {"fn": "datetime", "arg": "2024-01-02T03:04:05Z"}},
}
REQUEST = {
    "principal": {"type": "User", "id": "alice"},
    "action": {"type": "Action", "id": "view"},
    "resource": {"type": "User", "id": "bob"},
    "context": CONTEXT,
}
EXPRESSIONS = [
    "context.n + 1 == 6",
    "context.big + 1 > 0",
    "context.big * 2 == 0 || true",
    "-context.n < 0 && context.n * 3 == 15",
    "context.missing == 1",
    "context has missing || context has rec.inner.y",
    'context.rec.inner.y == "z" && context.rec has x',
    'context.s like "hello\\*world" && context.s like "h*d"',
    'context.tags.contains("a") && context.tags.containsAll(["b"]) && !context.tags.isEmpty()',
    "context.tags.containsAny([1, true])",
    "[1, true] == [true, 1] && [1] != [true]",
    'principal in Group::"all" && !(resource in Group::"all")',
    "principal.boss == resource && principal.boss.age > principal.age",
    "resource.boss.age > 1",
    'principal.hasTag("team") && principal.getTag("team") == "red"',
    'resource.getTag("team") == "red"',
    'context.amount.greaterThan(decimal("12.4999")) &&'
    ' context.amount.lessThanOrEqual(decimal("12.5"))',
    "context.amount.lessThan(1)",
    'context.addr.isInRange(ip("10.0.0.0/8")) && !context.addr.isLoopback()'
    " && context.addr.isIpv4()",
    'context.when.toDate() == datetime("2024-01-02") && context.when.toTime().toSeconds() == 11045',
    'context.when.offset(duration("-1d")) < context.when &&'
    ' context.when.durationSince(datetime("2024-01-01")).toHours() == 27',
    'if context.flag then context.n else "x"',
    "if context.n then true else false",
    'context.s < "z"',
    'decimal("1.23456") == decimal("1.0")',
    'principal is User in Group::"staff"',
    "context.n in [principal]",
    "{a: 1, b: [2]} == {b: [2], a: 1}",
]


def _engines(policy: str) -> tuple[Any, ReferenceEngine]:
    return compile_policies(policy), ReferenceEngine(policy)


def _key(response: Any) -> tuple[Any, ...]:
    return (response.decision, response.reasons, response.error_ids)


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_expression_decides_like_cedarpy_on_both_paths(expression: str) -> None:
    policy = (
        f"permit(principal, action, resource) when {{ {expression} }};\n"
        f"forbid(principal, action, resource) when {{ context.flag && ({expression}) == false }};"
    )
    compiled, reference = _engines(policy)
    expected = _key(reference.is_authorized(REQUEST, ENTITIES))
    assert _key(compiled.is_authorized(REQUEST, ENTITIES)) == expected
    assert _key(compiled.is_authorized_batch([REQUEST, REQUEST], ENTITIES)[1]) == expected


def test_malformed_policy_is_rejected_with_line_and_column() -> None:
    with pytest.raises(PolicyLoadError) as caught:
        compile_policies("permit(principal, action, resource)\nwhen { context.x < };\n")
    assert (caught.value.line, caught.value.column) == (2, 21)
    assert "unexpected token" in str(caught.value)


def test_unknown_attribute_is_a_policy_error_never_a_permit() -> None:
    compiled = compile_policies("permit(principal, action, resource) when { context.nope };")
    for answer in (
        compiled.is_authorized(REQUEST, ENTITIES),
        compiled.is_authorized_batch([REQUEST], ENTITIES)[0],
    ):
        assert answer.decision is Decision.DENY
        assert answer.error_ids == ("policy0",)


def test_wrong_context_type_is_a_policy_error_and_forbid_still_wins() -> None:
    policy = (
        "permit(principal, action, resource);\n"
        "forbid(principal, action, resource) when { context.s > 3 };\n"
        '@oversight("big") forbid(principal, action, resource) when { context.n > 3 };'
    )
    answer = compile_policies(policy).is_authorized(REQUEST, ENTITIES)
    assert answer.decision is Decision.DENY
    assert answer.reasons == ("policy2",)
    assert answer.error_ids == ("policy1",)
    assert answer.outcome.value == "REVIEW"
    assert answer.review_reasons == ("big",)


def test_request_that_is_not_cedar_json_is_refused_naming_the_field() -> None:
    compiled = compile_policies("permit(principal, action, resource);")
    with pytest.raises(Exception, match=r"request\.principal"):
        compiled.is_authorized({**REQUEST, "principal": 7}, ENTITIES)
    with pytest.raises(Exception, match=r"context\.f"):
        compiled.is_authorized({**REQUEST, "context": {"f": 1.5}}, ENTITIES)
