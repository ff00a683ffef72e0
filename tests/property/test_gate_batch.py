"""``PolicyGate.decide_batch(pairs) == [decide(i, c) for i, c in pairs]``, for every input:
the sampler's bursts over many instruments (PERMITs, DENYs, REVIEWs), with values the grid
or Cedar's range refuses (a ``context_error`` DENY), values of the wrong type (``decide``'s
own exception), instruments that do not match the intent, and each through the kernel, the
numpy tiers and bursts of one. The columns a burst becomes are the typed request's values."""

from __future__ import annotations

import math
import uuid
from decimal import Decimal
from fractions import Fraction
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tradeswarm.model.enums import Verdict
from tradeswarm.model.messages import HumanApproval
from tradeswarm.policy import CompiledPolicySet
from tradeswarm.policy.batch.input import BatchInput
from tradeswarm.policy.entities import EntityStore
from tradeswarm.risk.cedar_values import Rounding
from tradeswarm.risk.engines import make_engine
from tradeswarm.risk.gate import PolicyGate
from tradeswarm.risk.gate_batch import _MONEY_READS, BurstColumns, grid_column
from tradeswarm.risk.limits import EngineKind
from tradeswarm.risk.policyset import (
    MONEY,
    grid_scaled,
    load_bundle,
    sample_draw,
    sample_instruments,
    sample_limits,
    typed_context,
)

BUNDLE, LIMITS = load_bundle(), sample_limits()
ENGINE, PREPARE = make_engine(EngineKind.COMPILED, BUNDLE)
GATES = {
    "kernel": PolicyGate(BUNDLE, ENGINE, LIMITS, PREPARE),
    "numpy": PolicyGate(BUNDLE, ENGINE, LIMITS, PREPARE, batch_tiers=("emit", "closures", "rows")),
    "kernel, bursts of one": PolicyGate(BUNDLE, ENGINE, LIMITS, PREPARE, batch_min=1),
}
REFERENCE = PolicyGate(BUNDLE, ENGINE, LIMITS, PREPARE)
OTHER = sample_instruments()["GOOG"]

#: (context field, a value decide refuses or reads differently)
BAD = {
    "notional": [Decimal("1e20"), Decimal("NaN"), Decimal("-1e16"), float("inf"), 2**70, "1"],
    "equity": [Decimal("922337203685477.5808"), Decimal("-0"), 0.1, 10**15],
    "concentration_after": [Decimal("0.00005"), Decimal("1.2345"), 0.5, float("nan")],
    "price_deviation": [Decimal("1e-30"), Decimal("9E+14"), -1e-300, 5e-324],
    "volatility": [float("nan"), 1e300, -0.0, 0.35, Decimal("0.1"), 7],
    "var_95_after": [float("-inf"), 1e15, 2.5e-5],
    "mark_age_ns": [2**64, -(2**63) - 1, True, 3.5, -1],
    "history_bars": [2**63, None],
    "open_orders": [False, 10**6],
    "now_ns": [2**63 - 1],
    "compliance_status": [5, "blocked", ""],
    "kill_switch": [1, True],
    "halted_symbols": [frozenset({1}), frozenset({"AAPL", "GOOG", "ES"}), frozenset()],
    "principal": [7, "rogue-agent", "trading-agent-03"],
    "instrument": [OTHER],
    "duplicate_of": ["x", ""],
}
_BAD_ITEMS = [(name, value) for name, values in BAD.items() for value in values]


def _approval(decided_ns: Any) -> HumanApproval:
    return HumanApproval(
        request_id=uuid.UUID(int=1), approver="ops", approved=True, decided_ns=decided_ns
    )


_BAD_ITEMS += [("approval", _approval(2**64)), ("approval", _approval(1_704_205_700 * 10**9))]


def _outcome(run: Any) -> Any:
    """What a call gives: its answer, or its exception's type and text."""
    try:
        return run()
    except Exception as exc:
        return (type(exc).__name__, str(exc))


def _pairs(seed: int, size: int, changes: list[tuple[int, int]]) -> list[Any]:
    draw = sample_draw(seed)
    pairs = [draw.intent_and_context(k) for k in range(size)]
    for row, item in changes:
        name, value = _BAD_ITEMS[item % len(_BAD_ITEMS)]
        intent, ctx = pairs[row % size]
        pairs[row % size] = (intent, msgspec.structs.replace(ctx, **{name: value}))
    return pairs


changes = st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 10_000)), max_size=6)


