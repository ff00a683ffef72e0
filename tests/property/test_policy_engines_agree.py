"""Random Cedar policies and requests: scalar, batch and cedarpy agree exactly.

The strategies and helpers here (``expressions``, ``contexts``, ``policy_text``,
``requests_of``, ``key``) are reused by ``tests/unit/policy/test_policy_batch_tiers.py``,
which runs the same comparison with the batch path forced into each of its tiers."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tradeswarm.policy import PolicyLoadError, compile_policies
from tradeswarm.policy.batch.input import columns_from_requests
from tradeswarm.policy.reference import ReferenceEngine
from tradeswarm.risk.policyset import bundled_text, sample_entities, sample_requests

ATTRS = ("a", "b", "c", "d")
ENTITIES = [
    {"uid": {"type": "U", "id": "x"}, "attrs": {"lim": 3}, "parents": [{"type": "G", "id": "g"}]},
    {"uid": {"type": "G", "id": "g"}, "attrs": {}, "parents": []},
]

leaf = st.one_of(
    st.sampled_from([f"context.{a}" for a in ATTRS]),
    st.integers(-3, 3).map(str),
    st.sampled_from(["true", "false", '"s"', '"t"', "principal.lim", "9223372036854775807"]),
    st.sampled_from(['decimal("1.5")', "context.e", '["s", 1]', "principal", 'G::"g"']),
)


def _extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    binary = st.tuples(
        inner,
        st.sampled_from(["&&", "||", "==", "!=", "<", ">=", "+", "-", "*", "in"]),
        inner,
    ).map(lambda t: f"({t[0]} {t[1]} {t[2]})")
    unary = st.tuples(st.sampled_from(["!", "-"]), inner).map(lambda t: f"({t[0]}{t[1]})")
    method = st.tuples(
        inner, st.sampled_from(["contains", "greaterThan", "containsAny"]), inner
    ).map(lambda t: f"{t[0]}.{t[1]}({t[2]})")
    cond = st.tuples(inner, inner, inner).map(lambda t: f"(if {t[0]} then {t[1]} else {t[2]})")
    has = st.sampled_from(ATTRS).map(lambda a: f"(context has {a})")
    return st.one_of(binary, unary, method, cond, has)


expressions = st.recursive(leaf, _extend, max_leaves=6)
values = st.one_of(
    st.integers(-4, 4),
    st.integers(2**62, 2**63 - 1),
    st.booleans(),
    st.sampled_from(["s", "t"]),
    st.just({"__extn": {"fn": "decimal", "arg": "2.0"}}),
    st.just(["s"]),
)
contexts = st.dictionaries(st.sampled_from([*ATTRS, "e"]), values, max_size=5)


def key(r: Any) -> tuple[Any, ...]:
    return (r.decision, r.reasons, r.error_ids)


def policy_text(policies: list[tuple[bool, str]]) -> str:
    """One permit (True) or forbid per condition, over every principal, action, resource."""
    return "\n".join(
        f"{'permit' if p else 'forbid'}(principal, action, resource) when {{ {e} }};"
        for p, e in policies
    )


def requests_of(ctxs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One request of U::"x" on itself per context."""
    return [
        {
            "principal": {"type": "U", "id": "x"},
            "action": {"type": "Action", "id": "go"},
            "resource": {"type": "U", "id": "x"},
            "context": c,
        }
        for c in ctxs
    ]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(st.booleans(), expressions), min_size=1, max_size=3),
    st.lists(contexts, min_size=1, max_size=4),
)
def test_random_policies_decide_identically_on_scalar_batch_and_cedarpy(
    policies: list[tuple[bool, str]], ctxs: list[dict[str, Any]]
) -> None:
    text = policy_text(policies)
    try:
        reference = ReferenceEngine(text)
    except ValueError:  # the grammar can write text Cedar rejects: so must the compiler
        with pytest.raises(PolicyLoadError):
            compile_policies(text)
        return
    compiled = compile_policies(text)
    requests = requests_of(ctxs)
    expected = [key(r) for r in reference.is_authorized_batch(requests, ENTITIES)]
    assert [key(compiled.is_authorized(r, ENTITIES)) for r in requests] == expected
    assert [key(r) for r in compiled.is_authorized_batch(requests, ENTITIES)] == expected


@settings(max_examples=8, deadline=None)
@given(st.integers(0, 10_000))
def test_trading_policies_decide_identically_on_scalar_batch_and_cedarpy(seed: int) -> None:
    policies, schema = bundled_text("trading.cedar"), bundled_text("trading.cedarschema")
    compiled, reference = compile_policies(policies, schema), ReferenceEngine(policies, schema)
    entities = sample_entities()
    store = compiled.prepare_entities(entities)
    requests = sample_requests(150, seed)
    expected = [
        (r.decision, r.reasons, r.outcome)
        for r in reference.is_authorized_batch(requests, entities)
    ]
    scalar = [
        (r.decision, r.reasons, r.outcome)
        for r in (compiled.is_authorized(q, store) for q in requests)
    ]
    batch = [
        (r.decision, r.reasons, r.outcome) for r in compiled.is_authorized_batch(requests, store)
    ]
    columnar = compiled.is_authorized_batch(columns_from_requests(requests), store)
    assert scalar == expected
    assert batch == expected
    assert [(r.decision, r.reasons, r.outcome) for r in columnar] == expected
    assert all(v == "emit" for v in compiled.batch_plan().values())  # the whole set emitted
    assert set(compiled.batch.tier_counts) == {"emit"}
