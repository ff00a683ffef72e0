"""Policy benchmark: the trading policy set on realistic requests, compiled vs cedarpy.

Requests come from the RiskManager's sampler (``sample_requests``): the seed's load-test
size mix, unknown agents, excluded assets, halts, stale approvals. Measured in one run on
the same requests and entities:

- scalar: one ``is_authorized`` per request, from Cedar JSON (``scalar_ns_*``: the
  generated context converter, then the typed path), from an already prepared request
  (``scalar_prepared_ns_*``: the typed path) and the generic generated function on the same
  prepared requests (``scalar_generic_ns_*``); the JSON -> prepared conversion alone
  (``json_convert_ns_p50``) next to the interpretive schema-directed parser it replaced
  (``json_interpret_ns_p50``);
- the gate's request: ``typed_request`` + ``check_typed`` + decide (``gate_typed_ns_p50``)
  against ``to_cedar_request`` + ``is_authorized`` (``gate_json_ns_p50``), both from the
  same (intent, RiskContext) pairs (the RiskManager's rounding onto the decimal grid
  included);
- batch: ``is_authorized_batch`` on batches of ``batch`` requests in the columnar form
  (``batch_ns_per_decision_*``, percentiles over batches; the answer is columnar: the
  decisions and per-policy satisfied / errored bit masks), the same with every Response
  object built (``batch_responses_ns_per_decision_p50``), and from Cedar JSON requests
  (``batch_json_ns_per_decision_p50``, which includes parsing the JSON);
- cedarpy: ``is_authorized`` per request with pre-parsed policies, schema and entities.

``agreement`` is the fraction of requests on which scalar and batch both give cedarpy's
decision and reasons.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cedarpy
import numpy as np

from tradeswarm.core.errors import InvalidInput
from tradeswarm.policy import compile_policies
from tradeswarm.policy.batchinput import columns_from_requests
from tradeswarm.policy.entities import to_uid
from tradeswarm.policy.reference import ReferenceEngine
from tradeswarm.policy.values import Uid
from tradeswarm.risk.policyset import (
    bundled_text,
    instrument_entity,
    sample_draw,
    sample_entities,
    sample_instruments,
    sample_limits,
    sample_requests,
    swarm_entities,
    to_cedar_request,
    typed_request,
)


def _percentiles(samples: list[float]) -> tuple[float, float]:
    arr = np.asarray(samples, dtype=float)
    return float(np.percentile(arr, 50)), float(np.percentile(arr, 99))


def _per_call(fn: Callable[[Any], Any], items: list[Any]) -> list[float]:
    clock = time.perf_counter_ns
    out = []
    for item in items:
        start = clock()
        fn(item)
        out.append(float(clock() - start))
    return out


def _per_batch(fn: Callable[[Any], Any], batches: list[Any], size: int) -> list[float]:
    clock = time.perf_counter_ns
    out = []
    for batch in batches:
        start = clock()
        fn(batch)
        out.append((clock() - start) / size)
    return out


def _load() -> float | None:
    """The machine's 1-minute load average (timings on a loaded machine are noisy)."""
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _key(response: Any) -> tuple[Any, ...]:
    return (response.decision, response.reasons)


def r_action(request: dict[str, Any]) -> Uid:
    return to_uid(request["action"], "request.action")


def _gate_timings(engine: Any, n: int, seed: int) -> tuple[list[float], list[float]]:
    """The gate's request and decision, typed and as JSON, on the same intents."""
    draw = sample_draw(seed)
    pairs = [draw.intent_and_context(k) for k in range(n)]
    limits = sample_limits()
    stores = {
        s: engine.prepare_entities([*swarm_entities(limits), instrument_entity(i, limits)])
        for s, i in sample_instruments().items()
    }

    def typed(pair: Any) -> Any:
        request = engine.check_typed(typed_request(*pair))
        return engine.decide_prepared(request, stores[pair[0].symbol])

    def plain(pair: Any) -> Any:
        return engine.is_authorized(to_cedar_request(*pair), stores[pair[0].symbol])

    for pair in pairs[:200]:
        if typed(pair) != plain(pair):
            raise AssertionError("typed and JSON gate requests decided differently")
    return _per_call(typed, pairs), _per_call(plain, pairs)


