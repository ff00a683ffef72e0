"""The batch path's first tier: generated numpy code, specialized on the kinds of its inputs.

Each policy is reduced to a small tree whose leaves are inputs the batch provides as
columns: a context attribute (``context.a.b``), a ``has`` test on the context, or an
entity-only expression read from an entity table. A batch first computes its leaves; the
tuple of their kinds, error presence and set shape is its *signature*, and for each
signature (one, usually) the policy set is emitted once as straight-line numpy code: no
interpretation per node, error masks only where an input can error or arithmetic can
overflow, and Cedar's short-circuits as mask algebra.

What is emitted: ``&&``, ``||``, ``!``, ``==`` / ``!=`` on bool, long, decimal and string
kinds, ``<`` ``<=`` ``>`` ``>=`` and ``+`` ``-`` on longs, the decimal comparisons,
``contains`` on a constant set or a per-row set of strings, ``has`` on the context.
Anything else raises ``NotCompiled`` naming the construct (``if-then-else``, ``*``, ``in``,
a method, an extension constant) or the kinds (``contains on bool, long``): when the tree
is built (``TreeBuilder``) for the whole policy, when it is emitted (``emit_policy``) for
that signature only. The policy then takes its fallback, the closures
(``batch.closures``), which are exact for every kind; ``batch.program`` drives the tiers.

Names in the generated code (``def _batch(cols, n, b, fallback, satisfied, errored)``,
assembled by ``batch.program``):

==============  ==========================================================================
``cols``        the batch's leaf columns (``columns.Col``), in ``TreeBuilder.leaves``
                order: ``cols[k].v`` values, ``cols[k].err`` error mask (a per-row
                set's elements through ``columns.row_elements``)
``n``           the number of rows
``b``           the ``BatchInput`` (what a fallback reads)
``fallback``    per policy, its fallback tier: ``fallback[i](b)`` -> (satisfied, errored)
``satisfied``   (policies x n): row i is where policy i was satisfied
``errored``     (policies that can error x n): one row per policy that can raise
``t<k>``        temporaries (a subexpression met again reuses its name)
``_T``, ``_F``  numpy True / False
``_c<k>``       a constant set
``_in_cset``, ``_in_rowsets``, ``_checked``: ``in_cset``, ``in_rowsets``, ``checked`` here
==============  ==========================================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from tradeswarm.policy.batch.columns import Col, row_elements
from tradeswarm.policy.entities import from_json
from tradeswarm.policy.est import NotCompiled, context_path, free_vars
from tradeswarm.policy.kinds import Kind
from tradeswarm.policy.values import CSet, Decimal

#: A leaf's entry in a signature: its kind, whether it has an error mask, whether it is a
#: per-row set (``columns.per_row_set``; else one set for every row).
LeafSig = tuple[Kind, bool, bool]
#: What ``Emitter.node`` answers: the value's name or source, its kind, its error mask's.
Emitted = tuple[str, Kind, str | None]


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
_TYPED = (Kind.BOOL, Kind.LONG, Kind.DECIMAL, Kind.STRING)
_MEMBER_TYPES = {Kind.STRING: "str", Kind.LONG: "int"}


def in_cset(items: CSet, col: Any, wanted: type) -> Any:
    """``set.contains(x)`` for a constant set and a column of ``wanted`` (str or int)."""
    members: list[Any] = [m for m in items.values if type(m) is wanted]
    if not members:
        return np.zeros(np.shape(col), dtype=bool)
    if len(members) > 8:
        return np.isin(col, members)
    out = np.equal(col, members[0])
    for m in members[1:]:
        out = out | np.equal(col, m)
    return out


def in_rowsets(col: Col, item: Any, n: int) -> Any:
    """``sets.contains(x)`` for a per-row set column (``columns.row_elements``)."""
    flat, row = row_elements(col)
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
    """Emits one policy set's code for one signature (a ``LeafSig`` per leaf)."""

    def __init__(self, kinds: tuple[LeafSig, ...]) -> None:
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
        self.memo: dict[Any, Emitted] = {}

    def tmp(self, expr: str) -> str:
        self.count += 1
        name = f"t{self.count}"
        self.lines.append(f"    {name} = {expr}")
        return name

    def const(self, value: Any) -> Emitted:
        kind = type(value)
        if kind is bool:
            return ("_T" if value else "_F"), Kind.BOOL, None
        if kind is int:
            return f"np.int64({value})", Kind.LONG, None
        if kind is str:
            return repr(value), Kind.STRING, None
        if kind is Decimal:
            return f"np.int64({value.v})", Kind.DECIMAL, None
        if kind is CSet:
            name = f"_c{len(self.namespace)}"
            self.namespace[name] = value
            return name, Kind.SET, None
        raise NotCompiled(f"constant of type {kind.__name__}")

    def rowsets(self, ir: tuple[Any, ...]) -> bool:
        """Whether the node is a leaf holding a per-row set (else a set is constant)."""
        return ir[0] == "leaf" and self.kinds[ir[1]][2] is True

    def node(self, ir: tuple[Any, ...]) -> Emitted:
        op = ir[0]
        if op == "leaf":
            kind, has_err, _ = self.kinds[ir[1]]
            return f"cols[{ir[1]}].v", kind, (f"cols[{ir[1]}].err" if has_err else None)
        if op == "const":
            return self.const(ir[1])
        key = _typed_key(ir)
        found = self.memo.get(key)
        if found is not None:  # the same subexpression emitted before: reuse its names
            return found
        emit = _EMIT.get(op)
        if emit is None:
            raise NotCompiled(op)
        result: Emitted = emit(self, ir)
        self.memo[key] = result
        return result

    def err_or(self, *errs: str | None) -> str | None:
        present = [e for e in errs if e is not None]
        if not present:
            return None
        return present[0] if len(present) == 1 else self.tmp(" | ".join(present))

    def boolean(self, ir: tuple[Any, ...]) -> tuple[str, str | None]:
        v, kind, err = self.node(ir)
        if kind is not Kind.BOOL:
            raise NotCompiled(f"{kind} where a bool is needed")
        return v, err


