"""The batch path's first tier: the policy set as one numba kernel per batch signature.

The kernel is generated from the same per-policy trees the emitter reads (``emit.PolicyTree``,
``emit.TreeBuilder``) for one signature (the leaves' kinds), and compiled to machine code
by numba (``batch.jit``, cached on disk): one loop over the rows that computes, per row,
every covered policy's satisfied and errored bits with the emitter's mask algebra written
for scalars (Cedar's short-circuits as ``&`` / ``|`` on bools, error bits where an input
can error or arithmetic can overflow), and writes two int64 masks per row. The columns it
reads are arrays of one machine type each:

============================  ================================================================
leaf kind                     what the kernel reads
============================  ================================================================
``BOOL``                      a bool array (one value for every row: a stride-0 view)
``LONG``, ``DECIMAL``         an int64 array (decimals as ten-thousandths)
``STRING``                    int64 category codes in the batch's vocabulary: the policies'
                              string constants first (their codes are literals in the
                              source), then every other string the batch's columns hold
one set for every row         a bitmap over the vocabulary (``contains`` of a string) and the
                              sorted longs it holds (``contains`` of a long)
a set per row                 offsets: each row's ``start`` / ``stop`` into the flat codes
                              of its elements (a set shared by many rows is stored once)
an error mask                 a bool array, for the leaves whose signature has one
============================  ================================================================

What is compiled: the emitter's constructs (``&&``, ``||``, ``!``, ``==`` / ``!=`` on bool,
long, decimal and string, ``<`` ``<=`` ``>`` ``>=`` and checked ``+`` ``-`` on longs, the
decimal comparisons, ``contains`` on a constant set or a per-row set of strings, ``has`` on
the context). ``NotCompiled`` names what is not (the same words as the emitter's) and the
policy takes the emit tier for that signature; so does every policy past bit 62 of the
masks. A policy the emitter declines whole is never offered here.

Names in the generated source (``def kernel(n, ..., sat, err)``): ``a<k>`` leaf k's values
(codes for a string), ``ae<k>`` its error mask, ``lut<k>`` / ``li<k>`` a constant set's
bitmap and longs, ``st<k>`` / ``sp<k>`` / ``fl<k>`` a per-row set's offsets and flat codes,
``ks<j>`` the j-th set literal of the policies (bitmap ``ksl<j>``, longs ``ksi<j>``); in the
loop ``x<k>`` / ``y<k>`` leaf k's value and error at row i, ``t<k>`` temporaries, ``s`` /
``e`` the row's satisfied and errored masks. A ``# policy <id>`` comment heads each
policy's lines; the source is a real file (``batch.jit``), so a traceback shows them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tradeswarm.policy.batch.emit import _CMP, _DEC, LeafSig, PolicyTree, _typed_key
from tradeswarm.policy.est import NotCompiled
from tradeswarm.policy.kinds import Kind
from tradeswarm.policy.values import CSet, Decimal

#: The masks are int64: bits 0..62 (bit 63 is the sign).
MAX_POLICIES = 63
_TYPED = (Kind.BOOL, Kind.LONG, Kind.DECIMAL, Kind.STRING)
_NUMBA_TYPE = {"B": "_B", "I": "_I"}
_IND = " " * 8
#: What ``KernelEmitter.node`` answers: the value's name or source (a set's handle), its
#: kind, its error's name (None when it cannot error).
Node = tuple[str, Kind, str | None]


@dataclass(frozen=True, slots=True)
class Arg:
    """One argument of the kernel: its name, ``B`` (bool) or ``I`` (int64), and what it
    is made of: ``(recipe, leaf or literal index)`` (see ``marshal``)."""

    name: str
    dtype: str
    recipe: str
    index: int
    entity: bool = False  # an entity leaf's: per entity, read through its index


@dataclass
class KernelSource:
    """A kernel's source, its arguments, the string constants' codes and set literals,
    the policies it covers and why it declined the others (policy index -> reason)."""

    source: str
    args: list[Arg]
    strings: dict[str, int]
    literals: list[CSet]
    covered: list[int]
    declined: dict[int, str] = field(default_factory=dict)


def _neg(x: str) -> str:
    return f"(not {x})"


class KernelEmitter:
    """Emits the loop body of one policy set's kernel for one signature."""

    def __init__(self, kinds: tuple[LeafSig, ...], entity: Sequence[bool]) -> None:
        self.kinds = kinds
        self.entity = entity
        self.lines: list[str] = []
        self.count = 0
        self.memo: dict[Any, Node] = {}
        self.args: dict[str, Arg] = {}
        self.strings: dict[str, int] = {}
        self.literals: list[CSet] = []

    def state(self) -> tuple[Any, ...]:
        return (len(self.lines), self.count, dict(self.memo), dict(self.args),
                dict(self.strings), len(self.literals))  # fmt: skip

    def restore(self, state: tuple[Any, ...]) -> None:
        lines, self.count, self.memo, self.args, self.strings, literals = state
        del self.lines[lines:]
        del self.literals[literals:]

    def tmp(self, expr: str) -> str:
        self.count += 1
        name = f"t{self.count}"
        self.lines.append(f"{_IND}{name} = {expr}")
        return name

    def arg(self, name: str, dtype: str, recipe: str, index: int) -> str:
        entity = (
            recipe in ("index", "err", "value")
            and self.entity[index]
            and self.kinds[index][0] is not Kind.SET
        )
        self.args.setdefault(name, Arg(name, dtype, recipe, index, entity))
        return name

    def err_or(self, *errs: str | None) -> str | None:
        present = [e for e in errs if e is not None]
        if not present:
            return None
        return present[0] if len(present) == 1 else self.tmp(" | ".join(present))

    def leaf(self, k: int) -> Node:
        kind, has_err, per_row = self.kinds[k]
        if kind is Kind.SET:
            return self.set_leaf(k, kind, has_err, per_row)
        if kind not in _TYPED:
            raise NotCompiled(f"a leaf of kind {kind}")
        at = "[i]"
        if self.entity[k]:  # per entity, read through the row's entity index
            at = f"[q{k}]"
            if f"ix{k}" not in self.args:
                self.arg(f"ix{k}", "I", "index", k)
                self.lines.append(f"{_IND}q{k} = ix{k}[i]")
        err = None
        if has_err:
            err = f"y{k}"
            if f"ae{k}" not in self.args:
                self.arg(f"ae{k}", "B", "err", k)
                self.lines.append(f"{_IND}{err} = ae{k}{at}")
        if f"a{k}" not in self.args:
            self.arg(f"a{k}", "B" if kind is Kind.BOOL else "I", "value", k)
            self.lines.append(f"{_IND}x{k} = a{k}{at}")
        return f"x{k}", kind, err

    def set_leaf(self, k: int, kind: Kind, has_err: bool, per_row: bool) -> Node:
        """A set: a handle the ``contains`` lines read (its error read here)."""
        err = None
        if has_err:
            err = f"y{k}"
            if f"ae{k}" not in self.args:
                self.arg(f"ae{k}", "B", "err", k)
                self.lines.append(f"{_IND}{err} = ae{k}[i]")
        if per_row:
            for name in (f"st{k}", f"sp{k}", f"fl{k}"):
                self.arg(name, "I", name[:2], k)
            return f"rowset:{k}", kind, err
        self.arg(f"lut{k}", "B", "lut", k)
        self.arg(f"li{k}", "I", "li", k)
        return f"set:lut{k}:li{k}", kind, err

    def const(self, value: Any) -> Node:
        kind = type(value)
        if kind is bool:
            return ("True" if value else "False"), Kind.BOOL, None
        if kind is int:
            return f"np.int64({value})", Kind.LONG, None
        if kind is str:
            code = self.strings.setdefault(value, len(self.strings))
            return f"np.int64({code})", Kind.STRING, None
        if kind is Decimal:
            return f"np.int64({value.v})", Kind.DECIMAL, None
        if kind is CSet:
            j = len(self.literals)
            self.literals.append(value)
            self.arg(f"ksl{j}", "B", "ksl", j)
            self.arg(f"ksi{j}", "I", "ksi", j)
            return f"set:ksl{j}:ksi{j}", Kind.SET, None
        raise NotCompiled(f"constant of type {kind.__name__}")

    def node(self, ir: tuple[Any, ...]) -> Node:
        op = ir[0]
        if op == "leaf":
            return self.leaf(ir[1])
        if op == "const":
            return self.const(ir[1])
        key = _typed_key(ir)
        found = self.memo.get(key)
        if found is not None:
            return found
        emit = _KERNEL.get(op)
        if emit is None:
            raise NotCompiled(op)
        result: Node = emit(self, ir)
        self.memo[key] = result
        return result

    def boolean(self, ir: tuple[Any, ...]) -> tuple[str, str | None]:
        v, kind, err = self.node(ir)
        if kind is not Kind.BOOL:
            raise NotCompiled(f"{kind} where a bool is needed")
        return v, err


