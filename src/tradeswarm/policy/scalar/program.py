"""The generic scalar program: one generated Python function for the whole policy set.

The distinct scope tests are computed once, each policy is one ``if`` inside its own
``try`` (an error skips the policy and is reported), and the satisfied policies come back
as a bit mask (``PolicyCore.response`` turns a mask into Cedar's Response). Every type is
checked at run time: this is the tier every other one falls back to. Per-policy functions
serve the batch path's per-row tier.
"""

from __future__ import annotations

from tradeswarm.policy.loader import LoadedPolicies
from tradeswarm.policy.scalar import generic as codegen
from tradeswarm.policy.values import EvalError


def error_message(exc: BaseException) -> str:
    if isinstance(exc, EvalError):
        return str(exc)
    if isinstance(exc, KeyError):
        return f"attribute or entity not found: {exc}"
    return f"{type(exc).__name__}: {exc}"


class ScalarProgram:
    """The generated source, its namespace, the decide function and per-policy functions."""

    def __init__(self, loaded: LoadedPolicies) -> None:
        gen = codegen.Generator()
        self.ids = list(loaded.policies)
        atoms: dict[str, str] = {}
        tests: list[tuple[list[str], str | None]] = []
        for policy in loaded.policies.values():
            scope = []
            for var, name in (("principal", "P"), ("action", "A"), ("resource", "R")):
                scope += codegen.scope_atoms(gen, name, policy[var])
            for atom in scope:
                atoms.setdefault(atom, f"_s{len(atoms)}")
            tests.append((scope, codegen.condition(gen, policy)))
        self.tests = [_test(scope, cond) or "True" for scope, cond in tests]
        self.source = _render(atoms, tests)
        self.namespace = dict(gen.namespace)
        self.namespace["_error_message"] = error_message
        exec(compile(self.source, "<cedar policies>", "exec"), self.namespace)
        self.decide = self.namespace["_decide"]
        self.policy_functions = [self.namespace[f"_policy{i}"] for i in range(len(self.ids))]


def _test(parts: list[str], cond: str | None) -> str | None:
    return " and ".join([*parts, *([f"({cond})"] if cond else [])]) or None


def _render(atoms: dict[str, str], tests: list[tuple[list[str], str | None]]) -> str:
    lines = ["def _decide(P, A, R, C, E):", "    m = 0", "    errs = None"]
    lines += [f"    {name} = {atom}" for atom, name in atoms.items()]
    for i, (scope, cond) in enumerate(tests):
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
        lines += ["", f"def _policy{i}(P, A, R, C, E):", f"    return bool({body})"]
    return "\n".join(lines) + "\n"
