"""Columns for the batch path: one numpy array per value over a batch of requests.

What every batch tier reads and writes (the emitted code, the closures, the per-row
fallback's inputs); no tier of its own. A ``Col`` has a kind (``kinds.Kind``) and an
error mask: True where computing it raised a Cedar evaluation error for that row.

=============  ==========================================================================
kind           ``v`` holds
=============  ==========================================================================
``BOOL``       a bool array (or a 0-d numpy bool: one value for every row)
``LONG``       an int64 array (or 0-d)
``DECIMAL``    an int64 array of ten-thousandths (``Decimal("1.5")`` is 15000), or 0-d
``STRING``     a str or object array of str (or one str)
``SET``        per row (``per_row_set``): an object array of sets, every element in
               ``flat`` and the row it belongs to in ``row`` (``row_elements``); constant:
               one ``CSet`` for every row (a literal, an entity table of one set)
``ANY``        an object array of runtime values of no single kind (or one value)
=============  ==========================================================================

A column may also carry its values as category codes (``cats``): a ``STRING`` column
``(codes, strings)`` (a context column given as categories, an entity table's cells), a
per-row ``SET`` ``(codes, sets)`` drawn from a few distinct sets (the gate's halted
symbols: one set for the whole burst, usually). ``v`` holds the values all the same; the
kernel tier (``batch.kernel``) reads the codes, and a shared set's ``flat`` / ``row`` are
built only when a numpy tier asks (``row_elements``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np
import numpy.typing as npt

from tradeswarm.policy.entities import from_json
from tradeswarm.policy.kinds import Kind
from tradeswarm.policy.values import CSet, Decimal

BoolArray = npt.NDArray[np.bool_]
MISSING = object()
_SCALAR = (Kind.BOOL, Kind.LONG, Kind.STRING)
#: The kinds held in int64 or bool arrays.
NUMERIC = (Kind.BOOL, Kind.LONG, Kind.DECIMAL)


@dataclass(slots=True)
class Col:
    kind: Kind
    v: Any
    err: BoolArray | None = None
    flat: Any = None  # for a per-row SET: every element, and the row each belongs to
    row: Any = None
    fact: Any = None  # for entity-derived columns: (codes, per-unique runtime values)
    cats: Any = None  # (codes, categories): see the module docstring

    def values(self) -> list[Any]:
        """Per-row runtime values (errored rows hold None)."""
        if self.kind is Kind.DECIMAL:
            return [Decimal(int(x)) for x in self.v]
        if self.kind in _SCALAR:
            return list(self.v.tolist()) if hasattr(self.v, "tolist") else [self.v]
        if self.kind is Kind.SET:
            return [x if type(x) is not list else from_json(x, "context") for x in self.v]
        return list(self.v)


class Gathered(Col):
    """An entity-derived column: values per entity (``uniques``, errors ``unique_err``) and
    each row's entity (``index``: int64 per row, or one int for every row). ``v`` is
    gathered on first read: the kernel tier reads the entities through the index."""

    __slots__ = ("_rows", "index", "unique_err", "uniques")

    def __init__(
        self,
        kind: Kind,
        uniques: Any,
        index: Any,
        unique_err: BoolArray | None,
        fact: Any = None,
        cats: Any = None,
    ) -> None:
        self.kind = kind
        self.uniques = uniques
        self.index = index
        self.unique_err = unique_err
        err = None if unique_err is None else unique_err[index]
        self.err = err if err is not None and err.any() else None
        self.flat = self.row = None
        self.fact = fact
        self.cats = cats
        self._rows: Any = None

    @property
    def v(self) -> Any:
        if self._rows is None:
            self._rows = self.uniques[self.index]
        return self._rows

    @v.setter
    def v(self, value: Any) -> None:
        self._rows = value


def per_row_set(col: Col) -> bool:
    """Whether the column is a set per row (else a set column is one set for every row)."""
    return col.kind is Kind.SET and (col.flat is not None or col.cats is not None)


def row_elements(col: Col) -> tuple[Any, Any]:
    """A per-row set column's elements (``flat``) and the row of each (``row``), built
    from its shared sets on first use."""
    if col.flat is None and col.cats is not None:
        codes, sets = col.cats
        members = [list(s.values) for s in sets]
        lengths = np.fromiter(map(len, members), dtype=np.int64, count=len(members))
        starts = np.concatenate(([0], np.cumsum(lengths)[:-1])).astype(np.int64)
        per_row = lengths[codes]
        col.row = np.repeat(np.arange(len(per_row)), per_row)
        offsets = np.concatenate(([0], np.cumsum(per_row)[:-1])).astype(np.int64)
        where = np.arange(int(per_row.sum())) - np.repeat(offsets, per_row)
        col.flat = _objects(list(chain.from_iterable(members)))[
            np.repeat(starts[codes], per_row) + where
        ]
    return col.flat, col.row


def err_or(*masks: BoolArray | None) -> BoolArray | None:
    present = [m for m in masks if m is not None]
    if not present:
        return None
    out = present[0]
    for m in present[1:]:
        out = out | m
    return out


def full_err(n: int) -> BoolArray:
    return np.ones(n, dtype=bool)


def _all(values: Sequence[Any], kind: type, ok: Sequence[bool] | None) -> bool:
    if ok is None:
        return all(type(v) is kind for v in values)
    return all(type(v) is kind for v, good in zip(values, ok, strict=True) if good)


def from_values(values: list[Any], err: BoolArray | None = None) -> Col:
    """A column from per-row runtime values (rows in ``err`` hold anything)."""
    ok = None if err is None else (~err).tolist()
    fill = values if ok is None else [v if g else None for v, g in zip(values, ok, strict=True)]
    for kind, pytype, default in ((Kind.BOOL, bool, False), (Kind.LONG, int, 0)):
        if _all(values, pytype, ok):
            clean = fill if ok is None else [v if v is not None else default for v in fill]
            dtype = np.bool_ if kind is Kind.BOOL else np.int64
            return Col(kind, np.array(clean, dtype=dtype), err)
    if _all(values, str, ok):
        return Col(Kind.STRING, _objects(fill), err)
    if _all(values, Decimal, ok):
        scaled = [v.v if v is not None else 0 for v in fill]
        return Col(Kind.DECIMAL, np.array(scaled, dtype=np.int64), err)
    if _all(values, CSet, ok):
        return set_col([list(s.values) if s is not None else [] for s in fill], fill, err)
    return Col(Kind.ANY, _objects(fill), err)


def _objects(values: list[Any]) -> Any:
    return np.fromiter(values, dtype=object, count=len(values))


def set_col(items: list[list[Any]], sets: list[Any], err: BoolArray | None) -> Col:
    """A per-row set column; ``flat``/``row`` list the elements for vectorized contains."""
    lengths = np.fromiter(map(len, items), dtype=np.int64, count=len(items))
    flat = _objects(list(chain.from_iterable(items)))
    row = np.repeat(np.arange(len(items)), lengths)
    return Col(Kind.SET, _objects(sets), err, flat, row)


def broadcast(col: Col, n: int) -> Col:
    """A constant (0-d) column made full length."""
    if getattr(col.v, "shape", None) == (n,):
        return col
    if col.kind in NUMERIC:
        return Col(col.kind, np.full(n, col.v), col.err)
    out = np.empty(n, dtype=object)
    out[:] = [col.v] * n
    return Col(col.kind, out, col.err)


def gather(col: Col, codes: Any) -> Col:
    """Rows picked by code from a per-unique column (a per-row set's ``flat``/``row`` do
    not survive the gather: it becomes ``ANY``)."""
    kind = Kind.ANY if col.kind is Kind.SET else col.kind
    return Gathered(kind, col.v, codes, col.err, fact=(codes, list(col.v)))
