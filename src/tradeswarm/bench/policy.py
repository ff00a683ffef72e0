"""Policy benchmark: the gate's own path per intent next to cedarpy, then the engine's entries.

Traffic is the RiskManager's sampler: ``sample_draw(seed)`` gives ``requests`` (intent,
RiskContext) pairs (the seed's load-test size mix, unknown agents, excluded assets, halts,
stale approvals, off-collar limits, bursts, duplicates); ``to_cedar_request`` of each pair
is ``sample_requests(requests, seed)``. The first ``headline`` pairs (5,000 by default) are
the headline's. Warm-up runs every timed path on ``batch`` other pairs, drawn with seed + 1:
no request is timed on a path that already saw it. One run, fields:

Headline (the first ``headline`` pairs; every one of them timed on both sides):

- ``gate_ns_p50`` / ``gate_ns_p99``: ``PolicyGate.decide(intent, ctx)``, what the
  RiskManager calls: the typed request (``typed_request`` + ``check_typed``), the compiled
  engine and the verdict with its reasons. The gate's entities (the swarm's plus the
  instrument) are prepared once per instrument, as in the RiskManager; the RiskContext is
  given (``build_context`` is not timed).
- ``cedarpy_ns_p50`` / ``cedarpy_ns_p99``: ``cedarpy.is_authorized`` on
  ``to_cedar_request(intent, ctx)`` of the same pairs, with pre-parsed policies, schema and
  entities (the gate's: the swarm's entities plus that intent's instrument). Building the
  request and reading a verdict are not timed on this side.
- ``gate_speedup_vs_cedarpy``: cedarpy p50 / gate p50.
- ``engine_typed_ns_p50`` / ``engine_json_ns_p50``: the gate's request and the engine's
  decision without the verdict, typed (``PolicyGate.request`` + ``is_authorized``) or as
  JSON (``to_cedar_request`` + ``is_authorized``), same pairs (called ``gate_typed_ns_p50``
  / ``gate_json_ns_p50`` before). The run asserts the gate's verdict is the same both ways.

Engine entries (all ``requests``; one store with every sample instrument's entities):

- scalar, one call per request: from Cedar JSON (``scalar_ns_*``: the generated context
  converter, then the typed path), from a prepared request (``scalar_prepared_ns_*``), the
  generic generated function on the same prepared requests (``scalar_generic_ns_*``); the
  JSON -> prepared conversion alone (``json_convert_ns_p50``) next to the interpretive
  parser it replaced (``json_interpret_ns_p50``, on 2,000 requests);
- batch, per decision, percentiles over the ``requests // batch`` batches:
  ``batch_ns_per_decision_*``: ``is_authorized_batch`` on columns built before the clock
  starts (columnar answer); ``batch_incl_columns_ns_per_decision_*``: from the batch's JSON
  requests, ``columns_from_requests`` timed inside; ``batch_responses_ns_per_decision_p50``:
  pre-built columns, every Response built; ``batch_json_ns_per_decision_p50``: the list of
  JSON requests handed to ``is_authorized_batch`` (its own row-wise parsing).

The gate's own bursts (all ``requests`` pairs, in batches of ``batch``; percentiles over the
batches, per decision): ``kernel_ns_per_decision_*``: the batch path with the numba kernel
first, on ``BurstColumns`` built before the clock starts; ``kernel_incl_conversion_ns_per_
decision_*``: the same from the gate's (intent, RiskContext) pairs, ``BurstColumns`` timed
inside (what ``PolicyGate.decide_batch`` does before reading verdicts);
``numpy_incl_conversion_ns_per_decision_*``: the same on the numpy tiers alone (emit,
closures, rows); ``gate_batch_ns_per_decision_*``: ``PolicyGate.decide_batch`` whole, every
verdict with its reasons; ``kernel_speedup_vs_cedarpy_p50`` / ``_p99``: cedarpy's per
decision over the kernel's incl. conversion, at the same percentile;
``gate_batch_agreement``: the fraction of pairs on which ``decide_batch``'s verdict is
``decide``'s; ``kernel_policies``: how many policies the kernel covers for the bursts'
signature (``kernel_plan``: the others' plan entries).

Tiers (counted on a pass of their own after the timed ones, never inside a timing):
``batch_plan``: how many policies each batch tier is built for (``emit``, ``closures``,
``rows``); ``tiers_gate``: which scalar tier decided the gate's headline requests;
``tiers_scalar``: the same for every prepared request; ``tiers_batch``: (policy, request)
decisions per batch tier over every batch of pre-built columns (see
``CompiledPolicySet.tier_counts``).

``agreement``: the fraction of requests on which every path that decided it agrees with
cedarpy (on the gate's entities): scalar and batch on decision and reasons, the gate (the
headline's requests) on its whole verdict, cedarpy's answer read by the gate's own
``verdict_of`` (PERMIT iff cedarpy allows with no error; DENY / REVIEW with the same
reasons). ``agreement_gate``: the gate's alone. ``loadavg_1m_start`` / ``loadavg_1m``: the
machine's load when the run started and ended (timings on a loaded machine are noisy).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import cedarpy
import numpy as np

from tradeswarm.core.errors import InvalidInput
from tradeswarm.model.messages import TradeIntent
from tradeswarm.policy import CompiledPolicySet, Response
from tradeswarm.policy.batch.input import columns_from_requests
from tradeswarm.policy.compiled import DEFAULT_BATCH_TIERS
from tradeswarm.policy.entities import to_uid
from tradeswarm.policy.reference import ReferenceEngine
from tradeswarm.policy.values import Uid
from tradeswarm.risk.context import RiskContext
from tradeswarm.risk.display import display_values
from tradeswarm.risk.engines import make_engine
from tradeswarm.risk.gate import KERNEL_BATCH_TIERS, GateVerdict, PolicyGate
from tradeswarm.risk.gate_batch import BurstColumns
from tradeswarm.risk.limits import EngineKind, RiskLimits
from tradeswarm.risk.policyset import (
    PolicyBundle,
    instrument_entity,
    load_bundle,
    sample_draw,
    sample_entities,
    sample_instruments,
    sample_limits,
    swarm_entities,
    to_cedar_request,
)

HEADLINE = 5_000  # headline pairs: each costs a cedarpy call (~0.3-1.5 ms here)
CEDAR_WARM_UP = 200
T = TypeVar("T")
R = TypeVar("R")
Pair = tuple[TradeIntent, RiskContext]


def _percentiles(samples: list[float]) -> tuple[float, float]:
    arr = np.asarray(samples, dtype=float)
    return float(np.percentile(arr, 50)), float(np.percentile(arr, 99))


def _timed(fn: Callable[[T], R], items: Sequence[T]) -> tuple[list[float], list[R]]:
    """Nanoseconds per call of fn on each item, and its answers."""
    clock = time.perf_counter_ns
    times, answers = [], []
    for item in items:
        start = clock()
        answer = fn(item)
        times.append(float(clock() - start))
        answers.append(answer)
    return times, answers


def _load() -> float | None:
    """The machine's 1-minute load average."""
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _key(response: Any) -> tuple[Any, ...]:
    return (response.decision, response.reasons)


