"""The batch path forced into each of its tiers agrees with cedarpy, so that a disagreement
points at one backend: ``("rows",)`` is the scalar functions row by row (and the batch
plumbing), ``("closures", "rows")`` the closures, ``("emit", "rows")`` the emitted numpy
code, ``("kernel", "rows")`` the numba kernel; the default uses emit, closures and rows,
``KERNEL_SETS`` the kernel in front. Also: the tiers' plan and counts, and the API's
checks."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from property.test_policy_engines_agree import (
    ATTRS,
    ENTITIES,
    contexts,
    expressions,
    key,
    leaf,
    policy_text,
    requests_of,
    values,
)
from tradeswarm.core.errors import ConfigurationError
from tradeswarm.policy import Decision, compile_policies
from tradeswarm.policy.batch.input import columns_from_requests
from tradeswarm.policy.batch.program import DEFAULT_TIERS, TIERS, BatchProgram, Tier
from tradeswarm.policy.compiled import CompiledPolicySet
from tradeswarm.policy.reference import ReferenceEngine
from tradeswarm.risk.policyset import bundled_text, sample_entities, sample_requests

TIER_SETS = [
    ("emit", "closures", "rows"),
    ("emit", "rows"),
    ("closures", "rows"),
    ("rows",),
]
#: The kernel compiles each random policy set with numba (~0.2-1 s): fewer examples.
KERNEL_SETS = [("kernel", "emit", "closures", "rows"), ("kernel", "rows")]
KERNEL_EXAMPLES = 15
_SLOW = [HealthCheck.too_slow, HealthCheck.filter_too_much]
TOP_ENTRY = {
    "kernel": "kernel",
    "emit": "emit",
    "closures": "closures (emit not in tiers)",
    "rows": "rows (emit not in tiers; closures not in tiers)",
}


def _ids(tiers: tuple[str, ...]) -> str:
    return "+".join(tiers)


def _trading() -> tuple[CompiledPolicySet, ReferenceEngine]:
    policies, schema = bundled_text("trading.cedar"), bundled_text("trading.cedarschema")
    return compile_policies(policies, schema), ReferenceEngine(policies, schema)


@pytest.mark.parametrize("tiers", TIER_SETS + KERNEL_SETS, ids=_ids)
def test_each_tier_alone_decides_the_trading_sample_traffic_as_cedarpy(
    tiers: tuple[str, ...],
) -> None:
    compiled, reference = _trading()
    entities = sample_entities()
    store = compiled.prepare_entities(entities)
    requests = sample_requests(300, 7)
    expected = [key(r) for r in reference.is_authorized_batch(requests, entities)]
    program = BatchProgram(compiled.core, tiers)
    assert [key(r) for r in program.decide(requests, store)] == expected
    assert [key(r) for r in program.decide(columns_from_requests(requests), store)] == expected
    # the bundled set fits the best tier allowed, whole: every decision was made there
    decisions = 2 * len(requests) * len(compiled.policy_ids)
    assert program.tier_counts == Counter({tiers[0]: decisions})
    assert set(program.plan.values()) == {TOP_ENTRY[tiers[0]]}


def _agree(text: str, ctxs: list[dict[str, Any]], tiers: tuple[str, ...]) -> None:
    """The batch path limited to ``tiers`` decides as cedarpy, using no other tier."""
    try:
        reference = ReferenceEngine(text)
    except ValueError:  # text Cedar rejects (the engines-agree property checks those)
        return
    requests = requests_of(ctxs)
    expected = [key(r) for r in reference.is_authorized_batch(requests, ENTITIES)]
    compiled = compile_policies(text)
    program = BatchProgram(compiled.core, tiers)
    answers = program.decide(requests, compiled.prepare_entities(ENTITIES))
    assert [key(r) for r in answers] == expected, program.plan
    assert set(program.tier_counts) <= set(tiers)
    assert sum(program.tier_counts.values()) == len(requests) * len(compiled.policy_ids)


policy_lists = st.lists(st.tuples(st.booleans(), expressions), min_size=1, max_size=3)
context_lists = st.lists(contexts, min_size=1, max_size=4)


@pytest.mark.parametrize("tiers", TIER_SETS, ids=_ids)
@settings(max_examples=60, deadline=None, suppress_health_check=_SLOW)
@given(policies=policy_lists, ctxs=context_lists)
def test_each_tier_alone_decides_random_policies_as_cedarpy(
    tiers: tuple[str, ...], policies: list[tuple[bool, str]], ctxs: list[dict[str, Any]]
) -> None:
    _agree(policy_text(policies), ctxs, tiers)


@pytest.mark.parametrize("tiers", KERNEL_SETS, ids=_ids)
@settings(max_examples=KERNEL_EXAMPLES, deadline=None, suppress_health_check=_SLOW)
@given(policies=policy_lists, ctxs=context_lists)
def test_the_kernel_decides_random_policies_as_cedarpy(
    tiers: tuple[str, ...], policies: list[tuple[bool, str]], ctxs: list[dict[str, Any]]
) -> None:
    _agree(policy_text(policies), ctxs, tiers)


# The strict operators the closures take per row (``closures._STRICT``), over values of
# more kinds: records, entities, IP addresses.
strict_leaf = st.one_of(
    leaf,
    st.sampled_from(["context.r", "context.r.f", "context.u", "context.ip", 'U::"x"', '"s"']),
)


def _strict(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    one = inner.map(lambda e: f"({e})")
    two = st.tuples(one, one)
    return st.one_of(
        one.map(lambda e: f'({e} like "s*")'),
        one.map(lambda e: f"({e} is U)"),
        two.map(lambda t: f"({t[0]} is U in {t[1]})"),
        two.map(lambda t: f"({t[0]} in {t[1]})"),
        one.map(lambda e: f"(-{e})"),
        one.map(lambda e: f"{e}.isEmpty()"),
        two.map(lambda t: f"{t[0]}.containsAll({t[1]})"),
        two.map(lambda t: f"{t[0]}.containsAny({t[1]})"),
        two.map(lambda t: f"{{f: {t[0]}, g: {t[1]}}}"),
        two.map(lambda t: f"[{t[0]}, {t[1]}]"),
        one.map(lambda e: f"{e}.f"),
        one.map(lambda e: f"({e} has f)"),
        one.map(lambda e: f"{e}.isLoopback()"),
        one.map(lambda e: f'{e}.isInRange(ip("127.0.0.0/8"))'),
        two.map(lambda t: f"({t[0]} == {t[1]})"),
        two.map(lambda t: f"({t[0]} && {t[1]})"),
        st.tuples(one, one, one).map(lambda t: f"(if {t[0]} then {t[1]} else {t[2]})"),
    )


strict_expressions = st.recursive(strict_leaf, _strict, max_leaves=5)
strict_values = st.one_of(
    values,
    st.just({"f": 1, "g": "s"}),
    st.just({"f": True}),
    st.just({"__entity": {"type": "U", "id": "x"}}),
    st.just([{"__entity": {"type": "G", "id": "g"}}]),
    st.just({"__extn": {"fn": "ip", "arg": "127.0.0.1"}}),
    st.just({"__extn": {"fn": "ip", "arg": "10.1.2.3"}}),
)
strict_contexts = st.dictionaries(
    st.sampled_from([*ATTRS, "e", "r", "u", "ip"]), strict_values, max_size=6
)


@pytest.mark.parametrize("tiers", TIER_SETS, ids=_ids)
@settings(max_examples=60, deadline=None, suppress_health_check=_SLOW)
@given(
    policies=st.lists(st.tuples(st.booleans(), strict_expressions), min_size=1, max_size=3),
    ctxs=st.lists(strict_contexts, min_size=1, max_size=4),
)
def test_each_tier_alone_decides_the_strict_operators_as_cedarpy(
    tiers: tuple[str, ...], policies: list[tuple[bool, str]], ctxs: list[dict[str, Any]]
) -> None:
    _agree(policy_text(policies), ctxs, tiers)


def _program(condition: str, tiers: tuple[str, ...] = DEFAULT_TIERS) -> tuple[BatchProgram, Any]:
    """One permit policy's batch program (limited to ``tiers``) and an empty entity store."""
    compiled = compile_policies(f"permit(principal, action, resource) when {{ {condition} }};")
    return BatchProgram(compiled.core, tiers), compiled.prepare_entities([])