def _typed_key(ir: Any) -> Any:
    """The IR with every constant tagged by its type (``True == 1`` in Python)."""
    if type(ir) is tuple:
        if ir and ir[0] == "const":
            return ("const", type(ir[1]).__name__, ir[1])
        return tuple(_typed_key(part) for part in ir)
    return ir


def _logic(e: Emitter, ir: tuple[Any, ...]) -> Emitted:
    lv, le = e.boolean(ir[1])
    rv, re_ = e.boolean(ir[2])
    is_and = ir[0] == "&&"
    value = e.tmp(f"{lv} & {rv}" if is_and else f"{lv} | {rv}")
    if re_ is None:
        return value, Kind.BOOL, le
    goes_on = lv if is_and else f"~{lv}"
    err = e.tmp(f"{goes_on} & {re_}" if le is None else f"{le} | (~{le} & {goes_on} & {re_})")
    return value, Kind.BOOL, err


def _not(e: Emitter, ir: tuple[Any, ...]) -> Emitted:
    v, err = e.boolean(ir[1])
    return e.tmp(f"~{v}"), Kind.BOOL, err


def _eq(e: Emitter, ir: tuple[Any, ...]) -> Emitted:
    lv, lk, le = e.node(ir[1])
    rv, rk, re_ = e.node(ir[2])
    if lk not in _TYPED or rk not in _TYPED or (ir[1][0] == ir[2][0] == "const"):
        raise NotCompiled(f"{ir[0]} on {lk}, {rk}")
    ufunc = "np.equal" if ir[0] == "==" else "np.not_equal"
    differ = "_F" if ir[0] == "==" else "_T"  # values of different types are never equal
    value = e.tmp(f"{ufunc}({lv}, {rv})") if lk == rk else differ
    return value, Kind.BOOL, e.err_or(le, re_)


