"""The generic scalar tier: one generated Python function for the whole policy set.

It serves every request the typed tier (``scalar.fastpath``) does not: a request whose
context was not made by the schema-directed parser, a set compiled without a schema, and
every fallback of the typed tier. It falls back to nothing: every type is checked at run
time by the generated code (``scalar.generic``) and the runtime helpers, so this is the
tier every other one falls back to. Its per-policy functions serve the batch path's
per-row tier.

The distinct scope tests are computed once, each policy is one ``if`` inside its own
``try`` (an error skips the policy and is reported), and the satisfied policies come back
as a bit mask (``PolicyCore.response`` turns a mask into Cedar's Response).

Generated source is readable when it fails: each policy's lines carry a ``# policy <id>``
comment, and every source is compiled under its own filename registered with
``linecache`` (``exec_generated``), so a traceback through generated code shows its lines.
"""

from __future__ import annotations

import itertools
import linecache
import weakref
from typing import Any

from tradeswarm.policy.est import VARS
from tradeswarm.policy.loader import LoadedPolicies
from tradeswarm.policy.scalar import generic as codegen
from tradeswarm.policy.values import EvalError

_SOURCES = itertools.count(1)


def error_message(exc: BaseException) -> str:
    if isinstance(exc, EvalError):
        return str(exc)
    if isinstance(exc, KeyError):
        return f"attribute or entity not found: {exc}"
    return f"{type(exc).__name__}: {exc}"


def policy_comment(policy_id: str, indent: str = "    ") -> str:
    """``# policy <id>`` (the id quoted when it is not printable on one line)."""
    shown = policy_id if policy_id.isprintable() else repr(policy_id)
    return f"{indent}# policy {shown}"


def exec_generated(
    source: str,
    what: str,
    namespace: dict[str, Any],
    owner: object | None = None,
    detail: str = "",
) -> str:
    """Compile and run generated source under a unique filename (``<cedar WHAT #N>``, or
    ``<cedar WHAT #N: DETAIL>``) registered with ``linecache``, so tracebacks show the
    generated lines; the entry is dropped when ``owner`` (the object holding the generated
    functions) is collected. Returns the filename."""
    filename = f"<cedar {what} #{next(_SOURCES)}{': ' + detail if detail else ''}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    if owner is not None:
        weakref.finalize(owner, linecache.cache.pop, filename, None)
    exec(compile(source, filename, "exec"), namespace)  # our own generated code
    return filename


class ScalarProgram:
    """The generated source, its namespace, the decide function and per-policy functions."""

    def __init__(self, loaded: LoadedPolicies) -> None:
        gen = codegen.Generator()
        self.ids = list(loaded.policies)
        atoms: dict[str, str] = {}
        tests: list[tuple[list[str], str | None]] = []
        for policy in loaded.policies.values():
            scope = []
            for var in ("principal", "action", "resource"):
                scope += codegen.scope_atoms(gen, VARS[var], policy[var])
            for atom in scope:
                atoms.setdefault(atom, f"_s{len(atoms)}")
            tests.append((scope, codegen.condition(gen, policy)))
        self.tests = [_test(scope, cond) or "True" for scope, cond in tests]
        self.source = _render(self.ids, atoms, tests)
        self.namespace = dict(gen.namespace)
        self.namespace["_error_message"] = error_message
        self.filename = exec_generated(self.source, "policies", self.namespace, self)
        self.decide = self.namespace["_decide"]
        self.policy_functions = [self.namespace[f"_policy{i}"] for i in range(len(self.ids))]


def _test(parts: list[str], cond: str | None) -> str | None:
    return " and ".join([*parts, *([f"({cond})"] if cond else [])]) or None


def _render(
    ids: list[str], atoms: dict[str, str], tests: list[tuple[list[str], str | None]]
) -> str:
    lines = ["def _decide(P, A, R, C, E):", "    m = 0", "    errs = None"]
    lines += [f"    {name} = {atom}" for atom, name in atoms.items()]
    for i, (scope, cond) in enumerate(tests):
        lines.append(policy_comment(ids[i]))
        test = _test([atoms[a] for a in scope], cond)
        if test is None:
            lines.append(f"    m |= {1 << i}")
            continue
        lines += [
            "    try:",
            f"        if {test}:",
            f"            m |= {1 << i}",
            "    except Exception as ex:",
            f"        errs = (errs or []) + [({i}, _error_message(ex))]",
        ]
    lines.append("    return m, errs")
    for i, (scope, cond) in enumerate(tests):
        body = _test(scope, cond) or "True"
        lines += ["", policy_comment(ids[i], ""), f"def _policy{i}(P, A, R, C, E):"]
        lines.append(f"    return bool({body})")
    return "\n".join(lines) + "\n"
