"""The batch path's closure vectorizer: a policy as a tree of numpy-running closures.

``batchprogram`` runs most policies as generated numpy code (``vectorgen``); this is the
general fallback it uses for any policy (or input kind) the generator does not emit.
Each policy compiles to a tree of numpy operations over columns (``columns.Col``): context
attributes become columns, and any subexpression that reads only principal, action and
resource (entity attributes, scope tests, ``principal.desk.limit``) is evaluated once per
distinct entity with the scalar code and gathered to rows. Errors are per-row masks that
follow Cedar's short-circuits. A policy using a construct outside the vectorized set is
evaluated row by row with its scalar function (``batchprogram``); ``batch_plan()`` says which.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tradeswarm.policy import runtime
from tradeswarm.policy.batch.columns import Col, broadcast, err_or, from_values, full_err, gather
from tradeswarm.policy.batch.input import BatchInput
from tradeswarm.policy.entities import from_json
from tradeswarm.policy.est import context_path, free_vars
from tradeswarm.policy.scalar import generic as codegen
from tradeswarm.policy.values import I64_MAX, I64_MIN, CSet, Decimal, ceq

VecFn = Callable[[BatchInput], Col]
_ORDER = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal}
_DEC_ORDER = {
    "lessThan": np.less,
    "lessThanOrEqual": np.less_equal,
    "greaterThan": np.greater,
    "greaterThanOrEqual": np.greater_equal,
}
_TYPED = ("bool", "long", "dec", "str")


class Unsupported(Exception):
    """A construct the vectorizer does not handle; the policy runs per row."""


def const_col(value: Any) -> Col:
    kind = type(value)
    if kind is bool:
        return Col("bool", np.bool_(value))
    if kind is int:
        return Col("long", np.int64(value))
    if kind is str:
        return Col("str", value)
    if kind is Decimal:
        return Col("dec", np.int64(value.v))
    return Col("cset" if kind is CSet else "obj", value)


def as_kind(col: Col, kind: str, n: int) -> tuple[Any, Any]:
    """The column's values as ``kind`` and the rows where they are not (a type error)."""
    if col.kind == kind:
        return col.v, col.err
    if col.kind != "obj":
        return np.zeros(n, dtype=np.int64 if kind in ("long", "dec") else bool), full_err(n)
    full = broadcast(col, n)
    pytype = {"bool": bool, "long": int, "dec": Decimal, "str": str}[kind]
    good = np.fromiter((type(x) is pytype for x in full.v), dtype=bool, count=n)
    vals = [x if type(x) is pytype else None for x in full.v]
    typed = from_values(vals, ~good)
    if typed.kind != kind:  # no row holds a good value: any placeholder of the right dtype
        return np.zeros(n, dtype=np.int64 if kind in ("long", "dec") else bool), full_err(n)
    return typed.v, err_or(full.err, ~good)


class VectorCompiler:
    """EST -> a function from a BatchInput to a Col."""

    def __init__(self, gen: codegen.Generator) -> None:
        self.gen = gen

    def compile(self, node: dict[str, Any]) -> VecFn:
        path = context_path(node)
        if path is not None:
            return lambda b: b.path(path)
        if "Value" in node:
            col = const_col(from_json(node["Value"], "policy literal"))
            return lambda b: col
        if "context" not in free_vars(node):
            return self._per_entity(node)
        ((op, arg),) = node.items()
        build = _OPS.get(op)
        if build is None:
            raise Unsupported(op)
        result: VecFn = build(self, arg)
        return result

    def _per_entity(self, node: dict[str, Any]) -> VecFn:
        variables = sorted(free_vars(node))
        src = self.gen.expr(node).src
        fn = eval(f"lambda P, A, R, E: {src}", self.gen.namespace)  # our own generated source
        return lambda b: _evaluate_per_entity(b, fn, variables, src)


def _evaluate_per_entity(b: BatchInput, fn: Any, variables: list[str], memo: str) -> Col:
    """Evaluate an entity-only expression once per distinct entity tuple, then gather."""
    cached: Col | None = b.memo.get(memo)
    if cached is not None:
        return cached
    col = _per_unique(b, fn, variables)
    b.memo[memo] = col
    return col


def _per_unique(b: BatchInput, fn: Any, variables: list[str]) -> Col:
    codes, uniques = b.entity_codes(variables)
    values: list[Any] = []
    errors = np.zeros(len(uniques), dtype=bool)
    for i, (p, a, r) in enumerate(uniques):
        try:
            values.append(fn(p, a, r, b.store))
        except Exception:
            values.append(None)
            errors[i] = True
    return gather(from_values(values, errors if errors.any() else None), codes)


