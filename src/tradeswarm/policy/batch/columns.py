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
``SET``        per row (``flat`` is not None): an object array of sets, every element in
               ``flat`` and the row it belongs to in ``row``; constant (``flat`` is None):
               one ``CSet`` for every row (a literal, an entity table of one set)
``ANY``        an object array of runtime values of no single kind (or one value)
=============  ==========================================================================
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

    def values(self) -> list[Any]:
        """Per-row runtime values (errored rows hold None)."""
        if self.kind is Kind.DECIMAL:
            return [Decimal(int(x)) for x in self.v]
        if self.kind in _SCALAR:
            return list(self.v.tolist()) if hasattr(self.v, "tolist") else [self.v]
        if self.kind is Kind.SET:
            return [x if type(x) is not list else from_json(x, "context") for x in self.v]
        return list(self.v)


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
    err = None if col.err is None else col.err[codes]
    kind = Kind.ANY if col.kind is Kind.SET else col.kind
    return Col(kind, col.v[codes], err, fact=(codes, list(col.v)))
