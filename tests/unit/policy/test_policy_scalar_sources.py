"""The scalar tiers' generated source: named per policy, registered with ``linecache`` so a
traceback through it shows its lines, and calling only helpers the runtime module has."""

from __future__ import annotations

import contextlib
import gc
import json
import linecache
import re
import tarfile
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from shared_data import SHARED_DATA
from tradeswarm.core.errors import TradeswarmError
from tradeswarm.policy import compile_policies, runtime
from tradeswarm.policy.compiled import CompiledPolicySet
from tradeswarm.policy.scalar import fastpath, generic, program, typed
from tradeswarm.policy.values import Uid
from tradeswarm.risk.policyset import bundled_text, sample_entities, sample_requests

CEDAR = SHARED_DATA / "cedar"
SCHEMA = """
entity G;
entity U in [G] = { lim: Long };
action go appliesTo { principal: [U], resource: [U], context: { a: Long } };
"""
ENTITIES = [{"uid": {"type": "U", "id": "x"}, "attrs": {"lim": 3}, "parents": []}]
POLICIES = (
    "permit(principal, action, resource) when { context.a > 0 };\n"
    'forbid(principal in G::"g", action, resource) when { principal.lim < context.a };'
)
X, GO = Uid(("U", "x")), Uid(("Action", "go"))
RUNTIME_CALL = re.compile(r"_rt\.(\w+)")
SMALL_SCHEMA = 1000  # characters


def _request(a: int) -> dict[str, Any]:
    return {
        "principal": {"type": "U", "id": "x"},
        "action": {"type": "Action", "id": "go"},
        "resource": {"type": "U", "id": "x"},
        "context": {"a": a},
    }


def _traceback_of(call: Callable[[], Any]) -> str:
    """The formatted traceback of the exception ``call`` raises."""
    try:
        call()
    except Exception:
        return traceback.format_exc()
    raise AssertionError("the generated code was expected to raise")


def _line_after(source: str, marker: str) -> str:
    """The generated line after the first line containing ``marker``, stripped."""
    lines = source.splitlines()
    index = next(i for i, line in enumerate(lines) if marker in line)
    return lines[index + 1].strip()


def test_each_policy_of_the_generic_program_is_headed_by_its_id() -> None:
    source = compile_policies(POLICIES).program.source
    assert source.count("# policy policy0") == 2  # in _decide and above _policy0
    assert source.count("# policy policy1") == 2
    assert _line_after(source, "# policy policy1").startswith("try:")
    assert source.index("# policy policy0") < source.index("# policy policy1")


def test_each_policy_of_the_typed_code_is_headed_by_its_id() -> None:
    engine = compile_policies(POLICIES, SCHEMA)
    engine.is_authorized(_request(1), ENTITIES)
    ((key, source),) = engine.fast.sources.items()
    assert key[0] == GO
    assert "    # policy policy0\n" in source and "    # policy policy1\n" in source


def test_policy_ids_that_are_not_printable_stay_on_their_comment_line() -> None:
    assert program.policy_comment("a\nb") == "    # policy 'a\\nb'"
    assert program.policy_comment("p1", "") == "# policy p1"


def test_a_traceback_through_a_generic_policy_function_shows_the_generated_line() -> None:
    engine = compile_policies(POLICIES)
    store = engine.prepare_entities(ENTITIES)
    text = _traceback_of(lambda: engine.program.policy_functions[0](X, GO, X, {}, store))
    assert "KeyError: 'a'" in text  # the policy reads context.a; the context is empty
    assert f'File "{engine.program.filename}"' in text
    assert engine.program.filename.startswith("<cedar policies #")
    assert _line_after(engine.program.source, "def _policy0") in text


def test_a_runtime_helper_raising_in_the_generic_program_shows_the_generated_line() -> None:
    engine = compile_policies(POLICIES)
    text = _traceback_of(lambda: engine.program.decide(X, GO, X, {"a": 1}, None))  # no store
    assert "AttributeError" in text
    scope_line = next(line for line in engine.program.source.splitlines() if "_s0 =" in line)
    assert scope_line.strip() in text  # the generated line calling the helper
    assert "runtime.py" in text and "in in_one" in text  # and the helper itself


def test_a_traceback_through_the_typed_code_shows_the_generated_line() -> None:
    engine = compile_policies(POLICIES, SCHEMA)
    store = engine.prepare_entities(ENTITIES)
    engine.is_authorized(_request(1), store)
    ((fast,),) = (plan.code.values() for plan in engine.fast.plans.values())
    text = _traceback_of(lambda: fast(engine.prepare_request(_request(1)), store, ()))
    assert "ValueError: not enough values to unpack" in text  # the leaves are missing
    assert "<cedar typed policies #" in text and ': Action::"go">' in text
    assert "k0, k1 = K" in text


