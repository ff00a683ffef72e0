"""The batch path's second tier: a policy as a tree of closures running numpy on columns.

``batch.program`` runs a policy here when the first tier (``batch.emit``) declines it:
for the whole policy (a construct outside the emitter, measured below) or for one batch
signature (kinds the emitter does not emit, ``contains on bool, long``). Unlike the
emitted code the closures are exact for every kind: they look at each column's kind when
they run and take a per-row route for an unusual mix (``_elementwise``), so no signature
ever sends a policy further down. What they do not compile raises ``NotCompiled`` when the
program is built, and the policy is decided row by row with its scalar function (the
third tier).

Each policy compiles to a tree of numpy operations over columns (``columns.Col``):
context attributes become columns, and any subexpression that reads only principal,
action and resource (entity attributes, scope tests, ``principal.desk.limit``) is
evaluated once per distinct entity with the scalar code and gathered to rows. Errors are
per-row masks that follow Cedar's short-circuits.

========================  ==================================================================
construct                 how
========================  ==================================================================
``&&`` ``||`` ``!``       mask algebra with Cedar's short-circuits
if-then-else              both branches, picked per row (errors only from the branch taken)
``==`` ``!=``             numpy for two typed kinds, Cedar's ``==`` per row otherwise
``<`` ``<=`` ``>`` ``>=``  numpy on longs, the runtime's comparison per row otherwise
``+`` ``-`` ``*``         checked 64-bit numpy arithmetic
decimal comparisons       numpy on decimals
``contains``              a constant set, a per-row set of strings, per entity, per row
``has`` on the context    ``BatchInput.has``
every strict operator     per row with the runtime's function (``_STRICT``): ``in``,
                          ``containsAll``, ``containsAny``, ``isEmpty``, unary ``-``,
                          ``like``, ``is``, ``has`` and ``.`` on a computed value,
                          ``getTag``, ``hasTag``, set and record literals, extension
                          functions and methods
========================  ==================================================================

Declined (the policy runs per row): ``is ... in`` (its ``in`` is evaluated only where the
``is`` holds). Measured on Cedar's corpus (3,987 policies, 31,730 requests): 3,984
policies emitted, 1 through the closures (``context.source_ip == ip(...)``: an extension
constant the emitter does not emit), 2 ran per row until the strict operators were added
here (``isLoopback``, ``isInRange`` on a context attribute) and take the closures now. On
the random policies of the property tests (one seed, 287 emissions) the emitter took 147,
the closures 88 and the rows 52 before (``containsAny``, ``in``, unary ``-``); now the
closures take 140 (if-then-else most often, then the strict operators, the kinds the
emitter declines and ``*``) and the rows none. ``BatchProgram.plan`` and
``BatchProgram.tier_counts`` say which tier decided what.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tradeswarm.policy import runtime
from tradeswarm.policy.batch.columns import (
    Col,
    broadcast,
    err_or,
    from_values,
    full_err,
    gather,
    per_row_set,
    row_elements,
)
from tradeswarm.policy.batch.input import BatchInput
from tradeswarm.policy.entities import EntityStore, from_json
from tradeswarm.policy.est import NotCompiled, context_path, free_vars
from tradeswarm.policy.kinds import Kind
from tradeswarm.policy.scalar import generic as codegen
from tradeswarm.policy.values import I64_MAX, I64_MIN, CSet, Decimal, ceq

VecFn = Callable[[BatchInput], Col]
#: A strict operator's function of one row's operand values, given the entity store.
RowFn = Callable[[EntityStore], Callable[..., Any]]
_ORDER = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal}
_DEC_ORDER = {
    "lessThan": np.less,
    "lessThanOrEqual": np.less_equal,
    "greaterThan": np.greater,
    "greaterThanOrEqual": np.greater_equal,
}
_TYPED = (Kind.BOOL, Kind.LONG, Kind.DECIMAL, Kind.STRING)
_PYTYPE = {Kind.BOOL: bool, Kind.LONG: int, Kind.DECIMAL: Decimal, Kind.STRING: str}
_INT64 = (Kind.LONG, Kind.DECIMAL)


def const_col(value: Any) -> Col:
    kind = type(value)
    if kind is bool:
        return Col(Kind.BOOL, np.bool_(value))
    if kind is int:
        return Col(Kind.LONG, np.int64(value))
    if kind is str:
        return Col(Kind.STRING, value)
    if kind is Decimal:
        return Col(Kind.DECIMAL, np.int64(value.v))
    return Col(Kind.SET if kind is CSet else Kind.ANY, value)


def _wrong_kind(kind: Kind, n: int) -> tuple[Any, Any]:
    """A placeholder of ``kind``'s dtype, every row a type error."""
    return np.zeros(n, dtype=np.int64 if kind in _INT64 else bool), full_err(n)