@pytest.mark.parametrize(
    ("condition", "tiers", "entry"),
    [
        ("context.a < 3", DEFAULT_TIERS, "emit"),
        ("context.a < 3", TIERS, "kernel"),
        ("context.a < 3", ("kernel", "rows"), "kernel"),
        ("if context.a then true else false", TIERS, "closures (emit declined: if-then-else)"),
        ("context.a * 2 > 1", DEFAULT_TIERS, "closures (emit declined: *)"),
        ('context.u in G::"g"', DEFAULT_TIERS, "closures (emit declined: in)"),
        ('context.u is U in G::"g"', DEFAULT_TIERS, "rows (closures declined: is ... in)"),
        ("context.a < 3", ("closures", "rows"), "closures (emit not in tiers)"),
        ("context.a < 3", ("emit", "rows"), "emit"),
        ("context.a * 2 > 1", ("emit", "rows"), "rows (emit declined: *; closures not in tiers)"),
        ("context.a < 3", ("rows",), "rows (emit not in tiers; closures not in tiers)"),
    ],
)
def test_the_plan_names_each_policys_tier_and_why(
    condition: str, tiers: tuple[str, ...], entry: str
) -> None:
    assert _program(condition, tiers)[0].plan == {"policy0": entry}


def test_the_plan_follows_the_latest_batch_when_its_kinds_are_not_emitted() -> None:
    program, entities = _program("context.a < 3")
    longs, bools = requests_of([{"a": 1}, {"a": 5}]), requests_of([{"a": True}])
    assert [r.decision for r in program.decide(longs, entities)] == [Decision.ALLOW, Decision.DENY]
    assert program.plan == {"policy0": "emit"}
    assert program.decide(bools, entities)[0].error_ids == ("policy0",)
    assert program.plan == {"policy0": "closures (emit declined: < on bool, long)"}
    assert program.tier_counts == Counter({Tier.EMIT: 2, Tier.CLOSURES: 1})
    program.decide(longs, entities)  # the first signature's code, cached: emitted again
    assert program.plan == {"policy0": "emit"}
    assert program.tier_counts == Counter({Tier.EMIT: 4, Tier.CLOSURES: 1})


