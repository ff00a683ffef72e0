"""EST -> typed Python for the scalar fast path (``fastpath``): one action, known types.

Each node compiles to a ``T``: Python source and its Cedar type when known ("bool",
"long", "str", "dec" — a decimal as its scaled int —, "set", "uid", "rec"), else "any".
Context attributes have the types the schema declares for the action (the parser
guarantees them); entity-only subtrees are *leaves* whose types the caller observed.
Where the types do not allow an inline operator, the node is the generic generated
expression (``codegen``), which checks types and raises Cedar's errors itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tradeswarm.policy import runtime
from tradeswarm.policy.est import free_vars
from tradeswarm.policy.requests import ContextParser
from tradeswarm.policy.scalar import generic as codegen
from tradeswarm.policy.values import I64_MAX, I64_MIN, CSet, Decimal, EvalError, Uid

_RUNTIME_TYPES = {bool: "bool", int: "long", str: "str", Decimal: "dec", CSet: "set", Uid: "uid"}
_KINDS = {
    "decimal": "dec",
    "long": "long",
    "bool": "bool",
    "string": "str",
    "set": "set",
    "entity": "uid",
    "record": "rec",
}
_EQUATABLE = ("bool", "long", "str", "dec", "uid")
_ORDER = {"<": "<", "<=": "<=", ">": ">", ">=": ">="}
_DECIMAL_ORDER = {
    "lessThan": "<",
    "lessThanOrEqual": "<=",
    "greaterThan": ">",
    "greaterThanOrEqual": ">=",
}
_ARITH = {"+": "addition", "-": "subtraction", "*": "multiplication"}
_CONTEXT = {"Var": "context"}


class Generic(Exception):
    """The policy cannot be typed here: the caller uses its generic test."""


class LeafError(Exception):
    """The policy reads a leaf that raised for this principal and resource."""


def runtime_type(value: Any) -> str:
    if type(value) is dict:
        return "rec"
    return _RUNTIME_TYPES.get(type(value), "any")


def overflow(what: str) -> None:
    raise EvalError(f"integer overflow while attempting to evaluate {what}")


class Missing:
    """An optional context attribute that is absent."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class T:
    src: str
    ty: str = "any"
    path: tuple[str, ...] | None = None  # a context record's schema path


class TypedGen:
    """Typed code for one action; leaves registered (collect) or typed (use_leaves)."""

    def __init__(self, parser: ContextParser, action: Uid, program_namespace: dict[str, Any]):
        assert parser.types is not None
        self.types = parser.types
        self.action = action
        self.g = codegen.Generator()
        self.g.namespace = dict(program_namespace)  # constants keep unique _k names
        self.g._temps = 100_000  # generic temps never meet the program's own
        self.namespace: dict[str, Any] = {"_M": MISSING, "_ovf": overflow}
        self.leaves: dict[str, int] = {}
        self.leaf_sources: list[str] = []
        self.leaf_types: list[str] | None = None
        self.bindings: list[str] = []
        self._bound: dict[str, T] = {}
        self._optional: dict[str, str] = {}
        self._temps = 0

    def use_leaves(self, keys: dict[str, int], signature: tuple[str, ...]) -> None:
        self.leaves = keys
        self.leaf_types = list(signature)

    def temp(self) -> str:
        self._temps += 1
        return f"_u{self._temps}"

    def leaf(self, key: str, src: str) -> T:
        """An entity-only subtree (``key``: its EST as canonical JSON) as a leaf local."""
        if self.leaf_types is None:
            if key not in self.leaves:
                self.leaves[key] = len(self.leaves)
                self.leaf_sources.append(src)
            return T(f"k{self.leaves[key]}")
        j = self.leaves[key]
        ty = self.leaf_types[j]
        if ty == "err":
            raise LeafError(src)
        return T(f"k{j}", ty)

    def scope_leaf(self, var: str, scope: dict[str, Any]) -> str | None:
        atoms = codegen.scope_atoms(self.g, var, scope)
        key = json.dumps([var, scope], sort_keys=True)
        return self.leaf(key, " and ".join(atoms)).src if atoms else None

    def generic(self, node: dict[str, Any]) -> T:
        code = self.g.expr(node)
        return T(code.src, code.ty if code.ty in ("bool", "long") else "any")

    def const(self, code: codegen.Code) -> T:
        value = eval(code.src, self.g.namespace)  # a folded constant of our own source
        ty = runtime_type(value)
        if ty == "dec":
            return T(repr(value.v), "dec")
        if ty in ("bool", "long", "str"):
            return T(repr(value), ty)
        return T(code.src, ty)

    def visit(self, node: dict[str, Any]) -> T:
        if "context" not in free_vars(node):
            code = self.g.expr(node)
            if code.const:
                return self.const(code)
            return self.leaf(json.dumps(node, sort_keys=True), code.src)
        ((op, arg),) = node.items()
        handler = _HANDLERS.get(op)
        if handler is None:
            return self.generic(node)
        result: T = handler(self, node, arg)
        return result

    def boolean(self, node: dict[str, Any]) -> str:
        t = self.visit(node)
        return t.src if t.ty == "bool" else f"_rt.b({self.generic(node).src})"

    def context_attr(self, name: str) -> T:
        found = self._bound.get(name)
        if found is not None:
            return found
        kind = self.types.kind(self.action, (name,))
        ty = _KINDS.get(kind, "any")
        local = f"c{len(self._bound)}"
        if self.types.required(self.action, (name,)):
            read = f"C[{name!r}]" + (".v" if ty == "dec" else "")
            self.bindings.append(f"{local} = {read}")
            src = local
        else:
            self.bindings.append(f"{local} = C.get({name!r}, _M)")
            self._optional[name] = local
            value = f"({local} if {local} is not _M else C[{name!r}])"
            src = f"{value}.v" if ty == "dec" else value
        found = self._bound[name] = T(src, ty, (name,) if ty == "rec" else None)
        return found

    def optional_local(self, name: str) -> str | None:
        """The local an optional attribute is bound to (None for a required one)."""
        self.context_attr(name)
        return self._optional.get(name)