def test_each_generated_source_has_its_own_filename_dropped_with_its_program() -> None:
    first, second = compile_policies(POLICIES), compile_policies(POLICIES)
    assert first.program.filename != second.program.filename
    name = first.program.filename
    assert linecache.getlines(name) == first.program.source.splitlines(True)
    del first
    gc.collect()
    assert name not in linecache.cache
    assert second.program.filename in linecache.cache


def test_the_scalar_generators_name_only_runtime_functions() -> None:
    """Statically: the helpers named in the generators' text and in their tables."""
    texts = [Path(m.__file__).read_text() for m in (generic, typed, fastpath, program)]
    helpers = {name for text in texts for name in RUNTIME_CALL.findall(text)}
    helpers |= {h for h, _ in generic._COMPARE.values()} | set(generic._ARITH.values())
    helpers |= {h for h, _, _ in generic._BINARY_HELPERS.values()}
    assert {"b", "not_", "neg", "like", "is_empty", "attr", "lt", "add", "contains"} <= helpers
    assert sorted(h for h in helpers if not callable(getattr(runtime, h, None))) == []


# -- every _rt.<name> emitted on Cedar's corpus exists -------------------------------------


def _hand_written() -> Iterator[tuple[str, str | None, Any, list[dict[str, Any]]]]:
    for test in sorted((CEDAR / "tests").rglob("*.json")):
        spec = json.loads(test.read_text())
        if not isinstance(spec, dict) or "policies" not in spec:
            continue
        schema = spec.get("schema")
        yield (
            (CEDAR / spec["policies"]).read_text(),
            (CEDAR / schema).read_text() if schema else None,
            json.loads((CEDAR / spec["entities"]).read_text()),
            spec["requests"],
        )


def _corpus_sample(prefix: str = "0") -> Iterator[tuple[str, str | None, Any, list[Any]]]:
    """The generated corpus's tests whose (sha1) id starts with ``prefix`` (530 of its 3,957
    for "0"); the archive is sorted, so reading stops after them."""
    files: dict[str, bytes] = {}
    with tarfile.open(CEDAR / "corpus-tests-dev.tar.gz") as archive:
        for member in archive:
            name = Path(member.name).name
            if name > prefix and not name.startswith(prefix):
                break
            handle = archive.extractfile(member) if name.startswith(prefix) else None
            if handle is not None:
                files[member.name] = handle.read()
    for name in sorted(n for n in files if n.endswith(".json") and ".entities." not in n):
        spec = json.loads(files[name])
        schema = files.get(spec.get("schema", ""))
        yield (
            files[spec["policies"]].decode(),
            schema.decode() if schema is not None else None,
            json.loads(files[spec["entities"]]),
            spec["requests"],
        )


def _sources(engine: CompiledPolicySet) -> list[str]:
    sources = [engine.program.source, *engine.fast.sources.values()]
    return sources + [plan.leaf_source for plan in engine.fast.plans.values()]


def _generated(case: tuple[str, str | None, Any, list[Any]], decide: bool) -> list[str]:
    """The sources one test's policy set generates: the generic program's, and with
    ``decide`` the typed tier's for the test's requests (the schema probes cost)."""
    policies, schema, entities, requests = case
    try:
        engine = compile_policies(policies, schema, validate=False)
        store = engine.prepare_entities(entities)
    except TradeswarmError:
        return []
    for request in requests if decide else ():
        with contextlib.suppress(TradeswarmError):  # a request the schema refuses
            engine.is_authorized(request, store)  # the typed tier where the request allows
    return _sources(engine)


def test_every_runtime_helper_the_scalar_generators_emit_exists() -> None:
    """The hand-written tests and 530 corpus tests compiled, every other one with a small
    schema decided too (for the typed tier's sources: the schema probes cost; a few large
    schemas take seconds), and the trading set on sample traffic: a few seconds."""
    corpus = list(_corpus_sample())
    sources = [s for case in _hand_written() for s in _generated(case, True)]
    for i, case in enumerate(corpus):
        small = case[1] is not None and len(case[1]) < SMALL_SCHEMA
        sources += _generated(case, small and i % 2 == 0)
    trading = compile_policies(bundled_text("trading.cedar"), bundled_text("trading.cedarschema"))
    store = trading.prepare_entities(sample_entities())
    for request in sample_requests(200, 1):
        trading.is_authorized(request, store)
    sources += _sources(trading)
    called = {name for source in sources for name in RUNTIME_CALL.findall(source)}
    typed = [s for s in sources if s.startswith("def _fast(")]
    assert len(corpus) > 500 and len(typed) > 200
    assert len(called) >= 15  # the scan sees the generators' vocabulary
    assert sorted(n for n in called if not callable(getattr(runtime, n, None))) == []