def _logic(e: KernelEmitter, ir: tuple[Any, ...]) -> Node:
    lv, le = e.boolean(ir[1])
    rv, re_ = e.boolean(ir[2])
    is_and = ir[0] == "&&"
    value = e.tmp(f"{lv} & {rv}" if is_and else f"{lv} | {rv}")
    if re_ is None:
        return value, Kind.BOOL, le
    goes_on = lv if is_and else _neg(lv)
    err = e.tmp(f"{goes_on} & {re_}" if le is None else f"{le} | ({_neg(le)} & {goes_on} & {re_})")
    return value, Kind.BOOL, err


def _not(e: KernelEmitter, ir: tuple[Any, ...]) -> Node:
    v, err = e.boolean(ir[1])
    return e.tmp(_neg(v)), Kind.BOOL, err


def _eq(e: KernelEmitter, ir: tuple[Any, ...]) -> Node:
    lv, lk, le = e.node(ir[1])
    rv, rk, re_ = e.node(ir[2])
    if lk not in _TYPED or rk not in _TYPED or (ir[1][0] == ir[2][0] == "const"):
        raise NotCompiled(f"{ir[0]} on {lk}, {rk}")
    op = "==" if ir[0] == "==" else "!="
    differ = "False" if ir[0] == "==" else "True"  # values of different kinds never equal
    value = e.tmp(f"{lv} {op} {rv}") if lk == rk else differ
    return value, Kind.BOOL, e.err_or(le, re_)