def _logic(is_and: bool) -> Callable[[VectorCompiler, Any], VecFn]:
    def build(c: VectorCompiler, arg: Any) -> VecFn:
        left, right = c.compile(arg["left"]), c.compile(arg["right"])

        def run(b: BatchInput) -> Col:
            lv, le = as_kind(left(b), "bool", b.n)
            rv, re_ = as_kind(right(b), "bool", b.n)
            goes_on = lv if is_and else ~lv
            err = (
                le
                if re_ is None
                else err_or(le, goes_on & re_ if le is None else ~le & goes_on & re_)
            )
            return Col("bool", (lv & rv) if is_and else (lv | rv), err)

        return run

    return build


def _not(c: VectorCompiler, arg: Any) -> VecFn:
    inner = c.compile(arg["arg"])

    def run(b: BatchInput) -> Col:
        v, err = as_kind(inner(b), "bool", b.n)
        return Col("bool", ~v, err)

    return run


def _equal(a: Col, b_: Col, n: int) -> Col:
    err = err_or(a.err, b_.err)
    if a.kind == b_.kind and a.kind in _TYPED:
        return Col("bool", np.asarray(a.v == b_.v, dtype=bool) & np.ones(n, dtype=bool), err)
    if a.kind in _TYPED and b_.kind in _TYPED:
        return Col("bool", np.zeros(n, dtype=bool), err)
    left, right = broadcast(a, n).values(), broadcast(b_, n).values()
    same = np.fromiter(map(ceq, left, right), dtype=bool, count=n)
    return Col("bool", same, err)


def _eq(negate: bool) -> Callable[[VectorCompiler, Any], VecFn]:
    def build(c: VectorCompiler, arg: Any) -> VecFn:
        left, right = c.compile(arg["left"]), c.compile(arg["right"])

        def run(b: BatchInput) -> Col:
            col = _equal(left(b), right(b), b.n)
            return Col("bool", ~col.v, col.err) if negate else col

        return run

    return build


def _compare(op: str) -> Callable[[VectorCompiler, Any], VecFn]:
    ufunc = _ORDER[op]

    def build(c: VectorCompiler, arg: Any) -> VecFn:
        left, right = c.compile(arg["left"]), c.compile(arg["right"])

        def run(b: BatchInput) -> Col:
            lc, rc = left(b), right(b)
            if lc.kind != "long" or rc.kind != "long":
                return _elementwise(
                    getattr(runtime, {"<": "lt", "<=": "le", ">": "gt", ">=": "ge"}[op]),
                    [lc, rc],
                    b.n,
                )
            return Col("bool", ufunc(lc.v, rc.v) & np.ones(b.n, dtype=bool), err_or(lc.err, rc.err))

        return run

    return build


def _elementwise(fn: Callable[..., Any], cols: list[Col], n: int) -> Col:
    """Row-by-row fallback for unusual type mixes (still exactly Cedar's answer)."""
    rows = [broadcast(col, n).values() for col in cols]
    base = err_or(*(col.err for col in cols))
    prior = np.zeros(n, dtype=bool) if base is None else base
    values: list[Any] = []
    errors = prior.copy()
    for i, args in enumerate(zip(*rows, strict=True)):
        if prior[i]:
            values.append(None)
            continue
        try:
            values.append(fn(*args))
        except Exception:
            values.append(None)
            errors[i] = True
    return from_values(values, errors if errors.any() else None)


def _arith(op: str) -> Callable[[VectorCompiler, Any], VecFn]:
    def build(c: VectorCompiler, arg: Any) -> VecFn:
        left, right = c.compile(arg["left"]), c.compile(arg["right"])

        def run(b: BatchInput) -> Col:
            lv, le = as_kind(left(b), "long", b.n)
            rv, re_ = as_kind(right(b), "long", b.n)
            value, overflow = _checked(op, np.broadcast_to(lv, (b.n,)), np.broadcast_to(rv, (b.n,)))
            return Col("long", value, err_or(le, re_, overflow))

        return run

    return build


