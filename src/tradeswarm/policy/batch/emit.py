"""Generated numpy code for the batch path, specialized on the kinds of its inputs.

Each policy is reduced to a small tree whose leaves are inputs the batch provides as
columns: a context attribute (``context.a.b``), a ``has`` test on the context, or an
entity-only expression read from an entity table. A batch first computes its leaves; the
tuple of their kinds and error presence is its *signature*, and for each signature (one,
usually) the policy set is emitted once as straight-line numpy code: no interpretation per
node, error masks only where an input can error or arithmetic can overflow, and Cedar's
short-circuits as mask algebra. A policy whose tree or kinds fall outside what is emitted
here runs through the closure-based vectorizer instead (``batch.py``), still exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from tradeswarm.policy.entities import from_json
from tradeswarm.policy.est import context_path, free_vars
from tradeswarm.policy.values import CSet, Decimal


class Unsupported(Exception):
    """A construct or kind this generator does not emit; the policy uses the closures."""


@dataclass(frozen=True, slots=True)
class Leaf:
    """An input of the generated code: ("path", path), ("has", path, name) or ("entity", src)."""

    key: tuple[Any, ...]
    fn: Any = None
    variables: tuple[str, ...] = ()


_CMP = {"<": "less", "<=": "less_equal", ">": "greater", ">=": "greater_equal"}
_DEC = {
    "lessThan": "less",
    "lessThanOrEqual": "less_equal",
    "greaterThan": "greater",
    "greaterThanOrEqual": "greater_equal",
}
_TYPED = ("bool", "long", "dec", "str")


def in_cset(items: CSet, col: Any, kind: str) -> Any:
    """``set.contains(x)`` for a constant set and a str or long column."""
    wanted = str if kind == "str" else int
    members = [m for m in items.values if type(m) is wanted]
    if not members:
        return np.zeros(np.shape(col), dtype=bool)
    if len(members) > 8:
        return np.isin(col, members)
    out = np.equal(col, members[0])
    for m in members[1:]:
        out = out | np.equal(col, m)
    return out


def in_rowsets(flat: Any, row: Any, item: Any, n: int) -> Any:
    """``sets.contains(x)`` for a per-row set column (elements in ``flat``, rows in ``row``)."""
    hit = np.zeros(n, dtype=bool)
    if len(flat):
        items = np.broadcast_to(item, (n,))
        hit[row[np.equal(flat, items[row])]] = True
    return hit


def checked(op: str, a: Any, b: Any, n: int) -> tuple[Any, Any]:
    """64-bit + or - and the rows where it overflowed."""
    a = np.broadcast_to(a, (n,))
    b = np.broadcast_to(b, (n,))
    with np.errstate(over="ignore"):
        if op == "+":
            r = a + b
            return r, ((a ^ r) & (b ^ r)) < 0
        r = a - b
        return r, ((a ^ b) & (a ^ r)) < 0


class Emitter:
    """Emits one policy set's code for one signature (leaf kinds and error presence)."""

    def __init__(self, kinds: tuple[tuple[str, bool], ...]) -> None:
        self.kinds = kinds
        self.lines: list[str] = []
        self.namespace: dict[str, Any] = {
            "np": np,
            "_T": np.True_,
            "_F": np.False_,
            "_in_cset": in_cset,
            "_in_rowsets": in_rowsets,
            "_checked": checked,
        }
        self.count = 0
        self.memo: dict[Any, tuple[str, str, str | None]] = {}

    def tmp(self, expr: str) -> str:
        self.count += 1
        name = f"t{self.count}"
        self.lines.append(f"    {name} = {expr}")
        return name

    def const(self, value: Any) -> tuple[str, str, str | None]:
        kind = type(value)
        if kind is bool:
            return ("_T" if value else "_F"), "bool", None
        if kind is int:
            return f"np.int64({value})", "long", None
        if kind is str:
            return repr(value), "str", None
        if kind is Decimal:
            return f"np.int64({value.v})", "dec", None
        if kind is CSet:
            name = f"_c{len(self.namespace)}"
            self.namespace[name] = value
            return name, "cset", None
        raise Unsupported("constant")

    def node(self, ir: tuple[Any, ...]) -> tuple[str, str, str | None]:
        op = ir[0]
        if op == "leaf":
            kind, has_err = self.kinds[ir[1]]
            return f"L[{ir[1]}].v", kind, (f"L[{ir[1]}].err" if has_err else None)
        if op == "const":
            return self.const(ir[1])
        key = _typed_key(ir)
        found = self.memo.get(key)
        if found is not None:  # the same subexpression emitted before: reuse its names
            return found
        emit = _EMIT.get(op)
        if emit is None:
            raise Unsupported(op)
        result: tuple[str, str, str | None] = emit(self, ir)
        self.memo[key] = result
        return result

    def err_or(self, *errs: str | None) -> str | None:
        present = [e for e in errs if e is not None]
        if not present:
            return None
        return present[0] if len(present) == 1 else self.tmp(" | ".join(present))

    def boolean(self, ir: tuple[Any, ...]) -> tuple[str, str | None]:
        v, kind, err = self.node(ir)
        if kind != "bool":
            raise Unsupported(f"{kind} where a bool is needed")
        return v, err


