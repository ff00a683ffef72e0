"""The generic scalar code generator: Cedar's JSON syntax tree (EST, from cedarpy) -> Python.

It writes the generic tier's code (``scalar.program``): the tier every other one falls
back to, so it falls back to nothing; it compiles every construct, and a construct it does
not know is a ``ConfigurationError`` when the policy set is compiled. The typed generator
(``scalar.typed``) takes its expression for every node it declines, and the batch path's
closure and per-row tiers evaluate its expressions.

Each expression becomes one Python expression: ``&&`` / ``||`` / if-then-else are Python's
own short-circuits, constant subtrees are folded at compile time, and type checks are
skipped where the operand's kind (``kinds.Kind``) is known. Anything Cedar calls an
evaluation error raises inside the expression; the caller's per-policy ``try`` turns it
into a reported error. Helpers are called as ``_rt.<name>`` (``tradeswarm.policy.runtime``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tradeswarm.core.errors import ConfigurationError
from tradeswarm.policy import runtime
from tradeswarm.policy.entities import from_json, to_uid
from tradeswarm.policy.est import VARS
from tradeswarm.policy.kinds import Kind, kind_of
from tradeswarm.policy.values import DateTime, Decimal, Duration, EvalError, IpAddr, Uid, ceq

_VAR_KINDS = {"P": Kind.ENTITY, "A": Kind.ENTITY, "R": Kind.ENTITY, "C": Kind.RECORD}
_COMPARE = {"<": ("lt", "<"), "<=": ("le", "<="), ">": ("gt", ">"), ">=": ("ge", ">=")}
_ARITH = {"+": "add", "-": "sub", "*": "mul"}
_BINARY_HELPERS = {
    "contains": ("contains", Kind.BOOL, False),
    "containsAll": ("contains_all", Kind.BOOL, False),
    "containsAny": ("contains_any", Kind.BOOL, False),
    "getTag": ("get_tag", Kind.ANY, True),
    "hasTag": ("has_tag", Kind.BOOL, True),
}
#: Constants whose Python ``==`` is Cedar's ``==`` against any value (false across types).
_PY_EQ = frozenset({str, Uid, Decimal, IpAddr, DateTime, Duration})


@dataclass(frozen=True, slots=True)
class Code:
    """A compiled expression: Python source, its kind (``ANY`` when not known), whether it
    is constant, and (for a constant) whether Python's ``==`` on it is Cedar's."""

    src: str
    ty: Kind = Kind.ANY
    const: bool = False
    py_eq: bool = False


class Generator:
    """Compiles EST nodes; collects the constants the source refers to.

    ``namespace``: start from a copy of another generator's (so constant names stay
    unique when both generators' code meets); ``temp_prefix``: the walrus temporaries'
    names (distinct prefixes keep two generators' temporaries apart)."""

    def __init__(self, namespace: dict[str, Any] | None = None, temp_prefix: str = "_t") -> None:
        self.namespace: dict[str, Any] = (
            dict(namespace)
            if namespace is not None
            else {"_rt": runtime, "_ceq": ceq, "EvalError": EvalError}
        )
        self._temp_prefix = temp_prefix
        self._temps = 0

    def const(self, value: Any) -> Code:
        kind = type(value)
        ty = kind_of(value)
        if kind is bool or kind is str or kind is int:
            return Code(f"({value!r})", ty, True, kind is str)
        name = f"_k{len(self.namespace)}"
        self.namespace[name] = value
        return Code(name, ty, True, kind in _PY_EQ)

    def temp(self) -> str:
        self._temps += 1
        return f"{self._temp_prefix}{self._temps}"

    def fold(self, code: Code) -> Code:
        """Evaluate a constant expression now; keep the code if it errors at run time."""
        try:
            value = eval(code.src, self.namespace, {"E": {}})  # folds our own generated source
        except Exception:
            return Code(code.src, code.ty, False)
        return self.const(value)

    def expr(self, node: dict[str, Any]) -> Code:
        ((op, arg),) = node.items()
        handler = _HANDLERS.get(op)
        if handler is not None:
            code: Code = handler(self, arg)
        elif op in runtime.FUNCTIONS:
            code = self._call(op, arg)
        else:
            raise ConfigurationError("policy", op, "unsupported Cedar expression")
        if code.const and op != "Value":
            return self.fold(code)
        return code

    def _call(self, name: str, args: list[dict[str, Any]]) -> Code:
        fn = f"_f_{name}"
        self.namespace[fn] = runtime.FUNCTIONS[name]
        parts = [self.expr(a) for a in args]
        src = f"{fn}({', '.join(p.src for p in parts)})"
        return Code(src, Kind.ANY, all(p.const for p in parts))

    def boolean(self, code: Code) -> str:
        return code.src if code.ty is Kind.BOOL else f"_rt.b({code.src})"


def _value(g: Generator, value: Any) -> Code:
    return g.const(from_json(value, "policy literal"))


def _var(g: Generator, name: str) -> Code:
    if name not in VARS:
        raise ConfigurationError("policy", name, "unknown variable")
    v = VARS[name]
    return Code(v, _VAR_KINDS[v])


def _not(g: Generator, arg: dict[str, Any]) -> Code:
    a = g.expr(arg["arg"])
    src = f"(not {a.src})" if a.ty is Kind.BOOL else f"_rt.not_({a.src})"
    return Code(src, Kind.BOOL, a.const)


def _neg(g: Generator, arg: dict[str, Any]) -> Code:
    a = g.expr(arg["arg"])
    return Code(f"_rt.neg({a.src})", Kind.LONG, a.const)


def _logic(word: str) -> Any:
    def build(g: Generator, arg: dict[str, Any]) -> Code:
        left, right = g.expr(arg["left"]), g.expr(arg["right"])
        src = f"({g.boolean(left)} {word} {g.boolean(right)})"
        return Code(src, Kind.BOOL, left.const and right.const)

    return build


def _equality(g: Generator, left: Code, right: Code) -> str:
    if right.const and not left.const:
        left, right = right, left
    if right.const:
        return f"_ceq({left.src}, {right.src})"
    if left.const and left.py_eq:
        return f"({left.src} == {right.src})"
    if left.const and left.ty is Kind.LONG:
        t = g.temp()
        return f"(({t} := {right.src}) == {left.src} and type({t}) is int)"
    if left.const and left.ty is Kind.BOOL:
        return f"({right.src} is {left.src})"
    return f"_ceq({left.src}, {right.src})"


def _eq(g: Generator, arg: dict[str, Any]) -> Code:
    left, right = g.expr(arg["left"]), g.expr(arg["right"])
    return Code(_equality(g, left, right), Kind.BOOL, left.const and right.const)


def _ne(g: Generator, arg: dict[str, Any]) -> Code:
    left, right = g.expr(arg["left"]), g.expr(arg["right"])
    return Code(f"(not {_equality(g, left, right)})", Kind.BOOL, left.const and right.const)


def _compare(op: str) -> Any:
    helper, pyop = _COMPARE[op]

    def build(g: Generator, arg: dict[str, Any]) -> Code:
        left, right = g.expr(arg["left"]), g.expr(arg["right"])
        const = left.const and right.const
        if left.ty is Kind.LONG and right.ty is Kind.LONG:
            return Code(f"({left.src} {pyop} {right.src})", Kind.BOOL, const)
        a, c = g.temp(), g.temp()
        src = (
            f"({a} {pyop} {c} if (type({a} := {left.src}) is int) & (type({c} := {right.src})"
            f" is int) else _rt.{helper}({a}, {c}))"
        )
        return Code(src, Kind.BOOL, const)

    return build


def _arith(op: str) -> Any:
    helper = _ARITH[op]

    def build(g: Generator, arg: dict[str, Any]) -> Code:
        left, right = g.expr(arg["left"]), g.expr(arg["right"])
        return Code(f"_rt.{helper}({left.src}, {right.src})", Kind.LONG, left.const and right.const)

    return build


def _in(g: Generator, arg: dict[str, Any]) -> Code:
    left, right = g.expr(arg["left"]), g.expr(arg["right"])
    if left.ty is Kind.ENTITY and right.ty is Kind.ENTITY:
        return Code(f"_rt.in_one({left.src}, {right.src}, E)", Kind.BOOL, False)
    return Code(f"_rt.in_({left.src}, {right.src}, E)", Kind.BOOL)


def _binary(op: str) -> Any:
    helper, ty, needs_store = _BINARY_HELPERS[op]

    def build(g: Generator, arg: dict[str, Any]) -> Code:
        left, right = g.expr(arg["left"]), g.expr(arg["right"])
        if op == "contains" and left.const and right.ty is Kind.STRING:
            return Code(f"({right.src} in {left.src}.keys)", Kind.BOOL, right.const)
        store = ", E" if needs_store else ""
        const = left.const and right.const and not needs_store
        return Code(f"_rt.{helper}({left.src}, {right.src}{store})", ty, const)

    return build


def _is_empty(g: Generator, arg: dict[str, Any]) -> Code:
    a = g.expr(arg["arg"])
    return Code(f"_rt.is_empty({a.src})", Kind.BOOL, a.const)


def _attr(g: Generator, arg: dict[str, Any]) -> Code:
    left = g.expr(arg["left"])
    name = repr(arg["attr"])
    if left.src == "C":
        return Code(f"C[{name}]")
    return Code(f"_rt.attr({left.src}, {name}, E)", Kind.ANY, left.const and left.ty is Kind.RECORD)


def _has(g: Generator, arg: dict[str, Any]) -> Code:
    left = g.expr(arg["left"])
    name = repr(arg["attr"])
    if left.src == "C":
        return Code(f"({name} in C)", Kind.BOOL)
    return Code(f"_rt.has({left.src}, {name}, E)", Kind.BOOL, left.const and left.ty is Kind.RECORD)


def _like(g: Generator, arg: dict[str, Any]) -> Code:
    left = g.expr(arg["left"])
    pattern = g.const(runtime.like_pattern(arg["pattern"]))
    return Code(f"_rt.like({left.src}, {pattern.src})", Kind.BOOL, left.const)


def _is(g: Generator, arg: dict[str, Any]) -> Code:
    left = g.expr(arg["left"])
    src = f"_rt.is_({left.src}, {arg['entity_type']!r})"
    if "in" not in arg:
        return Code(src, Kind.BOOL, left.const)
    t = g.temp()
    right = g.expr(arg["in"])
    src = f"(_rt.is_({t} := {left.src}, {arg['entity_type']!r}) and _rt.in_({t}, {right.src}, E))"
    return Code(src, Kind.BOOL)


def _if(g: Generator, arg: dict[str, Any]) -> Code:
    cond, then, other = g.expr(arg["if"]), g.expr(arg["then"]), g.expr(arg["else"])
    ty = then.ty if then.ty is other.ty else Kind.ANY
    src = f"({then.src} if {g.boolean(cond)} else {other.src})"
    return Code(src, ty, cond.const and then.const and other.const)


def _set(g: Generator, items: list[dict[str, Any]]) -> Code:
    parts = [g.expr(i) for i in items]
    src = f"_rt.mkset([{', '.join(p.src for p in parts)}])"
    return Code(src, Kind.SET, all(p.const for p in parts))


def _record(g: Generator, fields: dict[str, Any]) -> Code:
    parts = {k: g.expr(v) for k, v in fields.items()}
    src = "{" + ", ".join(f"{k!r}: {p.src}" for k, p in parts.items()) + "}"
    return Code(src, Kind.RECORD, all(p.const for p in parts.values()))


_HANDLERS: dict[str, Any] = {
    "Value": _value,
    "Var": _var,
    "!": _not,
    "neg": _neg,
    "&&": _logic("and"),
    "||": _logic("or"),
    "==": _eq,
    "!=": _ne,
    "in": _in,
    "isEmpty": _is_empty,
    ".": _attr,
    "has": _has,
    "like": _like,
    "is": _is,
    "if-then-else": _if,
    "Set": _set,
    "Record": _record,
    **{op: _compare(op) for op in _COMPARE},
    **{op: _arith(op) for op in _ARITH},
    **{op: _binary(op) for op in _BINARY_HELPERS},
}


def scope_atoms(g: Generator, var: str, scope: dict[str, Any]) -> list[str]:
    """The scope constraint on one variable as conditions that never error."""
    op = scope["op"]
    if op == "All":
        return []
    if op == "==":
        return [f"({var} == {g.const(to_uid(scope['entity'])).src})"]
    if op == "in" and "entities" in scope:
        targets = g.const(frozenset(to_uid(e) for e in scope["entities"]))
        return [f"_rt.in_any({var}, {targets.src}, E)"]
    if op == "in":
        return [f"_rt.in_one({var}, {g.const(to_uid(scope['entity'])).src}, E)"]
    if op == "is":
        atoms = [f"({var}[0] == {scope['entity_type']!r})"]
        if "in" in scope:
            atoms += scope_atoms(g, var, {"op": "in", **scope["in"]})
        return atoms
    raise ConfigurationError("policy scope", scope, "unsupported scope constraint")


def condition(g: Generator, policy: dict[str, Any]) -> str | None:
    """The when/unless clauses as one Python boolean expression (None: always true)."""
    parts = []
    for clause in policy.get("conditions") or ():
        body = g.expr(clause["body"])
        text = g.boolean(body)
        parts.append(text if clause["kind"] == "when" else f"(not {text})")
    return " and ".join(parts) if parts else None
