"""The batch path's generated numpy source: readable when it fails (``# policy <id>`` above
each policy's lines, its own file name in ``linecache`` so tracebacks show the lines), and
every name it reads defined."""

from __future__ import annotations

import ast
import builtins
import gc
import linecache
import traceback
from typing import Any

import pytest

from tradeswarm.policy import compile_policies
from tradeswarm.policy.batch import emit
from tradeswarm.policy.batch.program import BatchProgram, Generated, _comment
from tradeswarm.risk.policyset import bundled_text, sample_entities, sample_requests

POLICIES = """
@id("small")
permit(principal, action, resource) when { context.a + 1 > 2 };
@id("tagged")
forbid(principal, action, resource) when { ["x", "y"].contains(context.s) };
@id("branchy")
permit(principal, action, resource) when { if context.a > 0 then true else false };
"""


def _request(context: dict[str, Any]) -> dict[str, Any]:
    return {
        "principal": {"type": "U", "id": "x"},
        "action": {"type": "Action", "id": "go"},
        "resource": {"type": "U", "id": "x"},
        "context": context,
    }


def _generated(program: BatchProgram) -> Generated:
    (code,) = program.generated.values()
    return code


def _decided(policies: str = POLICIES) -> BatchProgram:
    compiled = compile_policies(policies)
    program = BatchProgram(compiled.core)
    program.decide([_request({"a": 1, "s": "x"})], compiled.prepare_entities([]))
    return program


def test_each_policys_lines_are_headed_by_its_id() -> None:
    code = _generated(_decided())
    lines = code.source.splitlines()
    heads = [line.strip() for line in lines if line.strip().startswith("# policy")]
    assert heads == [
        '# policy policy0 @id("small")',
        '# policy policy1 @id("tagged")',
        '# policy policy2 @id("branchy")',
    ]
    branchy = lines.index('    # policy policy2 @id("branchy")')
    assert lines[branchy + 1] == "    sat, err = fallback[2](b)"  # the closures' call


def test_the_source_is_in_linecache_under_its_own_name_while_the_program_lives() -> None:
    first, second = _generated(_decided()), _generated(_decided())
    assert first.filename != second.filename
    assert first.filename.startswith("<cedar batch ")
    assert linecache.getlines(first.filename) == first.source.splitlines(keepends=True)
    filename = first.filename
    del first, second
    gc.collect()
    assert filename not in linecache.cache


def test_an_error_inside_the_generated_code_shows_the_generated_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(op: str, a: Any, b: Any, n: int) -> Any:
        raise ArithmeticError("a bug in a helper of the generated code")

    monkeypatch.setattr(emit, "checked", broken)
    compiled = compile_policies(POLICIES)
    with pytest.raises(ArithmeticError) as caught:
        compiled.is_authorized_batch([_request({"a": 1, "s": "x"})], [])
    text = "".join(traceback.format_exception(caught.value))
    filename = _generated(compiled.batch).filename
    assert f'File "{filename}", line 3, in _batch' in text
    assert "t1 = _checked('+', cols[0].v, np.int64(1), n)" in text


def _names_read(source: str) -> set[str]:
    tree = ast.parse(source)
    stored = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and n.ctx != ast.Load()}
    args = {a.arg for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) for a in n.args.args}
    loaded = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and n.ctx == ast.Load()}
    return loaded - stored - args - set(dir(builtins))


def test_every_name_the_generated_code_reads_is_defined_and_no_kind_is_a_string() -> None:
    compiled = compile_policies(bundled_text("trading.cedar"), bundled_text("trading.cedarschema"))
    store = compiled.prepare_entities(sample_entities())
    compiled.is_authorized_batch(sample_requests(50, 1), store)
    sources = [*compiled.batch.generated.values(), _generated(_decided())]
    for code in sources:
        assert _names_read(code.source) <= set(code.fn.__globals__), code.filename
        for old in ("'dec'", "'cset'", "'obj'", "'str'", "'long'", "'set'", "Kind."):
            assert old not in code.source
        assert "S[" not in code.source and "Q[" not in code.source and "L[" not in code.source


def test_an_id_with_a_line_break_stays_in_its_comment() -> None:
    code = _generated(_decided('@id("two\nlines\u2028")\npermit(principal, action, resource);'))
    assert code.source.splitlines()[1] == '    # policy policy0 @id("two\\nlines\\u2028")'
    assert _comment("policy\n0", {}) == "# policy 'policy\\n0'"