def _typed_key(ir: Any) -> Any:
    """The IR with every constant tagged by its type (``True == 1`` in Python)."""
    if type(ir) is tuple:
        if ir and ir[0] == "const":
            return ("const", type(ir[1]).__name__, ir[1])
        return tuple(_typed_key(part) for part in ir)
    return ir


def _logic(e: Emitter, ir: tuple[Any, ...]) -> tuple[str, str, str | None]:
    lv, le = e.boolean(ir[1])
    rv, re_ = e.boolean(ir[2])
    is_and = ir[0] == "&&"
    value = e.tmp(f"{lv} & {rv}" if is_and else f"{lv} | {rv}")
    if re_ is None:
        return value, "bool", le
    goes_on = lv if is_and else f"~{lv}"
    err = e.tmp(f"{goes_on} & {re_}" if le is None else f"{le} | (~{le} & {goes_on} & {re_})")
    return value, "bool", err


def _not(e: Emitter, ir: tuple[Any, ...]) -> tuple[str, str, str | None]:
    v, err = e.boolean(ir[1])
    return e.tmp(f"~{v}"), "bool", err


def _eq(e: Emitter, ir: tuple[Any, ...]) -> tuple[str, str, str | None]:
    lv, lk, le = e.node(ir[1])
    rv, rk, re_ = e.node(ir[2])
    if lk not in _TYPED or rk not in _TYPED or (ir[1][0] == ir[2][0] == "const"):
        raise Unsupported("equality of these kinds")
    ufunc = "np.equal" if ir[0] == "==" else "np.not_equal"
    differ = "_F" if ir[0] == "==" else "_T"  # values of different types are never equal
    value = e.tmp(f"{ufunc}({lv}, {rv})") if lk == rk else differ
    return value, "bool", e.err_or(le, re_)


def _ordered(kind: str, names: dict[str, str]) -> Any:
    def emit(e: Emitter, ir: tuple[Any, ...]) -> tuple[str, str, str | None]:
        lv, lk, le = e.node(ir[1])
        rv, rk, re_ = e.node(ir[2])
        if lk != kind or rk != kind:
            raise Unsupported(f"{ir[0]} on {lk}, {rk}")
        return e.tmp(f"np.{names[ir[0]]}({lv}, {rv})"), "bool", e.err_or(le, re_)

    return emit


def _arith(e: Emitter, ir: tuple[Any, ...]) -> tuple[str, str, str | None]:
    lv, lk, le = e.node(ir[1])
    rv, rk, re_ = e.node(ir[2])
    if lk != "long" or rk != "long":
        raise Unsupported(f"{ir[0]} on {lk}, {rk}")
    value = e.tmp(f"_checked({ir[0]!r}, {lv}, {rv}, n)")
    return e.tmp(f"{value}[0]"), "long", e.err_or(le, re_, e.tmp(f"{value}[1]"))