def r_action(request: dict[str, Any]) -> Uid:
    return to_uid(request["action"], "request.action")


@dataclass(frozen=True)
class _Cedar:
    """cedarpy with pre-parsed policies and schema, and the gate's entities per symbol."""

    policies: cedarpy.PolicySet
    schema: cedarpy.Schema
    entities: dict[str, cedarpy.Entities]
    reference: ReferenceEngine  # reads a cedarpy answer as a Response

    @classmethod
    def of(cls, bundle: PolicyBundle, limits: RiskLimits) -> _Cedar:
        schema = cedarpy.Schema.from_str(bundle.schema)
        base = swarm_entities(limits)
        entities = {
            symbol: cedarpy.Entities.from_json_str(
                json.dumps([*base, instrument_entity(instrument, limits)]), schema
            )
            for symbol, instrument in sample_instruments().items()
        }
        policies = cedarpy.PolicySet.from_str(bundle.policies)
        return cls(policies, schema, entities, ReferenceEngine(bundle.policies, bundle.schema))

    def decide(self, request: dict[str, Any]) -> cedarpy.AuthzResult:
        entities = self.entities[request["resource"]["id"]]
        return cedarpy.is_authorized(request, self.policies, entities, self.schema)

    def response(self, answer: cedarpy.AuthzResult) -> Response:
        return self.reference._response(answer)

    def truth(self, requests: list[dict[str, Any]]) -> list[Response]:
        """cedarpy's Responses (untimed: one batch call per instrument)."""
        groups: dict[str, list[int]] = {}
        for i, request in enumerate(requests):
            groups.setdefault(request["resource"]["id"], []).append(i)
        out: dict[int, Response] = {}
        for symbol, rows in groups.items():
            batch = [requests[i] for i in rows]
            answers = cedarpy.is_authorized_batch(
                batch, self.policies, self.entities[symbol], self.schema
            )
            out |= {i: self.response(a) for i, a in zip(rows, answers, strict=True)}
        return [out[i] for i in range(len(requests))]


