"""A kernel at work: built for a signature (``build_kernel``), fed a batch's columns as
arrays of one machine type each (``marshal``: the table in ``batch.kernel``), run.

Not a tier of its own: ``batch.program`` asks for a kernel per signature and calls it
before the numpy code of the policies it does not cover. A kernel numba fails to compile
(whatever the reason) declines every policy with ``kernel failed: ...``: the emit tier
decides them, and nothing else changes.
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tradeswarm.policy.batch.columns import Col, Gathered, row_elements
from tradeswarm.policy.batch.emit import LeafSig, PolicyTree
from tradeswarm.policy.batch.jit import KernelCache, shared_cache
from tradeswarm.policy.batch.kernel import Arg, KernelSource, generate
from tradeswarm.policy.kinds import Kind
from tradeswarm.policy.values import CSet


def _full(value: Any, dtype: Any, n: int) -> Any:
    """A 1-d array of n values of dtype: the column itself, or a stride-0 view of one."""
    arr = np.asarray(value)
    if arr.dtype != dtype:
        arr = arr.astype(dtype)
    if arr.ndim == 1 and arr.shape[0] == n:
        return arr
    one = np.ascontiguousarray(arr.reshape(-1)[:1])
    return np.lib.stride_tricks.as_strided(one, shape=(n,), strides=(0,))


class Vocabulary:
    """A batch's string codes: the policies' constants first (their codes are literals in
    the kernel), then every other string in the order met."""

    def __init__(self, constants: Mapping[str, int]) -> None:
        self.codes = dict(constants)

    def code_list(self, strings: Sequence[Any]) -> Any:
        """Codes of a list of values (-1 for a value that is not a string)."""
        codes = self.codes
        out = np.empty(len(strings), dtype=np.int64)
        for k, s in enumerate(strings):
            out[k] = codes.setdefault(s, len(codes)) if type(s) is str else -1
        return out

    def column(self, col: Col, n: int) -> Any:
        """A string column's codes (its categories coded once, when it has them)."""
        if col.cats is not None:
            codes, strings = col.cats
            return _full(self.code_list(strings)[codes], np.int64, n)
        values = np.asarray(col.v)
        if values.ndim == 0:
            return _full(self.code_list([values.item()]), np.int64, n)
        uniques, inverse = np.unique(values, return_inverse=True)
        return self.code_list(uniques.tolist())[inverse.reshape(-1)]

    def bitmap(self, items: Any) -> Any:
        """A bool per code in use: whether the set holds that string."""
        lut = np.zeros(len(self.codes), dtype=bool)
        if type(items) is CSet:
            codes = self.codes
            lut[[codes[m] for m in items.values if type(m) is str and m in codes]] = True
        return lut


def _longs(items: Any) -> Any:
    """A constant set's longs, sorted (bools are not longs in Cedar)."""
    if type(items) is not CSet:
        return np.zeros(0, dtype=np.int64)
    return np.unique(np.array([m for m in items.values if type(m) is int], dtype=np.int64))


def _rowset(col: Col, vocab: Vocabulary, n: int) -> tuple[Any, Any, Any]:
    """A per-row set column as (start, stop, flat codes): a shared set stored once."""
    if col.cats is not None:
        codes, sets = col.cats
        members = [list(s.values) for s in sets]
        lengths = np.fromiter(map(len, members), dtype=np.int64, count=len(members))
        stops = np.cumsum(lengths)
        flat = vocab.code_list([m for ms in members for m in ms])
        return (stops - lengths)[codes], stops[codes], flat
    flat, row = row_elements(col)
    order = np.argsort(row, kind="stable")
    rows = np.asarray(row)[order]
    start = np.searchsorted(rows, np.arange(n), side="left")
    stop = np.searchsorted(rows, np.arange(n), side="right")
    return start, stop, vocab.code_list(list(np.asarray(flat, dtype=object)[order]))


_ROWSET = ("st", "sp", "fl")


def _entity(col: Col, n: int) -> Gathered:
    """An entity leaf as values per entity and an index (any other column: per row)."""
    if isinstance(col, Gathered):
        return col
    return Gathered(col.kind, _full(col.v, col.v.dtype, n), np.arange(n), col.err)


def _values(col: Col, vocab: Vocabulary, n: int, entity: bool) -> Any:
    if entity:
        uniques = _entity(col, n).uniques
        if col.kind is Kind.STRING:
            return vocab.code_list(uniques.tolist())
        return np.asarray(uniques, dtype=np.bool_ if col.kind is Kind.BOOL else np.int64)
    if col.kind is Kind.STRING:
        return vocab.column(col, n)
    return _full(col.v, np.bool_ if col.kind is Kind.BOOL else np.int64, n)