@pytest.mark.parametrize("gate", list(GATES), ids=str)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), size=st.integers(1, 120), changed=changes)
def test_decide_batch_is_decide_pair_by_pair(
    gate: str, seed: int, size: int, changed: list[tuple[int, int]]
) -> None:
    pairs = _pairs(seed, size, changed)
    expected = _outcome(lambda: [REFERENCE.decide(i, c) for i, c in pairs])
    assert _outcome(lambda: GATES[gate].decide_batch(pairs)) == expected


def test_a_burst_is_decided_by_the_kernel_in_one_call_and_agrees_on_every_verdict() -> None:
    pairs = _pairs(3, 400, [])
    engine, prepare = make_engine(EngineKind.COMPILED, BUNDLE)
    gate = PolicyGate(BUNDLE, engine, LIMITS, prepare)
    expected = [REFERENCE.decide(i, c) for i, c in pairs]
    assert gate.decide_batch(pairs) == expected
    assert {v.verdict for v in expected} == set(Verdict)
    program = gate._batch
    assert program is not None and set(program.tier_counts) == {"kernel"}
    assert sum(program.tier_counts.values()) == 400 * len(ENGINE.policy_ids)


def test_verdicts_are_fresh_lists_not_shared_between_rows() -> None:
    pairs = _pairs(5, 64, [])
    verdicts = GATES["kernel"].decide_batch(pairs)
    ids = [id(v.reasons) for v in verdicts]
    assert len(set(ids)) == len(ids)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), size=st.integers(1, 60), changed=changes)
def test_the_columns_are_the_typed_requests_values_row_by_row(
    seed: int, size: int, changed: list[tuple[int, int]]
) -> None:
    pairs = _pairs(seed, size, changed)
    burst = BurstColumns(pairs)
    columns = burst.columns
    batch = BatchInput.from_columns(size, EntityStore(), columns, columns["context"])
    for k, (intent, ctx) in enumerate(pairs):
        if k in burst.slow:
            continue
        assert batch.row_context(k) == typed_context(intent, ctx), k
        assert batch.uid("principal", k) == ("Agent", ctx.principal)
        assert batch.uid("resource", k) == ("Instrument", intent.symbol)


def test_every_money_field_is_read_for_the_columns() -> None:
    assert set(_MONEY_READS) == set(MONEY)


def _grid(values: list[Any], rounding: Rounding) -> list[Any]:
    out = []
    for v in values:
        try:
            out.append(grid_scaled("x", v, rounding))
        except Exception:
            out.append(None)
    return out


def _column(values: list[Any], rounding: Rounding) -> list[Any]:
    scaled, bad = grid_column("x", values, rounding)
    return [None if b else s for s, b in zip(scaled.tolist(), bad.tolist(), strict=True)]


floats = (
    st.floats(allow_nan=True, allow_infinity=True)
    | st.floats(-1e16, 1e16)
    | st.sampled_from([0.35, 0.1, 1e-4, 5e-5, 2.5e-5, -0.0, 5e-324, 9e14, 9.0000001e14])
)
decimals = st.decimals(allow_nan=True, allow_infinity=True, places=None) | st.decimals(
    min_value=-(10**15), max_value=10**15, places=6
)


@settings(max_examples=300, deadline=None)
@given(values=st.lists(floats, min_size=1, max_size=20), rounding=st.sampled_from(list(Rounding)))
def test_a_float_column_is_rounded_onto_the_grid_exactly_as_grid_scaled(
    values: list[float], rounding: Rounding
) -> None:
    assert _column(values, rounding) == _grid(values, rounding)


@settings(max_examples=300, deadline=None)
@given(values=st.lists(decimals, min_size=1, max_size=20), rounding=st.sampled_from(list(Rounding)))
def test_a_decimal_column_is_rounded_onto_the_grid_exactly_as_grid_scaled(
    values: list[Decimal], rounding: Rounding
) -> None:
    assert _column(values, rounding) == _grid(values, rounding)


def test_the_float_grid_is_exact_where_floating_point_products_are_not() -> None:
    values = [0.35, 0.1, 1e-4, -2.5e-5]
    exact = [Fraction(v) * 10_000 for v in values]  # the floats' own binary values
    assert [v * 1e4 for v in values][:3] == [3500.0, 1000.0, 1.0]  # the float products round
    assert _column(values, Rounding.UP) == [math.ceil(x) for x in exact] == [3500, 1001, 2, 0]
    assert _column(values, Rounding.DOWN) == [math.floor(x) for x in exact] == [3499, 1000, 1, -1]
    assert _column([0.5, 0.1], Rounding.EXACT) == [5000, None]


def test_the_compiled_engine_is_what_the_gate_batches_on() -> None:
    assert isinstance(ENGINE, CompiledPolicySet)