_PY_CMP = {"less": "<", "less_equal": "<=", "greater": ">", "greater_equal": ">="}


def _ordered(kind: Kind, names: Mapping[str, str]) -> Callable[[KernelEmitter, Any], Node]:
    def emit(e: KernelEmitter, ir: tuple[Any, ...]) -> Node:
        lv, lk, le = e.node(ir[1])
        rv, rk, re_ = e.node(ir[2])
        if lk is not kind or rk is not kind:
            raise NotCompiled(f"{ir[0]} on {lk}, {rk}")
        return e.tmp(f"{lv} {_PY_CMP[names[ir[0]]]} {rv}"), Kind.BOOL, e.err_or(le, re_)

    return emit


def _arith(e: KernelEmitter, ir: tuple[Any, ...]) -> Node:
    """64-bit ``+`` / ``-`` (numba's integers wrap) and the overflow bit."""
    lv, lk, le = e.node(ir[1])
    rv, rk, re_ = e.node(ir[2])
    if lk is not Kind.LONG or rk is not Kind.LONG:
        raise NotCompiled(f"{ir[0]} on {lk}, {rk}")
    r = e.tmp(f"{lv} {ir[0]} {rv}")
    if ir[0] == "+":
        overflow = e.tmp(f"(({lv} ^ {r}) & ({rv} ^ {r})) < 0")
    else:
        overflow = e.tmp(f"(({lv} ^ {rv}) & ({lv} ^ {r})) < 0")
    return r, Kind.LONG, e.err_or(le, re_, overflow)


def _contains(e: KernelEmitter, ir: tuple[Any, ...]) -> Node:
    sv, sk, se = e.node(ir[1])
    iv, ik, ie = e.node(ir[2])
    err = e.err_or(se, ie)
    if sk is Kind.SET and sv.startswith("set:") and ik is Kind.STRING:
        lut = sv.split(":")[1]
        return e.tmp(f"{lut}[{iv}]"), Kind.BOOL, err
    if sk is Kind.SET and sv.startswith("set:") and ik is Kind.LONG:
        longs = sv.split(":")[2]
        return _scan(e, longs, f"{longs}.shape[0]", "0", iv), Kind.BOOL, err
    if sk is Kind.SET and sv.startswith("rowset:") and ik is Kind.STRING:
        k = sv.split(":")[1]
        return _scan(e, f"fl{k}", f"sp{k}[i]", f"st{k}[i]", iv), Kind.BOOL, err
    raise NotCompiled(f"contains on {sk}, {ik}")