@dataclass(frozen=True)
class _Rig:
    gate: PolicyGate  # as the RiskManager builds it, over the compiled engine
    engine: CompiledPolicySet  # the gate's engine
    store: Any  # every sample instrument's entities, prepared (scalar and batch paths)
    cedar: _Cedar

    def entities(self, pair: Pair) -> Any:
        return self.gate.entities_for(pair[1].instrument)


def _rig() -> _Rig:
    bundle, limits = load_bundle(), sample_limits()
    engine, prepare = make_engine(EngineKind.COMPILED, bundle)
    if not isinstance(engine, CompiledPolicySet):
        raise AssertionError("the compiled engine kind gave another engine")
    gate = PolicyGate(bundle, engine, limits, prepare)
    for instrument in sample_instruments().values():
        gate.entities_for(instrument)  # prepared once per instrument, as in the RiskManager
    store = engine.prepare_entities(sample_entities())
    return _Rig(gate, engine, store, _Cedar.of(bundle, limits))


def _draw(seed: int, n: int) -> tuple[list[Pair], list[dict[str, Any]]]:
    """n pairs of the seed's stream and their Cedar requests (= sample_requests(n, seed))."""
    draw = sample_draw(seed)
    pairs = [draw.intent_and_context(k) for k in range(n)]
    return pairs, [to_cedar_request(*p) for p in pairs]


def _warm_up(rig: _Rig, pairs: list[Pair], requests: list[dict[str, Any]]) -> None:
    """Every timed path once, on requests that are not timed: the generated code per
    column signature, the entity tables, the interpreter's caches."""
    engine, store, gate = rig.engine, rig.store, rig.gate
    for pair in pairs:
        gate.decide(*pair)
        engine.is_authorized(gate.request(*pair), rig.entities(pair))
        engine.is_authorized(to_cedar_request(*pair), rig.entities(pair))
    for request in requests:
        prepared = engine.prepare_request(request)
        engine.is_authorized(request, store)
        engine.decide_prepared(prepared, store)
        engine.decide_generic(prepared, store)
        engine.context_parser.interpret(request["context"], r_action(request))
    for request in requests[:CEDAR_WARM_UP]:
        rig.cedar.decide(request)
    list(engine.is_authorized_batch(columns_from_requests(requests), store))
    engine.is_authorized_batch(requests, store)


def _headline(
    rig: _Rig, pairs: list[Pair], requests: list[dict[str, Any]]
) -> tuple[dict[str, Any], list[cedarpy.AuthzResult], list[bool]]:
    """The gate's decide and cedarpy, each timed on every one of the same requests; then
    (untimed) whether the gate's verdict is cedarpy's answer read by the gate."""
    gate_times, verdicts = _timed(lambda p: rig.gate.decide(*p), pairs)
    cedar_times, answers = _timed(rig.cedar.decide, requests)
    values = [display_values(i, c, rig.gate.limits) for i, c in pairs]
    agrees = [
        rig.gate.verdict_of(rig.cedar.response(a), shown) == v
        for a, shown, v in zip(answers, values, verdicts, strict=True)
    ]
    g50, g99 = _percentiles(gate_times)
    c50, c99 = _percentiles(cedar_times)
    fields = {
        "gate_ns_p50": round(g50),
        "gate_ns_p99": round(g99),
        "cedarpy_ns_p50": round(c50),
        "cedarpy_ns_p99": round(c99),
        "gate_speedup_vs_cedarpy": round(c50 / g50, 1),
        **_engine_paths(rig, pairs, verdicts, values),
    }
    return fields, answers, agrees


def _engine_paths(
    rig: _Rig, pairs: list[Pair], verdicts: list[GateVerdict], values: list[dict[str, str]]
) -> dict[str, Any]:
    """The gate's request and the engine's decision, typed and as JSON, without the
    verdict; the gate must read the JSON path's answer as the verdict it gave."""
    engine, gate = rig.engine, rig.gate
    typed, _ = _timed(lambda p: engine.is_authorized(gate.request(*p), rig.entities(p)), pairs)
    plain, responses = _timed(
        lambda p: engine.is_authorized(to_cedar_request(*p), rig.entities(p)), pairs
    )
    for pair, shown, verdict, response in zip(pairs, values, verdicts, responses, strict=True):
        if gate.verdict_of(response, shown) != verdict:
            raise AssertionError(f"typed and JSON gate paths disagree on {pair[0].intent_id}")
    return {
        "engine_typed_ns_p50": round(_percentiles(typed)[0]),
        "engine_json_ns_p50": round(_percentiles(plain)[0]),
    }


