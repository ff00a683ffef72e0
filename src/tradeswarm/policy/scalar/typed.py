"""The typed tier's code generator: EST -> typed Python for one action (``scalar.fastpath``).

It falls back node by node to the generic tier's expression (``scalar.generic``). Each
node compiles to a ``T``: Python source and its ``Kind`` when known (a decimal as its
scaled int), else ``Kind.ANY``. Context attributes have the kinds the schema declares for
the action (the parser guarantees them); entity-only subtrees are *leaves* whose kinds the
caller observed. Where the kinds do not allow an inline operator, the handler declines
(``NotCompiled``, naming the construct) and ``TypedGen.visit`` takes the generic generated
expression for that node, which checks types and raises Cedar's errors itself. A policy
reading a leaf that raised (``LeafError``) takes the generic program's test as a whole
(``scalar.fastpath`` decides that).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tradeswarm.policy import runtime
from tradeswarm.policy.est import NotCompiled, free_vars
from tradeswarm.policy.kinds import EQUATABLE, OF_SCHEMA, Kind, kind_of
from tradeswarm.policy.requests import ContextParser
from tradeswarm.policy.scalar import generic as codegen
from tradeswarm.policy.values import I64_MAX, I64_MIN, EvalError, Uid

_ORDER = {"<": "<", "<=": "<=", ">": ">", ">=": ">="}
_DECIMAL_ORDER = {
    "lessThan": "<",
    "lessThanOrEqual": "<=",
    "greaterThan": ">",
    "greaterThanOrEqual": ">=",
}
_ARITH = {"+": "addition", "-": "subtraction", "*": "multiplication"}
_CONTEXT = {"Var": "context"}
_MEMBERS = (Kind.STRING, Kind.LONG, Kind.ENTITY)  # ``in set.keys`` is Cedar's ``contains``
#: Walrus temporaries in typed code: the typed generator's own and those of the generic
#: expressions it takes (the generic program's, which typed code embeds, are ``_t``), so
#: the three never share a name.
TYPED_TEMPS = "_u"
GENERIC_TEMPS = "_g"


class LeafError(Exception):
    """The policy reads a leaf that raised for this principal and resource."""


def overflow(what: str) -> None:
    raise EvalError(f"integer overflow while attempting to evaluate {what}")


class Missing:
    """An optional context attribute that is absent."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class T:
    """A typed expression: Python source, its kind (a decimal's source is its scaled int)."""

    src: str
    ty: Kind = Kind.ANY
    path: tuple[str, ...] | None = None  # a context record's schema path


class TypedGen:
    """Typed code for one action; leaves registered (collect) or typed (use_leaves)."""

    def __init__(self, parser: ContextParser, action: Uid, program_namespace: dict[str, Any]):
        assert parser.types is not None
        self.types = parser.types
        self.action = action
        # constants keep unique _k names; temporaries their own prefix
        self.g = codegen.Generator(program_namespace, GENERIC_TEMPS)
        self.namespace: dict[str, Any] = {"_M": MISSING, "_ovf": overflow}
        self.leaves: dict[str, int] = {}
        self.leaf_sources: list[str] = []
        self.leaf_types: list[Kind] | None = None
        self.bindings: list[str] = []
        self._bound: dict[str, T] = {}
        self._optional: dict[str, str] = {}
        self._temps = 0

    def use_leaves(self, keys: dict[str, int], signature: tuple[Kind, ...]) -> None:
        self.leaves = keys
        self.leaf_types = list(signature)

    def temp(self) -> str:
        self._temps += 1
        return f"{TYPED_TEMPS}{self._temps}"

    def leaf(self, key: str, src: str) -> T:
        """An entity-only subtree (``key``: its EST as canonical JSON) as a leaf local."""
        if self.leaf_types is None:
            if key not in self.leaves:
                self.leaves[key] = len(self.leaves)
                self.leaf_sources.append(src)
            return T(f"k{self.leaves[key]}")
        j = self.leaves[key]
        ty = self.leaf_types[j]
        if ty is Kind.ERR:
            raise LeafError(src)
        return T(f"k{j}", ty)

    def scope_leaf(self, var: str, scope: dict[str, Any]) -> str | None:
        atoms = codegen.scope_atoms(self.g, var, scope)
        key = json.dumps([var, scope], sort_keys=True)
        return self.leaf(key, " and ".join(atoms)).src if atoms else None

    def generic(self, node: dict[str, Any]) -> T:
        code = self.g.expr(node)
        return T(code.src, code.ty if code.ty in (Kind.BOOL, Kind.LONG) else Kind.ANY)

    def const(self, code: codegen.Code) -> T:
        value = eval(code.src, self.g.namespace)  # a folded constant of our own source
        ty = kind_of(value)
        if ty is Kind.DECIMAL:
            return T(repr(value.v), ty)
        if ty in (Kind.BOOL, Kind.LONG, Kind.STRING):
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
        try:
            result: T = handler(self, node, arg)
        except NotCompiled:  # the handler declined this node: the generic expression
            return self.generic(node)
        return result

    def boolean(self, node: dict[str, Any]) -> str:
        t = self.visit(node)
        return t.src if t.ty is Kind.BOOL else f"_rt.b({self.generic(node).src})"

    def context_attr(self, name: str) -> T:
        found = self._bound.get(name)
        if found is not None:
            return found
        kind = self.types.kind(self.action, (name,))
        ty = OF_SCHEMA.get(kind, Kind.ANY)
        local = f"c{len(self._bound)}"
        if self.types.required(self.action, (name,)):
            read = f"C[{name!r}]" + (".v" if ty is Kind.DECIMAL else "")
            self.bindings.append(f"{local} = {read}")
            src = local
        else:
            self.bindings.append(f"{local} = C.get({name!r}, _M)")
            self._optional[name] = local
            value = f"({local} if {local} is not _M else C[{name!r}])"
            src = f"{value}.v" if ty is Kind.DECIMAL else value
        found = self._bound[name] = T(src, ty, (name,) if ty is Kind.RECORD else None)
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
    if left.ty is not Kind.RECORD:
        raise NotCompiled(f"attribute of a {left.ty} value")
    holder = left.src if left.src.isidentifier() else gen.temp()
    bind = holder if holder == left.src else f"({holder} := {left.src})"
    value = f"({holder}[{name!r}] if {name!r} in {bind} else _rt.attr({holder}, {name!r}, E))"
    if left.path is None:
        return T(value)
    path = (*left.path, name)
    ty = OF_SCHEMA.get(gen.types.kind(gen.action, path), Kind.ANY)
    return T(f"{value}.v" if ty is Kind.DECIMAL else value, ty, path if ty is Kind.RECORD else None)