MISSING = Missing()


def _attr(gen: TypedGen, node: dict[str, Any], arg: dict[str, Any]) -> T:
    name = arg["attr"]
    if arg["left"] == _CONTEXT:
        return gen.context_attr(name)
    left = gen.visit(arg["left"])
    if left.ty != "rec":
        return gen.generic(node)
    holder = left.src if left.src.isidentifier() else gen.temp()
    bind = holder if holder == left.src else f"({holder} := {left.src})"
    value = f"({holder}[{name!r}] if {name!r} in {bind} else _rt.attr({holder}, {name!r}, E))"
    if left.path is None:
        return T(value)
    path = (*left.path, name)
    ty = _KINDS.get(gen.types.kind(gen.action, path), "any")
    return T(f"{value}.v" if ty == "dec" else value, ty, path if ty == "rec" else None)


def _has(gen: TypedGen, node: dict[str, Any], arg: dict[str, Any]) -> T:
    name = arg["attr"]
    if arg["left"] == _CONTEXT:
        local = gen.optional_local(name)
        src = f"({local} is not _M)" if local else f"({name!r} in C)"
        return T(src, "bool")
    left = gen.visit(arg["left"])
    if left.ty != "rec":
        return gen.generic(node)
    return T(f"({name!r} in {left.src})", "bool")


def _logic(gen: TypedGen, node: dict[str, Any], arg: dict[str, Any]) -> T:
    word = "and" if "&&" in node else "or"
    left, right = gen.boolean(arg["left"]), gen.boolean(arg["right"])
    return T(f"({left} {word} {right})", "bool")


def _not(gen: TypedGen, node: dict[str, Any], arg: dict[str, Any]) -> T:
    return T(f"(not {gen.boolean(arg['arg'])})", "bool")


def _equal(gen: TypedGen, node: dict[str, Any], arg: dict[str, Any]) -> T:
    left, right = gen.visit(arg["left"]), gen.visit(arg["right"])
    if left.ty != right.ty or left.ty not in _EQUATABLE:
        return gen.generic(node)
    op = "==" if "==" in node else "!="
    return T(f"({left.src} {op} {right.src})", "bool")


def _order(gen: TypedGen, node: dict[str, Any], arg: dict[str, Any]) -> T:
    ((op, _),) = node.items()
    left, right = gen.visit(arg["left"]), gen.visit(arg["right"])
    if left.ty != "long" or right.ty != "long":
        return gen.generic(node)
    return T(f"({left.src} {_ORDER[op]} {right.src})", "bool")


def _decimal_order(gen: TypedGen, node: dict[str, Any], arg: list[dict[str, Any]]) -> T:
    ((op, _),) = node.items()
    parts = [gen.visit(a) for a in arg]
    if len(parts) != 2 or parts[0].ty != "dec" or parts[1].ty != "dec":
        return gen.generic(node)
    return T(f"({parts[0].src} {_DECIMAL_ORDER[op]} {parts[1].src})", "bool")


def _checked(gen: TypedGen, expr: str, what: str) -> T:
    t = gen.temp()
    return T(f"({t} if {I64_MIN} <= ({t} := {expr}) <= {I64_MAX} else _ovf({what!r}))", "long")


def _arith(gen: TypedGen, node: dict[str, Any], arg: dict[str, Any]) -> T:
    ((op, _),) = node.items()
    left, right = gen.visit(arg["left"]), gen.visit(arg["right"])
    if left.ty != "long" or right.ty != "long":
        return gen.generic(node)
    return _checked(gen, f"{left.src} {op} {right.src}", _ARITH[op])


def _neg(gen: TypedGen, node: dict[str, Any], arg: dict[str, Any]) -> T:
    value = gen.visit(arg["arg"])
    if value.ty != "long":
        return gen.generic(node)
    return _checked(gen, f"-{value.src}", "negation")


def _contains(gen: TypedGen, node: dict[str, Any], arg: dict[str, Any]) -> T:
    left, right = gen.visit(arg["left"]), gen.visit(arg["right"])
    if left.ty != "set" or right.ty not in ("str", "long", "uid"):
        return gen.generic(node)
    return T(f"({right.src} in {left.src}.keys)", "bool")


def _if(gen: TypedGen, node: dict[str, Any], arg: dict[str, Any]) -> T:
    cond = gen.visit(arg["if"])
    then, other = gen.visit(arg["then"]), gen.visit(arg["else"])
    if cond.ty != "bool" or then.ty != other.ty or then.ty in {"any", "rec"}:
        return gen.generic(node)
    return T(f"({then.src} if {cond.src} else {other.src})", then.ty)


def _like(gen: TypedGen, node: dict[str, Any], arg: dict[str, Any]) -> T:
    left = gen.visit(arg["left"])
    if left.ty != "str":
        return gen.generic(node)
    pattern = gen.g.const(runtime.like_pattern(arg["pattern"]))
    return T(f"({pattern.src}.fullmatch({left.src}) is not None)", "bool")


_HANDLERS: dict[str, Any] = {
    ".": _attr,
    "has": _has,
    "&&": _logic,
    "||": _logic,
    "!": _not,
    "==": _equal,
    "!=": _equal,
    "neg": _neg,
    "contains": _contains,
    "if-then-else": _if,
    "like": _like,
    **{op: _order for op in _ORDER},
    **{op: _decimal_order for op in _DECIMAL_ORDER},
    **{op: _arith for op in _ARITH},
}
