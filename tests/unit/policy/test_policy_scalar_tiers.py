"""Each scalar tier forced, against cedarpy: a disagreement names one backend.

The typed tier is ``decide_prepared`` on a checked request (``scalar.fastpath``), the
generic tier ``decide_generic`` (``scalar.program``); each is compared with cedarpy on the
bundled trading set's sample traffic and on random policies (the property tests'
strategies: typed ones over a schema, untyped ones without).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from property import test_policy_engines_agree as untyped
from property import test_policy_typed_path as typed
from tradeswarm.core.errors import TradeswarmError
from tradeswarm.policy import CompiledPolicySet, PreparedRequest, compile_policies
from tradeswarm.policy.decision import Response
from tradeswarm.policy.entities import EntityStore
from tradeswarm.policy.reference import ReferenceEngine
from tradeswarm.risk.policyset import bundled_text, sample_entities, sample_requests

TRADING = compile_policies(bundled_text("trading.cedar"), bundled_text("trading.cedarschema"))
TRADING_REFERENCE = ReferenceEngine(
    bundled_text("trading.cedar"), bundled_text("trading.cedarschema")
)
RANDOM = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _key(r: Response) -> tuple[Any, ...]:
    return (r.decision, r.reasons, r.error_ids, r.outcome)


def _typed_tier(engine: CompiledPolicySet, request: PreparedRequest, store: EntityStore) -> Any:
    assert request.checked  # so decide_prepared takes the typed tier
    return engine.decide_prepared(request, store)


def _generic_tier(engine: CompiledPolicySet, request: PreparedRequest, store: EntityStore) -> Any:
    return engine.decide_generic(request, store)


TIERS = {"typed": _typed_tier, "generic": _generic_tier}


@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize("seed", [1, 2])
def test_each_tier_agrees_with_cedarpy_on_trading_traffic(tier: str, seed: int) -> None:
    entities = sample_entities()
    store = TRADING.prepare_entities(entities)
    requests = sample_requests(250, seed)
    expected = [_key(r) for r in TRADING_REFERENCE.is_authorized_batch(requests, entities)]
    decide = TIERS[tier]
    got = [_key(decide(TRADING, TRADING.prepare_request(q), store)) for q in requests]
    assert got == expected
    assert len({k[0] for k in expected}) == 2  # the traffic is both allowed and denied


def test_the_typed_tier_generated_code_for_the_trading_traffic() -> None:
    engine = compile_policies(bundled_text("trading.cedar"), bundled_text("trading.cedarschema"))
    store = engine.prepare_entities(sample_entities())
    for request in sample_requests(20, 3):
        _typed_tier(engine, engine.prepare_request(request), store)
    assert engine.fast.sources  # decided by typed code, not handed to the generic tier


def _compiled(text: str, schema: str | None) -> tuple[CompiledPolicySet, ReferenceEngine] | None:
    try:
        reference = ReferenceEngine(text, schema)
    except ValueError:  # text Cedar rejects: the property tests check the compiler does too
        return None
    try:
        return compile_policies(text, schema, validate=False), reference
    except TradeswarmError as exc:  # pragma: no cover - a disagreement, shown as such
        raise AssertionError(f"cedarpy accepts what the compiler refuses: {exc}") from exc


def _text(policies: list[tuple[bool, str]]) -> str:
    return "\n".join(
        f"{'permit' if p else 'forbid'}(principal, action, resource) when {{ {e} }};"
        for p, e in policies
    )


def _request(context: dict[str, Any], who: str = "x") -> dict[str, Any]:
    return {
        "principal": {"type": "U", "id": who},
        "action": {"type": "Action", "id": "go"},
        "resource": {"type": "U", "id": "x"},
        "context": context,
    }


def _agree(tier: str, text: str, schema: str | None, entities: Any, requests: Any) -> None:
    built = _compiled(text, schema)
    if built is None:
        return
    engine, reference = built
    store = engine.prepare_entities(entities)
    expected = [_key(r) for r in reference.is_authorized_batch(requests, entities)]
    got = [_key(TIERS[tier](engine, engine.prepare_request(q), store)) for q in requests]
    assert got == expected, f"the {tier} tier disagrees with cedarpy"


typed_policies = st.lists(st.tuples(st.booleans(), typed.expressions), min_size=1, max_size=3)
typed_cases = st.lists(
    st.tuples(typed.contexts, st.sampled_from(["x", "nobody"])), min_size=1, max_size=4
)


@pytest.mark.parametrize("tier", TIERS)
@RANDOM
@given(policies=typed_policies, cases=typed_cases)
def test_each_tier_agrees_with_cedarpy_on_random_policies_over_a_schema(
    tier: str, policies: list[tuple[bool, str]], cases: list[tuple[dict[str, Any], str]]
) -> None:
    requests = [_request(c, who) for c, who in cases]
    _agree(tier, _text(policies), typed.SCHEMA, typed.ENTITIES, requests)


@RANDOM
@given(
    policies=st.lists(st.tuples(st.booleans(), untyped.expressions), min_size=1, max_size=3),
    contexts=st.lists(untyped.contexts, min_size=1, max_size=4),
)
def test_the_generic_tier_agrees_with_cedarpy_on_random_policies_without_a_schema(
    policies: list[tuple[bool, str]], contexts: list[dict[str, Any]]
) -> None:
    requests = [_request(c) for c in contexts]
    _agree("generic", _text(policies), None, untyped.ENTITIES, requests)