def _scalar_fields(
    engine: Any, store: Any, sample: list[Any], prepared: list[Any], seed: int
) -> dict[str, Any]:
    """The scalar timings: from JSON, prepared (typed), generic, the conversion, the gate."""
    n = len(sample)
    scalar = _per_call(lambda r: engine.is_authorized(r, store), sample)
    typed = _per_call(lambda r: engine.decide_prepared(r, store), prepared)
    generic = _per_call(lambda r: engine.decide_generic(r, store), prepared)
    convert = _per_call(engine.prepare_request, sample)
    parser = engine.context_parser
    interpret = _per_call(
        lambda r: parser.interpret(r["context"], r_action(r)), sample[: min(n, 2_000)]
    )
    gate_typed, gate_json = _gate_timings(engine, min(n, 5_000), seed)
    s50, s99 = _percentiles(scalar)
    p50, p99 = _percentiles(typed)
    g50, g99 = _percentiles(generic)
    return {
        "scalar_ns_p50": round(s50),
        "scalar_ns_p99": round(s99),
        "scalar_prepared_ns_p50": round(p50),
        "scalar_prepared_ns_p99": round(p99),
        "scalar_generic_ns_p50": round(g50),
        "scalar_generic_ns_p99": round(g99),
        "json_convert_ns_p50": round(_percentiles(convert)[0]),
        "json_interpret_ns_p50": round(_percentiles(interpret)[0]),
        "gate_typed_ns_p50": round(_percentiles(gate_typed)[0]),
        "gate_json_ns_p50": round(_percentiles(gate_json)[0]),
    }


def run_policy_bench(requests: int = 20_000, batch: int = 1_000, seed: int = 7) -> dict[str, Any]:
    """Measure the compiled engine (scalar and batch) and cedarpy on the trading policies."""
    if requests < batch or batch < 1:
        raise InvalidInput("requests", requests, f"need at least one batch of {batch}")
    policies, schema = bundled_text("trading.cedar"), bundled_text("trading.cedarschema")
    engine = compile_policies(policies, schema)
    entities = sample_entities()
    store = engine.prepare_entities(entities)
    sample = sample_requests(requests, seed)
    prepared = [engine.prepare_request(r) for r in sample]
    chunks = [sample[i : i + batch] for i in range(0, requests - batch + 1, batch)]
    columnar = [columns_from_requests(c) for c in chunks]

    def decide_prepared(r: Any) -> Any:
        return engine.decide_prepared(r, store)

    def decide_batch(b: Any) -> Any:
        return engine.is_authorized_batch(b, store)

    for chunk in columnar:  # warm up: entity tables and the generated code per signature
        decide_batch(chunk)
    scalar_fields = _scalar_fields(engine, store, sample, prepared, seed)
    batched = _per_batch(decide_batch, columnar, batch)
    with_responses = _per_batch(lambda b: list(decide_batch(b)), columnar, batch)
    batched_json = _per_batch(decide_batch, chunks, batch)

    cedar_policies = cedarpy.PolicySet.from_str(policies)
    cedar_schema = cedarpy.Schema.from_str(schema)
    cedar_entities = cedarpy.Entities.from_json_str(json.dumps(entities), cedar_schema)
    reference = ReferenceEngine(policies, schema)
    cedar_reqs = [reference._cedar_request(r) for r in sample]

    def decide_cedar(r: Any) -> Any:
        return cedarpy.is_authorized(r, cedar_policies, cedar_entities, cedar_schema)

    cedar_times = _per_call(decide_cedar, cedar_reqs[: min(requests, 5_000)])
    truth = [_key(r) for r in reference.is_authorized_batch(sample, entities)]
    scalar_answers = [_key(decide_prepared(p)) for p in prepared]
    batch_answers = [_key(r) for c in columnar for r in decide_batch(c)]
    agree = sum(
        1
        for i, t in enumerate(truth)
        if scalar_answers[i] == t and (i >= len(batch_answers) or batch_answers[i] == t)
    )
    b50, b99 = _percentiles(batched)
    j50, _ = _percentiles(batched_json)
    r50, _ = _percentiles(with_responses)
    c50, c99 = _percentiles(cedar_times)
    return {
        "bench": "policy",
        "policies": len(engine.policy_ids),
        "vectorized": sum(1 for v in engine.batch_plan().values() if v == "vectorized"),
        "requests": requests,
        "batch": batch,
        **scalar_fields,
        "batch_ns_per_decision_p50": round(b50, 1),
        "batch_ns_per_decision_p99": round(b99, 1),
        "batch_responses_ns_per_decision_p50": round(r50, 1),
        "batch_json_ns_per_decision_p50": round(j50, 1),
        "cedarpy_ns_p50": round(c50),
        "cedarpy_ns_p99": round(c99),
        "speedup_vs_cedarpy": round(c50 / b50, 1),
        "speedup_scalar_vs_cedarpy": round(c50 / scalar_fields["scalar_ns_p50"], 1),
        "agreement": agree / len(truth),
        "loadavg_1m": _load(),
    }
