"""The gate's typed request (runtime values, no JSON) is the JSON request, parsed."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradeswarm.core.errors import InvalidInput
from tradeswarm.model.messages import HumanApproval
from tradeswarm.policy import compile_policies
from tradeswarm.risk.cedar_values import Rounding, to_grid
from tradeswarm.risk.engines import make_engine
from tradeswarm.risk.gate import PolicyGate
from tradeswarm.risk.limits import EngineKind
from tradeswarm.risk.policyset import (
    bundled_text,
    grid_scaled,
    load_bundle,
    sample_draw,
    sample_limits,
    to_cedar_request,
    typed_request,
)

ENGINE = compile_policies(bundled_text("trading.cedar"), bundled_text("trading.cedarschema"))
DRAW = sample_draw(11)


def test_the_typed_request_equals_the_parsed_json_request_on_sample_traffic() -> None:
    with_approval = 0
    for k in range(600):
        intent, ctx = DRAW.intent_and_context(k)
        typed = ENGINE.check_typed(typed_request(intent, ctx))
        assert typed is not None and typed.checked
        assert typed == ENGINE.prepare_request(to_cedar_request(intent, ctx))
        with_approval += ctx.approval is not None
    assert with_approval > 0


def test_the_gate_decides_the_same_on_the_typed_and_the_json_request() -> None:
    limits = sample_limits()
    bundle = load_bundle()
    engine, prepare = make_engine(EngineKind.COMPILED, bundle)
    gate = PolicyGate(bundle, engine, limits, prepare)
    for k in range(300):
        intent, ctx = DRAW.intent_and_context(k)
        request = gate.request(intent, ctx)
        assert not isinstance(request, dict)  # the typed entry was taken
        entities = gate.entities_for(ctx.instrument)
        assert engine.is_authorized(request, entities) == engine.is_authorized(
            to_cedar_request(intent, ctx), entities
        )


def test_values_of_the_wrong_type_fall_back_to_json_and_its_refusal() -> None:
    intent, ctx = DRAW.intent_and_context(3)
    odd = msgspec.structs.replace(ctx, compliance_status=7)  # not a string
    assert ENGINE.check_typed(typed_request(intent, odd)) is None
    bundle = load_bundle()
    engine, prepare = make_engine(EngineKind.COMPILED, bundle)
    gate = PolicyGate(bundle, engine, sample_limits(), prepare)
    assert isinstance(gate.request(intent, odd), dict)
    with pytest.raises(InvalidInput) as caught:
        engine.is_authorized(gate.request(intent, odd), gate.entities_for(ctx.instrument))
    assert caught.value.field == "context.compliance_status"


def test_a_value_cedar_cannot_hold_is_refused_by_both_requests_alike() -> None:
    intent, ctx = DRAW.intent_and_context(4)
    huge = msgspec.structs.replace(ctx, equity=Decimal("1e30"))
    late = msgspec.structs.replace(
        ctx, approval=HumanApproval(request_id="r", approved=True, approver="a", decided_ns=2**64)
    )
    for bad in (huge, late):
        with pytest.raises(InvalidInput) as typed:
            typed_request(intent, bad)
        with pytest.raises(InvalidInput) as plain:
            to_cedar_request(intent, bad)
        assert str(typed.value) == str(plain.value)


finite_decimals = st.decimals(allow_nan=False, allow_infinity=False, places=None).filter(
    lambda d: abs(d.adjusted()) < 40
)
numbers = st.one_of(
    finite_decimals,
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.sampled_from(
        [Decimal("922337203685477.5807"), Decimal("922337203685477.58075"), Decimal("-0.00001")]
    ),
)


@settings(max_examples=400, deadline=None)
@given(numbers, st.sampled_from(list(Rounding)))
def test_grid_scaled_is_to_grid_in_ten_thousandths(value: Any, rounding: Rounding) -> None:
    try:
        expected = int(to_grid("x", value, rounding).scaleb(4))
    except InvalidInput as err:
        with pytest.raises(InvalidInput) as caught:
            grid_scaled("x", value, rounding)
        assert str(caught.value) == str(err)
        return
    assert grid_scaled("x", value, rounding) == expected