def _has(gen: TypedGen, node: dict[str, Any], arg: dict[str, Any]) -> T:
    name = arg["attr"]
    if arg["left"] == _CONTEXT:
        local = gen.optional_local(name)
        src = f"({local} is not _M)" if local else f"({name!r} in C)"
        return T(src, Kind.BOOL)
    left = gen.visit(arg["left"])
    if left.ty is not Kind.RECORD:
        raise NotCompiled(f"has on a {left.ty} value")
    return T(f"({name!r} in {left.src})", Kind.BOOL)


def _logic(gen: TypedGen, node: dict[str, Any], arg: dict[str, Any]) -> T:
    word = "and" if "&&" in node else "or"
    left, right = gen.boolean(arg["left"]), gen.boolean(arg["right"])
    return T(f"({left} {word} {right})", Kind.BOOL)


def _not(gen: TypedGen, node: dict[str, Any], arg: dict[str, Any]) -> T:
    return T(f"(not {gen.boolean(arg['arg'])})", Kind.BOOL)


def _equal(gen: TypedGen, node: dict[str, Any], arg: dict[str, Any]) -> T:
    left, right = gen.visit(arg["left"]), gen.visit(arg["right"])
    op = "==" if "==" in node else "!="
    if left.ty is not right.ty or left.ty not in EQUATABLE:
        raise NotCompiled(f"{op} of {left.ty} and {right.ty}")
    return T(f"({left.src} {op} {right.src})", Kind.BOOL)


def _order(gen: TypedGen, node: dict[str, Any], arg: dict[str, Any]) -> T:
    ((op, _),) = node.items()
    left, right = gen.visit(arg["left"]), gen.visit(arg["right"])
    if left.ty is not Kind.LONG or right.ty is not Kind.LONG:
        raise NotCompiled(f"{op} of {left.ty} and {right.ty}")
    return T(f"({left.src} {_ORDER[op]} {right.src})", Kind.BOOL)


def _decimal_order(gen: TypedGen, node: dict[str, Any], arg: list[dict[str, Any]]) -> T:
    ((op, _),) = node.items()
    parts = [gen.visit(a) for a in arg]
    if len(parts) != 2 or any(p.ty is not Kind.DECIMAL for p in parts):
        raise NotCompiled(f"{op} of {', '.join(p.ty for p in parts)}")
    return T(f"({parts[0].src} {_DECIMAL_ORDER[op]} {parts[1].src})", Kind.BOOL)


def _checked(gen: TypedGen, expr: str, what: str) -> T:
    t = gen.temp()
    return T(f"({t} if {I64_MIN} <= ({t} := {expr}) <= {I64_MAX} else _ovf({what!r}))", Kind.LONG)


def _arith(gen: TypedGen, node: dict[str, Any], arg: dict[str, Any]) -> T:
    ((op, _),) = node.items()
    left, right = gen.visit(arg["left"]), gen.visit(arg["right"])
    if left.ty is not Kind.LONG or right.ty is not Kind.LONG:
        raise NotCompiled(f"{op} of {left.ty} and {right.ty}")
    return _checked(gen, f"{left.src} {op} {right.src}", _ARITH[op])


def _neg(gen: TypedGen, node: dict[str, Any], arg: dict[str, Any]) -> T:
    value = gen.visit(arg["arg"])
    if value.ty is not Kind.LONG:
        raise NotCompiled(f"negation of a {value.ty}")
    return _checked(gen, f"-{value.src}", "negation")


def _contains(gen: TypedGen, node: dict[str, Any], arg: dict[str, Any]) -> T:
    left, right = gen.visit(arg["left"]), gen.visit(arg["right"])
    if left.ty is not Kind.SET or right.ty not in _MEMBERS:
        raise NotCompiled(f"contains on {left.ty} of {right.ty}")
    return T(f"({right.src} in {left.src}.keys)", Kind.BOOL)


def _if(gen: TypedGen, node: dict[str, Any], arg: dict[str, Any]) -> T:
    cond = gen.visit(arg["if"])
    then, other = gen.visit(arg["then"]), gen.visit(arg["else"])
    if cond.ty is not Kind.BOOL or then.ty is not other.ty or then.ty in (Kind.ANY, Kind.RECORD):
        raise NotCompiled(f"if on {cond.ty} then {then.ty} else {other.ty}")
    return T(f"({then.src} if {cond.src} else {other.src})", then.ty)


def _like(gen: TypedGen, node: dict[str, Any], arg: dict[str, Any]) -> T:
    left = gen.visit(arg["left"])
    if left.ty is not Kind.STRING:
        raise NotCompiled(f"like on a {left.ty}")
    pattern = gen.g.const(runtime.like_pattern(arg["pattern"]))
    return T(f"({pattern.src}.fullmatch({left.src}) is not None)", Kind.BOOL)


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