def _scalar_fields(
    engine: CompiledPolicySet, store: Any, sample: list[dict[str, Any]]
) -> tuple[dict[str, Any], list[tuple[Any, ...]]]:
    """The scalar entries (JSON, prepared, generic, the conversion) and their answers."""
    prepared = [engine.prepare_request(r) for r in sample]
    scalar, _ = _timed(lambda r: engine.is_authorized(r, store), sample)
    typed, answers = _timed(lambda r: engine.decide_prepared(r, store), prepared)
    generic, _ = _timed(lambda r: engine.decide_generic(r, store), prepared)
    convert, _ = _timed(engine.prepare_request, sample)
    parser = engine.context_parser
    interpret, _ = _timed(lambda r: parser.interpret(r["context"], r_action(r)), sample[:2_000])
    s50, s99 = _percentiles(scalar)
    p50, p99 = _percentiles(typed)
    g50, g99 = _percentiles(generic)
    fields = {
        "scalar_ns_p50": round(s50),
        "scalar_ns_p99": round(s99),
        "scalar_prepared_ns_p50": round(p50),
        "scalar_prepared_ns_p99": round(p99),
        "scalar_generic_ns_p50": round(g50),
        "scalar_generic_ns_p99": round(g99),
        "json_convert_ns_p50": round(_percentiles(convert)[0]),
        "json_interpret_ns_p50": round(_percentiles(interpret)[0]),
    }
    return fields, [_key(a) for a in answers]


def _batch_fields(
    engine: CompiledPolicySet, store: Any, sample: list[dict[str, Any]], batch: int
) -> tuple[dict[str, Any], list[tuple[Any, ...]]]:
    """The batch entries, per decision, and the answers of the pre-built columns."""
    chunks = [sample[i : i + batch] for i in range(0, len(sample) - batch + 1, batch)]
    columnar = [columns_from_requests(c) for c in chunks]

    def decide(b: Any) -> Any:
        return engine.is_authorized_batch(b, store)

    plain, results = _timed(decide, columnar)
    with_columns, _ = _timed(lambda c: decide(columns_from_requests(c)), chunks)
    responses, _ = _timed(lambda b: list(decide(b)), columnar)
    from_json, _ = _timed(decide, chunks)
    b50, b99 = _percentiles([t / batch for t in plain])
    w50, w99 = _percentiles([t / batch for t in with_columns])
    fields = {
        "batch_ns_per_decision_p50": round(b50, 1),
        "batch_ns_per_decision_p99": round(b99, 1),
        "batch_incl_columns_ns_per_decision_p50": round(w50, 1),
        "batch_incl_columns_ns_per_decision_p99": round(w99, 1),
        "batch_responses_ns_per_decision_p50": round(_percentiles(responses)[0] / batch, 1),
        "batch_json_ns_per_decision_p50": round(_percentiles(from_json)[0] / batch, 1),
    }
    return fields, [_key(r) for result in results for r in result]


def _per_decision(times: list[float], batch: int, name: str) -> dict[str, float]:
    p50, p99 = _percentiles([t / batch for t in times])
    return {
        f"{name}_ns_per_decision_p50": round(p50, 1),
        f"{name}_ns_per_decision_p99": round(p99, 1),
    }