def _ordered(kind: Kind, names: dict[str, str]) -> Any:
    def emit(e: Emitter, ir: tuple[Any, ...]) -> Emitted:
        lv, lk, le = e.node(ir[1])
        rv, rk, re_ = e.node(ir[2])
        if lk is not kind or rk is not kind:
            raise NotCompiled(f"{ir[0]} on {lk}, {rk}")
        return e.tmp(f"np.{names[ir[0]]}({lv}, {rv})"), Kind.BOOL, e.err_or(le, re_)

    return emit


def _arith(e: Emitter, ir: tuple[Any, ...]) -> Emitted:
    lv, lk, le = e.node(ir[1])
    rv, rk, re_ = e.node(ir[2])
    if lk is not Kind.LONG or rk is not Kind.LONG:
        raise NotCompiled(f"{ir[0]} on {lk}, {rk}")
    value = e.tmp(f"_checked({ir[0]!r}, {lv}, {rv}, n)")
    return e.tmp(f"{value}[0]"), Kind.LONG, e.err_or(le, re_, e.tmp(f"{value}[1]"))


def _contains(e: Emitter, ir: tuple[Any, ...]) -> Emitted:
    sv, sk, se = e.node(ir[1])
    iv, ik, ie = e.node(ir[2])
    per_row = e.rowsets(ir[1])
    if sk is Kind.SET and not per_row and ik in _MEMBER_TYPES:
        value = e.tmp(f"_in_cset({sv}, {iv}, {_MEMBER_TYPES[ik]})")
        return value, Kind.BOOL, e.err_or(se, ie)
    if sk is Kind.SET and per_row and ik is Kind.STRING:
        value = e.tmp(f"_in_rowsets(cols[{ir[1][1]}], {iv}, n)")
        return value, Kind.BOOL, e.err_or(se, ie)
    raise NotCompiled(f"contains on {sk}, {ik}")


_EMIT: dict[str, Any] = {
    "&&": _logic,
    "||": _logic,
    "!": _not,
    "==": _eq,
    "!=": _eq,
    "+": _arith,
    "-": _arith,
    "contains": _contains,
    **{op: _ordered(Kind.LONG, _CMP) for op in _CMP},
    **{op: _ordered(Kind.DECIMAL, _DEC) for op in _DEC},
}


class TreeBuilder:
    """EST -> the generator's tree, registering leaves (shared across policies); raises
    ``NotCompiled`` for a construct outside the tree (the policy takes the closures)."""

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
        raise NotCompiled(op)

    def sub(self, node: dict[str, Any]) -> tuple[Any, ...]:
        return self.build(node, free_vars(node))


@dataclass(frozen=True, slots=True)
class PolicyTree:
    """One policy for the generator: its scope leaf and (is_unless, tree) per condition."""

    index: int
    scope: tuple[Any, ...]
    conditions: tuple[tuple[bool, tuple[Any, ...]], ...]


def emit_policy(e: Emitter, tree: PolicyTree) -> tuple[str, str | None]:
    """Lines computing the policy's satisfied and errored rows (in ``e.lines``); their
    names. Raises ``NotCompiled`` when the signature's kinds are not emitted."""
    active, scope_err = e.boolean(tree.scope)
    if scope_err is not None:
        raise NotCompiled("scope with errors")
    err: str | None = None
    for negate, body in tree.conditions:
        v, ce = e.boolean(body)
        if ce is not None:
            hit = e.tmp(f"{active} & {ce}")
            err = hit if err is None else e.tmp(f"{err} | {hit}")
            active = e.tmp(f"{active} & ~{ce}")
        active = e.tmp(f"{active} & ~{v}" if negate else f"{active} & {v}")
    return active, err