def _checked(op: str, a: Any, b: Any) -> tuple[Any, Any]:
    with np.errstate(over="ignore"):
        if op == "+":
            r = a + b
            return r, ((a ^ r) & (b ^ r)) < 0
        if op == "-":
            r = a - b
            return r, ((a ^ b) & (a ^ r)) < 0
        r = a * b
        exact = a.astype(object) * b.astype(object)
        bad = np.fromiter((x < I64_MIN or x > I64_MAX for x in exact), dtype=bool, count=len(a))
        return r, bad


def _decimal_compare(name: str) -> Callable[[VectorCompiler, Any], VecFn]:
    ufunc = _DEC_ORDER[name]

    def build(c: VectorCompiler, args: Any) -> VecFn:
        left, right = c.compile(args[0]), c.compile(args[1])

        def run(b: BatchInput) -> Col:
            lv, le = as_kind(left(b), "dec", b.n)
            rv, re_ = as_kind(right(b), "dec", b.n)
            return Col("bool", ufunc(lv, rv) & np.ones(b.n, dtype=bool), err_or(le, re_))

        return run

    return build


def _contains(c: VectorCompiler, arg: Any) -> VecFn:
    left, right = c.compile(arg["left"]), c.compile(arg["right"])

    def run(b: BatchInput) -> Col:
        sets, items = left(b), right(b)
        err = err_or(sets.err, items.err)
        if sets.kind == "cset":
            return Col("bool", _members(sets.v, items, b.n), err)
        if sets.kind == "set" and items.kind == "str":
            hit = np.zeros(b.n, dtype=bool)
            item_v = broadcast(items, b.n).v
            hit[sets.row[sets.flat == item_v[sets.row]]] = True
            return Col("bool", hit, err)
        if sets.fact is not None and items.kind in _TYPED:
            return _contains_per_unique(sets, items, b.n, err)
        return _elementwise(runtime.contains, [sets, items], b.n)

    return run


def _members(cset: Any, items: Col, n: int) -> Any:
    if type(cset) is not CSet:
        return None
    if items.kind in ("str", "long"):
        keys = cset.keys
        found = np.frompyfunc(keys.__contains__, 1, 1)(broadcast(items, n).v)
        return np.asarray(found, dtype=bool)
    return np.fromiter(
        (runtime.contains(cset, x) for x in broadcast(items, n).values()), dtype=bool, count=n
    )


def _contains_per_unique(sets: Col, items: Col, n: int, err: Any) -> Col:
    codes, uniques = sets.fact
    out = np.zeros(n, dtype=bool)
    bad = np.zeros(n, dtype=bool)
    for u, value in enumerate(uniques):
        rows = codes == u
        if type(value) is CSet:
            sub = Col(items.kind, broadcast(items, n).v[rows])
            out[rows] = _members(value, sub, int(rows.sum()))
        else:
            bad |= rows
    return Col("bool", out, err_or(err, bad if bad.any() else None))


def _has(c: VectorCompiler, arg: Any) -> VecFn:
    path = context_path(arg["left"])
    if path is None:
        raise Unsupported("has")
    name = arg["attr"]
    return lambda b: b.has(path, name)


def _if(c: VectorCompiler, arg: Any) -> VecFn:
    cond, then, other = c.compile(arg["if"]), c.compile(arg["then"]), c.compile(arg["else"])

    def run(b: BatchInput) -> Col:
        cv, ce = as_kind(cond(b), "bool", b.n)
        cv = np.broadcast_to(cv, (b.n,))
        tc, oc = broadcast(then(b), b.n), broadcast(other(b), b.n)
        terr = np.zeros(b.n, dtype=bool) if tc.err is None else tc.err
        oerr = np.zeros(b.n, dtype=bool) if oc.err is None else oc.err
        branch_err = np.where(cv, terr, oerr)
        err = err_or(ce, branch_err if ce is None else ~ce & branch_err)
        if tc.kind == oc.kind and tc.kind in _TYPED:
            return Col(tc.kind, np.where(cv, tc.v, oc.v), err)
        picked = [t if k else o for t, o, k in zip(tc.values(), oc.values(), cv, strict=True)]
        return from_values(picked, err)

    return run


_OPS: dict[str, Callable[[VectorCompiler, Any], VecFn]] = {
    "&&": _logic(True),
    "||": _logic(False),
    "!": _not,
    "==": _eq(False),
    "!=": _eq(True),
    "contains": _contains,
    "has": _has,
    "if-then-else": _if,
    **{op: _compare(op) for op in _ORDER},
    **{op: _arith(op) for op in ("+", "-", "*")},
    **{name: _decimal_compare(name) for name in _DEC_ORDER},
}