def test_an_empty_batch_counts_nothing() -> None:
    program, entities = _program("context.a < 3")
    assert len(program.decide([], entities)) == 0
    assert program.tier_counts == Counter()


@pytest.mark.parametrize(
    "tiers",
    [(), ("emit",), ("closures",), ("emit", "closures"), ("rows", "emit"), ("bogus", "rows")],
    ids=repr,
)
def test_tiers_must_be_an_ordered_subset_ending_with_rows(tiers: tuple[str, ...]) -> None:
    with pytest.raises(ConfigurationError, match="ending with 'rows'"):
        _program("context.a < 3", tiers)


def test_the_plan_says_when_the_kernel_declines_a_signature_and_who_took_it() -> None:
    program, entities = _program("context.a < 3", TIERS)
    longs, bools = requests_of([{"a": 1}, {"a": 5}]), requests_of([{"a": True}])
    assert [r.decision for r in program.decide(longs, entities)] == [Decision.ALLOW, Decision.DENY]
    assert program.plan == {"policy0": "kernel"}
    assert program.decide(bools, entities)[0].error_ids == ("policy0",)
    assert program.plan == {
        "policy0": "closures (kernel declined: < on bool, long; emit declined: < on bool, long)"
    }
    assert program.tier_counts == Counter({Tier.KERNEL: 2, Tier.CLOSURES: 1})


def test_a_policy_the_kernel_declines_takes_the_rows_when_emit_is_left_out() -> None:
    program, entities = _program("context.a < 3", ("kernel", "rows"))
    assert program.decide(requests_of([{"a": True}]), entities)[0].error_ids == ("policy0",)
    assert program.plan == {
        "policy0": "rows (kernel declined: < on bool, long; emit not in tiers;"
        " closures not in tiers)"
    }