def _first_pass(a: Arg, col: Col, vocab: Vocabulary, n: int, rowsets: dict[int, Any]) -> Any:
    """An argument that codes strings (values, indices, error masks, per-row sets)."""
    entity = a.entity
    if a.recipe == "index":
        return _full(_entity(col, n).index, np.int64, n)
    if a.recipe == "err":
        if entity:
            return np.asarray(_entity(col, n).unique_err, dtype=np.bool_)
        return _full(col.err, np.bool_, n)
    if a.recipe in _ROWSET:
        if a.index not in rowsets:
            rowsets[a.index] = _rowset(col, vocab, n)
        return rowsets[a.index][_ROWSET.index(a.recipe)]
    return _values(col, vocab, n, entity)


def marshal(code: KernelSource, cols: Sequence[Col], n: int) -> list[Any]:
    """The kernel's arguments (after ``n``, before the masks) for a batch's leaf columns:
    strings coded first, so that the sets' bitmaps cover every code the batch uses."""
    vocab = Vocabulary(code.strings)
    values: dict[str, Any] = {}
    rowsets: dict[int, Any] = {}
    later = []
    for a in code.args:
        if a.recipe in ("lut", "li", "ksl", "ksi"):
            later.append(a)
        else:
            values[a.name] = _first_pass(a, cols[a.index], vocab, n, rowsets)
    for a in later:
        items = cols[a.index].v if a.recipe in ("lut", "li") else code.literals[a.index]
        values[a.name] = vocab.bitmap(items) if a.recipe in ("lut", "ksl") else _longs(items)
    return [values[a.name] for a in code.args]


class Kernel:
    """One signature's kernel: the policies it covers, why it declined the others, its
    source and where it was compiled (``cached``: through the disk cache; ``hits``: its
    machine code was loaded from there rather than compiled)."""

    def __init__(self, code: KernelSource, fn: Any, filename: str, cached: bool, hits: int):
        self.code = code
        self.fn = fn
        self.covered = frozenset(code.covered)
        self.declined = code.declined
        self.source = code.source
        self.filename = filename
        self.cached = cached
        self.hits = hits

    def run(self, cols: Sequence[Col], n: int) -> tuple[Any, Any]:
        """The satisfied and errored masks (int64 per row) of the covered policies."""
        sat = np.empty(n, dtype=np.int64)
        err = np.empty(n, dtype=np.int64)
        self.fn(n, *marshal(self.code, cols, n), sat, err)
        return sat, err


def _title(signature: tuple[LeafSig, ...], count: int) -> str:
    shown = ", ".join(f"{k}{'!' if e else ''}{'*' if r else ''}" for k, e, r in signature)
    digest = hashlib.sha256(shown.encode()).hexdigest()[:12]
    return (
        f"The batch kernel of {count} policies for one signature (tradeswarm.policy.batch."
        f"kernel).\n\nSignature {digest}: {shown}\n(! has an error mask, * a set per row)"
    )


def numba_available() -> bool:
    """Whether numba can be imported (checked without importing it)."""
    try:
        return importlib.util.find_spec("numba") is not None
    except (ImportError, ValueError):
        return False


def build_kernel(
    signature: tuple[LeafSig, ...],
    entity: Sequence[bool],
    offered: Sequence[tuple[int, PolicyTree, str]],
    cache: KernelCache | None,
) -> Kernel:
    """The kernel of the offered (policy index, tree, comment)s for this signature
    (``entity``: which leaves are entity-only expressions)."""
    if not numba_available():  # the numpy tiers decide: a plan entry says why
        why = "kernel declined: numba is not installed (pip install numba)"
        return Kernel(KernelSource("", [], {}, [], [], {i: why for i, _, _ in offered}), None,
                      "", False, 0)  # fmt: skip
    code = generate(signature, entity, offered, _title(signature, len(offered)))
    if not code.covered:
        return Kernel(code, None, "", False, 0)
    try:
        compiled = (cache if cache is not None else shared_cache()).compile(code.source)
    except Exception as exc:  # numba refused it: the emit tier decides these policies
        first = (str(exc).splitlines() or [""])[0][:120]
        why = f"kernel failed: {type(exc).__name__}: {first}"
        failed = KernelSource(code.source, [], {}, [], [], {i: why for i, _, _ in offered})
        return Kernel(failed, None, "", False, 0)
    return Kernel(code, compiled.fn, compiled.filename, compiled.cached, compiled.hits)
