"""The kernel tier: its source is readable, its machine code is cached on disk and reused by
a fresh process, and nothing in the cache is trusted blindly (a changed policy set gets a
new kernel, a corrupted file is compiled afresh, a directory others may write is not used);
what it declines or fails to compile goes to the emit tier, and its answers are cedarpy's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from property.test_policy_engines_agree import ENTITIES, key, requests_of
from tradeswarm.policy import compile_policies
from tradeswarm.policy.batch.jit import KernelCache
from tradeswarm.policy.batch.program import TIERS, BatchProgram, Tier
from tradeswarm.policy.reference import ReferenceEngine

POLICIES = """
@id("small")
permit(principal, action, resource) when { context.a + 1 > 2 && context.s != "x" };
@id("tagged")
forbid(principal, action, resource) when { ["x", "y"].contains(context.s) };
@id("listed")
forbid(principal, action, resource) when { context.tags.contains(context.s) };
@id("numbers")
forbid(principal, action, resource) when { [1, 2, true].contains(context.a) };
"""
CONTEXTS = [
    {"a": 1, "s": "z", "tags": ["q"]},
    {"a": 2, "s": "x", "tags": []},
    {"a": 9223372036854775807, "s": "w", "tags": ["w"]},  # a + 1 overflows: an error
    {"a": 5, "s": "y", "tags": ["s", "y"]},
    {"s": "q", "tags": ["q"]},  # no a: an error where it is read
]


def _program(
    cache: KernelCache, policies: str = POLICIES, tiers: tuple[str, ...] = TIERS
) -> tuple[BatchProgram, Any]:
    compiled = compile_policies(policies)
    return BatchProgram(compiled.core, tiers, cache), compiled.prepare_entities(ENTITIES)


def _expected(policies: str = POLICIES, contexts: list[dict[str, Any]] = CONTEXTS) -> list[Any]:
    return [
        key(r)
        for r in ReferenceEngine(policies).is_authorized_batch(requests_of(contexts), ENTITIES)
    ]


def test_the_kernel_decides_as_cedarpy_errors_included(tmp_path: Path) -> None:
    program, store = _program(KernelCache(tmp_path))
    answers = program.decide(requests_of(CONTEXTS), store)
    assert [key(r) for r in answers] == _expected()
    assert program.tier_counts == Counter({Tier.KERNEL: 4 * len(CONTEXTS)})
    assert set(program.plan.values()) == {"kernel"}
    errors = [e.message for e in answers[2].errors]  # Cedar's own message, from the scalar path
    assert errors and "overflow" in errors[0]


def test_the_source_is_a_real_file_in_the_cache_with_a_comment_per_policy(tmp_path: Path) -> None:
    program, store = _program(KernelCache(tmp_path))
    program.decide(requests_of(CONTEXTS), store)
    kernel = program.last.kernel if program.last is not None else None
    assert kernel is not None and kernel.cached
    path = Path(kernel.filename)
    assert path.parent == tmp_path and path.read_text() == kernel.source
    heads = [line.strip() for line in kernel.source.splitlines() if "# policy" in line]
    assert heads == [
        '# policy policy0 @id("small")',
        '# policy policy1 @id("tagged")',
        '# policy policy2 @id("listed")',
        '# policy policy3 @id("numbers")',
    ]
    assert (tmp_path / "__pycache__").is_dir()
    assert (tmp_path / f"{path.stem}.manifest.json").is_file()


_CHILD = """
import json, sys
from tradeswarm.policy import compile_policies
from tradeswarm.policy.batch.jit import KernelCache
from tradeswarm.policy.batch.program import TIERS, BatchProgram
from property.test_policy_engines_agree import ENTITIES, requests_of
policies, contexts, directory = json.loads(sys.argv[1])
compiled = compile_policies(policies)
program = BatchProgram(compiled.core, TIERS, KernelCache(__import__("pathlib").Path(directory)))
answers = program.decide(requests_of(contexts), compiled.prepare_entities(ENTITIES))
kernel = program.last.kernel
print(json.dumps({
    "hits": kernel.hits, "cached": kernel.cached, "file": kernel.filename,
    "decisions": [[r.decision.value, list(r.reasons), list(r.error_ids)] for r in answers],
}))
"""


def _child(directory: Path, policies: str = POLICIES) -> dict[str, Any]:
    """A fresh Python process compiling and running the kernel through ``directory``."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(["tests", *sys.path])}
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps([policies, CONTEXTS, str(directory)])],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=300,
    )
    out: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


def _decisions(expected: list[Any]) -> list[list[Any]]:
    return [[d.value, list(r), list(e)] for d, r, e in expected]


def test_a_fresh_process_loads_the_machine_code_instead_of_compiling(tmp_path: Path) -> None:
    first, second = _child(tmp_path), _child(tmp_path)
    assert first["hits"] == 0 and second["hits"] == 1
    assert first["file"] == second["file"]
    assert first["decisions"] == second["decisions"] == _decisions(_expected())


def test_a_changed_policy_set_gets_a_kernel_of_its_own(tmp_path: Path) -> None:
    changed = POLICIES.replace("context.a + 1 > 2", "context.a + 1 > 3")
    first, other = _child(tmp_path), _child(tmp_path, changed)
    assert other["file"] != first["file"] and other["hits"] == 0
    assert other["decisions"] == _decisions(_expected(changed))