def _kernel_fields(
    rig: _Rig, warm: list[Pair], pairs: list[Pair], batch: int, cedar: tuple[float, float]
) -> dict[str, Any]:
    """The gate's bursts on the kernel, the numpy tiers and ``decide_batch`` (see the module
    docstring); every path is run once on the warm-up pairs first (compiling the kernel)."""
    kernel = rig.engine.batch_program(KERNEL_BATCH_TIERS)
    numpy = rig.engine.batch_program(DEFAULT_BATCH_TIERS)
    store, gate = rig.store, rig.gate
    chunks = [pairs[i : i + batch] for i in range(0, len(pairs) - batch + 1, batch)]
    for program in (kernel, numpy):
        program.decide(BurstColumns(warm).columns, store)
    gate.decide_batch(warm)
    built = [BurstColumns(c).columns for c in chunks]
    plain, _ = _timed(lambda cols: kernel.decide(cols, store), built)
    with_conversion, _ = _timed(lambda c: kernel.decide(BurstColumns(c).columns, store), chunks)
    on_numpy, _ = _timed(lambda c: numpy.decide(BurstColumns(c).columns, store), chunks)
    whole, verdicts = _timed(gate.decide_batch, chunks)
    one_by_one = [gate.decide(*p) for c in chunks for p in c]
    agree = [a == b for a, b in zip((v for vs in verdicts for v in vs), one_by_one, strict=True)]
    fields = {
        **_per_decision(plain, batch, "kernel"),
        **_per_decision(with_conversion, batch, "kernel_incl_conversion"),
        **_per_decision(on_numpy, batch, "numpy_incl_conversion"),
        **_per_decision(whole, batch, "gate_batch"),
    }
    k50 = fields["kernel_incl_conversion_ns_per_decision_p50"]
    k99 = fields["kernel_incl_conversion_ns_per_decision_p99"]
    code = kernel.last.kernel if kernel.last is not None else None
    return {
        **fields,
        "kernel_speedup_vs_cedarpy_p50": round(cedar[0] / k50, 1),
        "kernel_speedup_vs_cedarpy_p99": round(cedar[1] / k99, 1),
        "gate_batch_agreement": sum(agree) / len(agree),
        "kernel_policies": len(code.covered) if code is not None else 0,
        "kernel_plan": {p: e for p, e in kernel.plan.items() if e != "kernel"},
    }


def _tier_fields(
    rig: _Rig, pairs: list[Pair], sample: list[dict[str, Any]], batch: int
) -> dict[str, Any]:
    """Which tier decided how many requests on the gate's, the scalar and the batch path."""
    engine = rig.engine
    plan = Counter(entry.split(" ", 1)[0] for entry in engine.batch_plan().values())
    engine.count_tiers()
    for pair in pairs:
        rig.gate.decide(*pair)
    gate = engine.tier_counts()
    engine.count_tiers()
    for request in sample:
        engine.decide_prepared(engine.prepare_request(request), rig.store)
    scalar = engine.tier_counts()
    engine.count_tiers()
    for i in range(0, len(sample) - batch + 1, batch):
        engine.is_authorized_batch(columns_from_requests(sample[i : i + batch]), rig.store)
    return {
        "batch_plan": dict(plan),
        "tiers_gate": gate,
        "tiers_scalar": scalar,
        "tiers_batch": engine.tier_counts(),
    }


def _agreement(
    truth: list[Response], scalar: list[Any], batch: list[Any], gate: list[bool]
) -> dict[str, float]:
    """Every path that decided a request against cedarpy's answer to it."""
    agree = [
        scalar[i] == key and (i >= len(batch) or batch[i] == key) and (i >= len(gate) or gate[i])
        for i, key in enumerate(_key(t) for t in truth)
    ]
    return {"agreement": sum(agree) / len(agree), "agreement_gate": sum(gate) / len(gate)}


def run_policy_bench(
    requests: int = 20_000, batch: int = 1_000, seed: int = 7, headline: int = HEADLINE
) -> dict[str, Any]:
    """The gate's path vs cedarpy on the headline pairs, then the engine's scalar and
    batch entries on all requests (see the module docstring, field by field)."""
    if requests < batch or batch < 1:
        raise InvalidInput("requests", requests, f"need at least one batch of {batch}")
    if headline < 1:
        raise InvalidInput("headline", headline, "need at least one request")
    load_start, rig = _load(), _rig()
    warm, warm_requests = _draw(seed + 1, batch)
    _warm_up(rig, warm, warm_requests)
    pairs, sample = _draw(seed, requests)
    n = min(headline, requests)
    head, answers, gate_agrees = _headline(rig, pairs[:n], sample[:n])
    scalar, scalar_answers = _scalar_fields(rig.engine, rig.store, sample)
    batched, batch_answers = _batch_fields(rig.engine, rig.store, sample, batch)
    cedar = (float(head["cedarpy_ns_p50"]), float(head["cedarpy_ns_p99"]))
    kernel = _kernel_fields(rig, warm, pairs, batch, cedar)
    truth = [rig.cedar.response(a) for a in answers] + rig.cedar.truth(sample[n:])
    return {
        "bench": "policy",
        "policies": len(rig.engine.policy_ids),
        "requests": requests,
        "headline": n,
        "batch": batch,
        **head,
        **scalar,
        **batched,
        **kernel,
        **_agreement(truth, scalar_answers, batch_answers, gate_agrees),
        **_tier_fields(rig, pairs[:n], sample, batch),
        "loadavg_1m_start": load_start,
        "loadavg_1m": _load(),
    }
