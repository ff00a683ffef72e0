"""The typed scalar path (schema-typed context, cached entity leaves) against the generic
generated function and cedarpy, on random policies over a schema and random contexts."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tradeswarm.policy import PolicyLoadError, compile_policies
from tradeswarm.policy.reference import ReferenceEngine

SCHEMA = """
entity G;
entity U in [G] = { lim: Long, dlim: decimal, name: String };
action go appliesTo {
  principal: [U], resource: [U],
  context: { a: Long, b: Bool, d: decimal, s: String, tags: Set<String>,
             r?: { x: Long, y?: decimal } },
};
"""
ENTITIES = [
    {
        "uid": {"type": "U", "id": "x"},
        "attrs": {"lim": 3, "dlim": {"__extn": {"fn": "decimal", "arg": "1.5"}}, "name": "s"},
        "parents": [{"type": "G", "id": "g"}],
    },
    {"uid": {"type": "G", "id": "g"}, "attrs": {}, "parents": []},
]
BIG = "9223372036854775807"

LONG_LEAVES = ["context.a", "context.r.x", "principal.lim", "-2", "0", "3", BIG]
DEC_LEAVES = ["context.d", "context.r.y", "principal.dlim", 'decimal("1.5")']
STR_LEAVES = ["context.s", "principal.name", '"s"', '"t"']
BOOL_LEAVES = [
    "context.b",
    "true",
    "(context has r)",
    "(context has r && context.r has y)",
    '(principal in G::"g")',
]


def _if(c: Any, a: Any, b: Any) -> Any:
    return st.tuples(c, a, b).map(lambda t: f"(if {t[0]} then {t[1]} else {t[2]})")


def _op(left: Any, ops: list[str], right: Any) -> Any:
    return st.tuples(left, st.sampled_from(ops), right).map(lambda t: f"({t[0]} {t[1]} {t[2]})")


longs_e: Any = st.deferred(
    lambda: st.one_of(
        st.sampled_from(LONG_LEAVES),
        _op(longs_e, ["+", "-", "*"], longs_e),
        longs_e.map(lambda e: f"(-{e})"),
        _if(bools_e, longs_e, longs_e),
    )
)
decs_e: Any = st.deferred(
    lambda: st.one_of(st.sampled_from(DEC_LEAVES), _if(bools_e, decs_e, decs_e))
)
strs_e: Any = st.sampled_from(STR_LEAVES)
anys_e = st.one_of(longs_e, decs_e, strs_e, st.sampled_from(["context.tags", "context.r"]))
bools_e: Any = st.deferred(
    lambda: st.one_of(
        st.sampled_from(BOOL_LEAVES),
        _op(bools_e, ["&&", "||"], bools_e),
        bools_e.map(lambda e: f"(!{e})"),
        _op(longs_e, ["<", ">=", "==", "!="], longs_e),
        _op(_op(st.sampled_from(LONG_LEAVES), ["+", "-", "*"], longs_e), ["<", ">="], longs_e),
        st.tuples(decs_e, st.sampled_from(["greaterThan", "lessThanOrEqual"]), decs_e).map(
            lambda t: f"{t[0]}.{t[1]}({t[2]})"
        ),
        _op(strs_e, ["==", "!="], strs_e),
        strs_e.map(lambda e: f"context.tags.contains({e})"),
        strs_e.map(lambda e: f'({e} like "s*")'),
        _if(bools_e, bools_e, bools_e),
        _op(anys_e, ["==", "<", "&&"], anys_e),  # ill-typed now and then: Cedar's errors
    )
)
expressions = bools_e
longs = st.one_of(st.integers(-4, 4), st.integers(2**62, 2**63 - 1), st.just(-(2**63)))
decimals = st.sampled_from(["-1.0", "0.0", "1.5", "2.0001"]).map(
    lambda s: {"__extn": {"fn": "decimal", "arg": s}}
)
records = st.fixed_dictionaries({"x": longs}, optional={"y": decimals})
contexts = st.fixed_dictionaries(
    {
        "a": longs,
        "b": st.booleans(),
        "d": st.one_of(decimals, st.sampled_from(["0.5", "3.0"])),  # a string, as declared
        "s": st.sampled_from(["s", "t", "sx"]),
        "tags": st.lists(st.sampled_from(["s", "t"]), max_size=2),
    },
    optional={"r": records},
)


def _key(r: Any) -> tuple[Any, ...]:
    return (r.decision, r.reasons, r.error_ids)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(st.booleans(), expressions), min_size=1, max_size=3),
    st.lists(st.tuples(contexts, st.sampled_from(["x", "nobody"])), min_size=1, max_size=4),
)
def test_typed_path_matches_generic_and_cedarpy(
    policies: list[tuple[bool, str]], cases: list[tuple[dict[str, Any], str]]
) -> None:
    text = "\n".join(
        f"{'permit' if p else 'forbid'}(principal, action, resource) when {{ {e} }};"
        for p, e in policies
    )
    try:
        reference = ReferenceEngine(text, SCHEMA)
    except ValueError:
        with pytest.raises(PolicyLoadError):
            compile_policies(text, SCHEMA, validate=False)
        return
    compiled = compile_policies(text, SCHEMA, validate=False)
    store = compiled.prepare_entities(ENTITIES)
    requests = [
        {
            "principal": {"type": "U", "id": who},
            "action": {"type": "Action", "id": "go"},
            "resource": {"type": "U", "id": "x"},
            "context": c,
        }
        for c, who in cases
    ]
    expected = [_key(r) for r in reference.is_authorized_batch(requests, ENTITIES)]
    for request, want in zip(requests, expected, strict=True):
        prepared = compiled.prepare_request(request)
        assert prepared.checked
        typed = compiled.decide_prepared(prepared, store)
        generic = compiled.decide_generic(prepared, store)
        assert _key(generic) == want, "the generic tier disagrees with cedarpy"
        assert _key(typed) == want, "the typed tier disagrees with cedarpy"
        assert typed == generic  # messages too