def _contains(e: Emitter, ir: tuple[Any, ...]) -> tuple[str, str, str | None]:
    sv, sk, se = e.node(ir[1])
    iv, ik, ie = e.node(ir[2])
    if sk == "cset" and ik in ("str", "long"):
        return e.tmp(f"_in_cset({sv}, {iv}, {ik!r})"), "bool", e.err_or(se, ie)
    if sk == "set" and ik == "str" and ir[1][0] == "leaf":
        leaf = f"L[{ir[1][1]}]"
        value = e.tmp(f"_in_rowsets({leaf}.flat, {leaf}.row, {iv}, n)")
        return value, "bool", e.err_or(se, ie)
    raise Unsupported(f"contains on {sk}, {ik}")


_EMIT: dict[str, Any] = {
    "&&": _logic,
    "||": _logic,
    "!": _not,
    "==": _eq,
    "!=": _eq,
    "+": _arith,
    "-": _arith,
    "contains": _contains,
    **{op: _ordered("long", _CMP) for op in _CMP},
    **{op: _ordered("dec", _DEC) for op in _DEC},
}


class TreeBuilder:
    """EST -> the generator's tree, registering leaves (shared across policies)."""

    def __init__(self, entity_leaf: Any) -> None:
        self.leaves: list[Leaf] = []
        self._index: dict[tuple[Any, ...], int] = {}
        self.entity_leaf = entity_leaf

    def leaf(self, leaf: Leaf) -> tuple[Any, ...]:
        if leaf.key not in self._index:
            self._index[leaf.key] = len(self.leaves)
            self.leaves.append(leaf)
        return ("leaf", self._index[leaf.key])

    def build(self, node: dict[str, Any], free: set[str]) -> tuple[Any, ...]:
        path = context_path(node)
        if path:
            return self.leaf(Leaf(("path", path)))
        if "Value" in node:
            return ("const", from_json(node["Value"], "policy literal"))
        if "context" not in free:
            found = self.entity_leaf(node, free)
            return self.leaf(found) if isinstance(found, Leaf) else found
        ((op, arg),) = node.items()
        if op == "has" and context_path(arg["left"]) is not None:
            return self.leaf(Leaf(("has", context_path(arg["left"]), arg["attr"])))
        if op in ("!",):
            return (op, self.sub(arg["arg"]))
        if op in _DEC and isinstance(arg, list) and len(arg) == 2:
            return (op, self.sub(arg[0]), self.sub(arg[1]))
        if op in _EMIT and isinstance(arg, dict) and "left" in arg and "right" in arg:
            return (op, self.sub(arg["left"]), self.sub(arg["right"]))
        raise Unsupported(op)

    def sub(self, node: dict[str, Any]) -> tuple[Any, ...]:
        return self.build(node, free_vars(node))


@dataclass(frozen=True, slots=True)
class PolicyTree:
    """One policy for the generator: its scope leaf and (is_unless, tree) per condition."""

    index: int
    scope: tuple[Any, ...]
    conditions: tuple[tuple[bool, tuple[Any, ...]], ...]


def emit_policy(e: Emitter, tree: PolicyTree) -> tuple[str, str | None]:
    """Lines computing the policy's satisfied and errored rows; their names."""
    active, scope_err = e.boolean(tree.scope)
    if scope_err is not None:
        raise Unsupported("scope with errors")
    err: str | None = None
    for negate, body in tree.conditions:
        v, ce = e.boolean(body)
        if ce is not None:
            hit = e.tmp(f"{active} & {ce}")
            err = hit if err is None else e.tmp(f"{err} | {hit}")
            active = e.tmp(f"{active} & ~{ce}")
        active = e.tmp(f"{active} & ~{v}" if negate else f"{active} & {v}")
    return active, err