def as_kind(col: Col, kind: Kind, n: int) -> tuple[Any, Any]:
    """The column's values as ``kind`` and the rows where they are not (a type error)."""
    if col.kind is kind:
        return col.v, col.err
    if col.kind is not Kind.ANY:
        return _wrong_kind(kind, n)
    full = broadcast(col, n)
    pytype = _PYTYPE[kind]
    good = np.fromiter((type(x) is pytype for x in full.v), dtype=bool, count=n)
    vals = [x if type(x) is pytype else None for x in full.v]
    typed = from_values(vals, ~good)
    if typed.kind is not kind:  # no row holds a good value: any placeholder of the right dtype
        return _wrong_kind(kind, n)
    return typed.v, err_or(full.err, ~good)


class VectorCompiler:
    """EST -> a function from a BatchInput to a Col; ``NotCompiled`` for a construct the
    closures do not compile (see the module docstring)."""

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
            raise NotCompiled(op)
        result: VecFn = build(self, arg)
        return result

    def _per_entity(self, node: dict[str, Any]) -> VecFn:
        variables = sorted(free_vars(node))
        src = self.gen.expr(node).src
        fn = eval(f"lambda P, A, R, E: {src}", self.gen.namespace)  # our own generated source
        return lambda b: evaluate_per_entity(b, fn, variables, src)


def evaluate_per_entity(b: BatchInput, fn: Any, variables: list[str], memo: str) -> Col:
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
            lv, le = as_kind(left(b), Kind.BOOL, b.n)
            rv, re_ = as_kind(right(b), Kind.BOOL, b.n)
            goes_on = lv if is_and else ~lv
            err = (
                le
                if re_ is None
                else err_or(le, goes_on & re_ if le is None else ~le & goes_on & re_)
            )
            return Col(Kind.BOOL, (lv & rv) if is_and else (lv | rv), err)

        return run

    return build


def _not(c: VectorCompiler, arg: Any) -> VecFn:
    inner = c.compile(arg["arg"])

    def run(b: BatchInput) -> Col:
        v, err = as_kind(inner(b), Kind.BOOL, b.n)
        return Col(Kind.BOOL, ~v, err)

    return run


def _equal(a: Col, b_: Col, n: int) -> Col:
    err = err_or(a.err, b_.err)
    if a.kind is b_.kind and a.kind in _TYPED:
        return Col(Kind.BOOL, np.asarray(a.v == b_.v, dtype=bool) & np.ones(n, dtype=bool), err)
    if a.kind in _TYPED and b_.kind in _TYPED:
        return Col(Kind.BOOL, np.zeros(n, dtype=bool), err)
    left, right = broadcast(a, n).values(), broadcast(b_, n).values()
    same = np.fromiter(map(ceq, left, right), dtype=bool, count=n)
    return Col(Kind.BOOL, same, err)


def _eq(negate: bool) -> Callable[[VectorCompiler, Any], VecFn]:
    def build(c: VectorCompiler, arg: Any) -> VecFn:
        left, right = c.compile(arg["left"]), c.compile(arg["right"])

        def run(b: BatchInput) -> Col:
            col = _equal(left(b), right(b), b.n)
            return Col(Kind.BOOL, ~col.v, col.err) if negate else col

        return run

    return build


_RUNTIME_ORDER = {"<": runtime.lt, "<=": runtime.le, ">": runtime.gt, ">=": runtime.ge}


def _compare(op: str) -> Callable[[VectorCompiler, Any], VecFn]:
    ufunc, per_row = _ORDER[op], _RUNTIME_ORDER[op]

    def build(c: VectorCompiler, arg: Any) -> VecFn:
        left, right = c.compile(arg["left"]), c.compile(arg["right"])

        def run(b: BatchInput) -> Col:
            lc, rc = left(b), right(b)
            if lc.kind is not Kind.LONG or rc.kind is not Kind.LONG:
                return _elementwise(per_row, [lc, rc], b.n)
            value = ufunc(lc.v, rc.v) & np.ones(b.n, dtype=bool)
            return Col(Kind.BOOL, value, err_or(lc.err, rc.err))

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
            lv, le = as_kind(left(b), Kind.LONG, b.n)
            rv, re_ = as_kind(right(b), Kind.LONG, b.n)
            value, overflow = _checked(op, np.broadcast_to(lv, (b.n,)), np.broadcast_to(rv, (b.n,)))
            return Col(Kind.LONG, value, err_or(le, re_, overflow))

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
            lv, le = as_kind(left(b), Kind.DECIMAL, b.n)
            rv, re_ = as_kind(right(b), Kind.DECIMAL, b.n)
            return Col(Kind.BOOL, ufunc(lv, rv) & np.ones(b.n, dtype=bool), err_or(le, re_))

        return run

    return build