def test_corrupted_machine_code_is_not_loaded_but_compiled_afresh(tmp_path: Path) -> None:
    first = _child(tmp_path)
    stem = Path(first["file"]).stem
    (code,) = (tmp_path / "__pycache__").glob(f"{stem}.*.nbc")
    code.write_bytes(code.read_bytes()[:100] + b"\x00garbage")
    again = _child(tmp_path)
    assert again["hits"] == 0  # the manifest did not match: recompiled
    assert again["decisions"] == first["decisions"]
    assert _child(tmp_path)["hits"] == 1  # and the fresh machine code is trusted again


def test_an_edited_kernel_source_is_replaced_by_the_generated_one(tmp_path: Path) -> None:
    first = _child(tmp_path)
    path = Path(first["file"])
    source = path.read_text()
    path.write_text(source.replace("s |= np.int64(1)", "s |= np.int64(0)"))  # a tampered kernel
    again = _child(tmp_path)
    assert path.read_text() == source and again["hits"] == 0
    assert again["decisions"] == _decisions(_expected())


def test_a_manifest_that_lies_is_caught_by_its_hashes(tmp_path: Path) -> None:
    cache = KernelCache(tmp_path)
    program, store = _program(cache)
    program.decide(requests_of(CONTEXTS), store)
    kernel = program.last.kernel if program.last is not None else None
    assert kernel is not None
    manifest = tmp_path / f"{Path(kernel.filename).stem}.manifest.json"
    listed = json.loads(manifest.read_text())
    manifest.write_text(json.dumps(dict.fromkeys(listed, "0" * 64)))
    again = _child(tmp_path)
    assert again["hits"] == 0 and again["decisions"] == _decisions(_expected())


@pytest.mark.parametrize("problem", ["others may write", "a file", "another owner"])
def test_a_directory_that_is_not_ours_is_not_used_the_kernel_compiles_in_memory(
    tmp_path: Path, problem: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / "kernels"
    if problem == "a file":
        directory.write_text("not a directory")
    else:
        directory.mkdir()
        if problem == "others may write":
            directory.chmod(0o777)
        else:
            monkeypatch.setattr(os, "getuid", lambda: os.stat(directory).st_uid + 1)
    cache = KernelCache(directory)
    assert cache.problem is not None
    program, store = _program(cache)
    assert [key(r) for r in program.decide(requests_of(CONTEXTS), store)] == _expected()
    kernel = program.last.kernel if program.last is not None else None
    assert kernel is not None and not kernel.cached
    assert kernel.filename.startswith("<cedar kernel ")
    if directory.is_dir():
        assert not list(directory.iterdir())  # nothing written there


def test_a_kernel_numba_cannot_compile_leaves_its_policies_to_the_emit_tier(
    tmp_path: Path,
) -> None:
    class Broken(KernelCache):
        def compile(self, source: str) -> Any:
            raise RuntimeError("numba said no\nand more")

    program, store = _program(Broken(tmp_path))
    assert [key(r) for r in program.decide(requests_of(CONTEXTS), store)] == _expected()
    assert set(program.plan.values()) == {"emit (kernel failed: RuntimeError: numba said no)"}
    assert program.tier_counts == Counter({Tier.EMIT: 4 * len(CONTEXTS)})


def test_policies_past_the_masks_bits_go_to_the_emit_tier(tmp_path: Path) -> None:
    effects = ["forbid", "permit"]
    many = "\n".join(
        f"{effects[k % 2]}(principal, action, resource) when {{ context.a > {k % 7} }};"
        for k in range(70)
    )
    contexts = [{"a": k} for k in range(-1, 9)]
    compiled = compile_policies(many)
    program = BatchProgram(compiled.core, TIERS, KernelCache(tmp_path))
    answers = program.decide(requests_of(contexts), compiled.prepare_entities(ENTITIES))
    assert [key(r) for r in answers] == _expected(many, contexts)
    declined = {p for p, entry in program.plan.items() if entry != "kernel"}
    assert declined == {f"policy{k}" for k in range(63, 70)}
    assert (
        program.plan["policy63"]
        == "emit (kernel declined: policy past bit 62 of the kernel's masks)"
    )


def test_strings_the_policies_never_name_get_codes_of_their_own(tmp_path: Path) -> None:
    policies = (
        'permit(principal, action, resource) when { context.s == context.t && context.s != "k" };'
    )
    contexts = [
        {"s": "u", "t": "u"},
        {"s": "u", "t": "v"},
        {"s": "k", "t": "k"},
        {"s": "v", "t": "u"},
    ]
    program, store = _program(KernelCache(tmp_path), policies)
    assert [key(r) for r in program.decide(requests_of(contexts), store)] == _expected(
        policies, contexts
    )
    assert set(program.plan.values()) == {"kernel"}


def test_without_numba_the_kernel_is_declined_and_the_numpy_tiers_decide(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tradeswarm.policy.batch import kernel_run

    monkeypatch.setattr(kernel_run, "numba_available", lambda: False)
    program, store = _program(KernelCache(tmp_path))
    assert [key(r) for r in program.decide(requests_of(CONTEXTS), store)] == _expected()
    assert set(program.plan.values()) == {
        "emit (kernel declined: numba is not installed (pip install numba))"
    }
    assert program.tier_counts == Counter({Tier.EMIT: 4 * len(CONTEXTS)})
    assert not list(tmp_path.iterdir())  # nothing compiled, nothing written