def _scan(e: KernelEmitter, items: str, stop: str, start: str, item: str) -> str:
    """Lines that look for ``item`` in ``items[start:stop]``; the name of the answer."""
    hit = e.tmp("False")
    j = f"j{e.count}"
    e.lines += [
        f"{_IND}for {j} in range({start}, {stop}):",
        f"{_IND}    if {items}[{j}] == {item}:",
        f"{_IND}        {hit} = True",
    ]
    return hit


_KERNEL: dict[str, Callable[[KernelEmitter, Any], Node]] = {
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


def kernel_policy(e: KernelEmitter, tree: PolicyTree) -> tuple[str, str | None]:
    """The names of the policy's satisfied and errored bits for the row (lines in
    ``e.lines``); ``NotCompiled`` when the signature's kinds are not compiled."""
    active, scope_err = e.boolean(tree.scope)
    if scope_err is not None:
        raise NotCompiled("scope with errors")
    err: str | None = None
    for negate, body in tree.conditions:
        v, ce = e.boolean(body)
        if ce is not None:
            hit = e.tmp(f"{active} & {ce}")
            err = hit if err is None else e.tmp(f"{err} | {hit}")
            active = e.tmp(f"{active} & {_neg(ce)}")
        active = e.tmp(f"{active} & {_neg(v)}" if negate else f"{active} & {v}")
    return active, err


def _policy_lines(
    e: KernelEmitter, index: int, tree: PolicyTree, comment: str
) -> tuple[bool, str | None]:
    """Policy ``index``'s lines appended to ``e.lines``: whether it was compiled, else why."""
    if index >= MAX_POLICIES:
        return False, f"policy past bit {MAX_POLICIES - 1} of the kernel's masks"
    saved = e.state()
    e.lines.append(f"{_IND}{comment}")
    try:
        sat, err = kernel_policy(e, tree)
    except NotCompiled as exc:
        e.restore(saved)
        return False, str(exc)
    bit = 1 << index
    e.lines += [f"{_IND}if {sat}:", f"{_IND}    s |= np.int64({bit})"]
    if err is not None:
        e.lines += [f"{_IND}if {err}:", f"{_IND}    e |= np.int64({bit})"]
    return True, None


def generate(
    kinds: tuple[LeafSig, ...],
    entity: Sequence[bool],
    trees: Sequence[tuple[int, PolicyTree, str]],
    title: str,
) -> KernelSource:
    """The kernel's source for the given (policy index, tree, ``# policy`` comment)s;
    ``entity`` says which leaves are entity-only expressions (read through an index)."""
    e = KernelEmitter(kinds, entity)
    covered: list[int] = []
    declined: dict[int, str] = {}
    for index, tree, comment in trees:
        done, why = _policy_lines(e, index, tree, comment)
        if done:
            covered.append(index)
        else:
            declined[index] = f"kernel declined: {why}"
    args = list(e.args.values())
    params = ", ".join(["n", *(a.name for a in args), "sat", "err"])
    types = ", ".join(["types.int64", *(_NUMBA_TYPE[a.dtype] for a in args), "_M", "_M"])
    source = "\n".join(
        [
            f'"""{title}"""',
            "",
            "import numpy as np",
            "from numba import types",
            "",
            '_B = types.Array(types.boolean, 1, "A", readonly=True)',
            '_I = types.Array(types.int64, 1, "A", readonly=True)',
            '_M = types.Array(types.int64, 1, "C")',
            f"SIGNATURE = types.void({types})",
            "",
            "",
            f"def kernel({params}):",
            "    for i in range(n):",
            f"{_IND}s = np.int64(0)",
            f"{_IND}e = np.int64(0)",
            *e.lines,
            f"{_IND}sat[i] = s",
            f"{_IND}err[i] = e",
            "",
        ]
    )
    return KernelSource(source, args, e.strings, e.literals, covered, declined)