def _contains(c: VectorCompiler, arg: Any) -> VecFn:
    left, right = c.compile(arg["left"]), c.compile(arg["right"])

    def run(b: BatchInput) -> Col:
        sets, items = left(b), right(b)
        err = err_or(sets.err, items.err)
        if sets.kind is Kind.SET and not per_row_set(sets):  # one set for every row
            return Col(Kind.BOOL, _members(sets.v, items, b.n), err)
        if sets.kind is Kind.SET and items.kind is Kind.STRING:  # a set per row
            hit = np.zeros(b.n, dtype=bool)
            item_v = broadcast(items, b.n).v
            flat, row = row_elements(sets)
            hit[row[flat == item_v[row]]] = True
            return Col(Kind.BOOL, hit, err)
        if sets.fact is not None and items.kind in _TYPED:
            return _contains_per_unique(sets, items, b.n, err)
        return _elementwise(runtime.contains, [sets, items], b.n)

    return run


def _members(cset: Any, items: Col, n: int) -> Any:
    if type(cset) is not CSet:
        return None
    if items.kind in (Kind.STRING, Kind.LONG):
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
    return Col(Kind.BOOL, out, err_or(err, bad if bad.any() else None))


def _has(c: VectorCompiler, arg: Any) -> VecFn:
    path, name = context_path(arg["left"]), arg["attr"]
    if path is None:  # a computed record or entity
        return _strict(c, [arg["left"]], lambda store: lambda x: runtime.has(x, name, store))
    return lambda b: b.has(path, name)


def _if(c: VectorCompiler, arg: Any) -> VecFn:
    cond, then, other = c.compile(arg["if"]), c.compile(arg["then"]), c.compile(arg["else"])

    def run(b: BatchInput) -> Col:
        cv, ce = as_kind(cond(b), Kind.BOOL, b.n)
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


def _strict(c: VectorCompiler, nodes: list[dict[str, Any]], row_fn: RowFn) -> VecFn:
    """A strict operator (every operand evaluated, an error in any is the result's):
    the operands as columns, the operator per row with the runtime's function."""
    parts = [c.compile(node) for node in nodes]

    def run(b: BatchInput) -> Col:
        return _elementwise(row_fn(b.store), [part(b) for part in parts], b.n)

    return run


def _unary(fn: Callable[[Any], Any]) -> Callable[[VectorCompiler, Any], VecFn]:
    return lambda c, arg: _strict(c, [arg["arg"]], lambda store: fn)


def _binary(fn: Callable[..., Any], reads_store: bool) -> Callable[[VectorCompiler, Any], VecFn]:
    def row_fn(store: EntityStore) -> Callable[..., Any]:
        return (lambda x, y: fn(x, y, store)) if reads_store else fn

    return lambda c, arg: _strict(c, [arg["left"], arg["right"]], row_fn)


def _function(name: str) -> Callable[[VectorCompiler, Any], VecFn]:
    """An extension function or method (``ip(context.src)``, ``context.src.isLoopback()``)."""
    fn = runtime.FUNCTIONS[name]
    return lambda c, args: _strict(c, list(args), lambda store: fn)


def _attr(c: VectorCompiler, arg: Any) -> VecFn:
    """``.`` on a computed record or entity (a context path is a column of its own)."""
    name = arg["attr"]
    return _strict(c, [arg["left"]], lambda store: lambda x: runtime.attr(x, name, store))


def _like(c: VectorCompiler, arg: Any) -> VecFn:
    pattern = runtime.like_pattern(arg["pattern"])
    return _strict(c, [arg["left"]], lambda store: lambda x: runtime.like(x, pattern))


def _is(c: VectorCompiler, arg: Any) -> VecFn:
    if "in" in arg:  # ``is T in e`` evaluates e only where the ``is`` holds: not strict
        raise NotCompiled("is ... in")
    entity_type = arg["entity_type"]
    return _strict(c, [arg["left"]], lambda store: lambda x: runtime.is_(x, entity_type))


def _set(c: VectorCompiler, items: Any) -> VecFn:
    return _strict(c, list(items), lambda store: lambda *xs: runtime.mkset(list(xs)))


def _record(c: VectorCompiler, fields: Any) -> VecFn:
    names = list(fields)
    nodes = [fields[k] for k in names]
    return _strict(c, nodes, lambda store: lambda *xs: dict(zip(names, xs, strict=True)))


#: The strict operators: per row with the runtime function the scalar code calls.
_STRICT: dict[str, Callable[[VectorCompiler, Any], VecFn]] = {
    **{name: _function(name) for name in runtime.FUNCTIONS if name not in _DEC_ORDER},
    "neg": _unary(runtime.neg),
    "isEmpty": _unary(runtime.is_empty),
    "in": _binary(runtime.in_, reads_store=True),
    "containsAll": _binary(runtime.contains_all, reads_store=False),
    "containsAny": _binary(runtime.contains_any, reads_store=False),
    "getTag": _binary(runtime.get_tag, reads_store=True),
    "hasTag": _binary(runtime.has_tag, reads_store=True),
    ".": _attr,
    "like": _like,
    "is": _is,
    "Set": _set,
    "Record": _record,
}


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
    **_STRICT,
}
