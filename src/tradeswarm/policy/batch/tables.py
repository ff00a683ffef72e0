"""Entity tables for the batch path: entity-only expressions evaluated once per entity.

An expression that reads only principal, action and resource (a scope test,
``principal.desk.hard_cap``, ``resource.symbol``) has one value per entity (or per pair of
entities). ``EntityTables`` numbers every entity uid it meets, per variable, for one
prepared entity store, and keeps each such expression as a numpy table over those numbers
(with an error mask where the scalar code raised). A batch then reads it with one gather:
``table[principal_codes]``. Tables grow when a batch brings new entities; they are never
recomputed otherwise, so the per-batch cost is the gather.

Not a tier: the emitted code reads its entity leaves from these tables. An expression
over more than ``MAX_CELLS`` entity combinations gets no table (``table`` answers None)
and is evaluated once per distinct entity tuple of the batch instead
(``closures.evaluate_per_entity``).
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import product
from math import prod
from typing import Any

import numpy as np

from tradeswarm.policy.batch.columns import NUMERIC, Col, Gathered, from_values
from tradeswarm.policy.entities import EntityStore
from tradeswarm.policy.kinds import Kind
from tradeswarm.policy.values import CSet, Uid

VAR_NAMES = ("principal", "action", "resource")
MAX_CELLS = 1 << 16


class Table:
    """Values of one expression over the numbered entities (shape: one axis per variable).

    ``kind`` as a column's (``columns``); a ``SET`` table is one ``CSet`` every cell holds."""

    __slots__ = ("_cells", "err", "generation", "kind", "sizes", "v")

    def __init__(self, sizes: tuple[int, ...], kind: Kind, v: Any, err: Any) -> None:
        self.generation = -1
        self.sizes = sizes
        self.kind = kind
        self.v = v
        self.err = err
        self._cells: list[Any] | None = None

    def cells(self) -> list[Any]:
        """The table's values, one per cell in flat order (a string table's categories)."""
        if self._cells is None:
            self._cells = self.v.ravel().tolist()
        return self._cells


def _as_table(values: list[Any], errors: Any, sizes: tuple[int, ...]) -> Table:
    err = errors.reshape(sizes) if errors.any() else None
    good = [v for v, bad in zip(values, errors.tolist(), strict=True) if not bad]
    if good and all(type(v) is CSet for v in good) and len({v.keys for v in good}) == 1:
        return Table(sizes, Kind.SET, good[0], err)
    col = from_values(values, errors if err is not None else None)
    if col.kind is Kind.STRING and not any(s.endswith("\x00") for s in good):
        strings = np.array([s or "" for s in col.v.tolist()]).reshape(sizes)
        return Table(sizes, Kind.STRING, strings, err)
    if col.kind in NUMERIC:
        return Table(sizes, col.kind, col.v.reshape(sizes), err)
    objects = np.empty(len(values), dtype=object)
    objects[:] = values
    return Table(sizes, Kind.ANY, objects.reshape(sizes), err)


class EntityTables:
    """Per entity store: uid numbering per variable and the expression tables."""

    def __init__(self, store: EntityStore) -> None:
        self.store = store
        self.index: dict[str, dict[Uid, int]] = {v: {} for v in VAR_NAMES}
        self.uids: dict[str, list[Uid]] = {v: [] for v in VAR_NAMES}
        self.tables: dict[str, Table] = {}
        self.generation = 0  # bumped whenever a new entity is numbered

    def global_codes(self, uids: dict[str, tuple[Any, list[Uid]]]) -> dict[Any, Any]:
        """Each variable's rows as table numbers (an int when the batch has one entity)."""
        out: dict[Any, Any] = {}
        for var in VAR_NAMES:
            codes, uniques = uids[var]
            index, known = self.index[var], self.uids[var]
            numbers = []
            for u in uniques:
                found = index.get(u)
                if found is None:
                    found = index[u] = len(known)
                    known.append(u)
                    self.generation += 1
                numbers.append(found)
            out[var] = numbers[0] if len(numbers) == 1 else np.asarray(numbers)[codes]
        return out

    def table(self, key: str, fn: Callable[..., Any], variables: tuple[str, ...]) -> Table | None:
        """The expression's table (built or extended now); None when it would be too big."""
        found = self.tables.get(key)
        if found is not None and found.generation == self.generation:
            return found
        picked = variables  # in VAR_NAMES order
        sizes = tuple(len(self.uids[v]) for v in picked)
        if found is not None and found.sizes == sizes:
            found.generation = self.generation
            return found
        if prod(sizes) > MAX_CELLS:
            return None
        values: list[Any] = []
        errors = np.zeros(prod(sizes), dtype=bool)
        for k, combo in enumerate(product(*(self.uids[v] for v in picked))):
            args = dict(zip(picked, combo, strict=True))
            try:
                values.append(
                    fn(args.get("principal"), args.get("action"), args.get("resource"), self.store)
                )
            except Exception:
                values.append(None)
                errors[k] = True
        built = _as_table(values, errors, sizes)
        built.generation = self.generation
        self.tables[key] = built
        return built

    def flat_index(self, variables: tuple[str, ...], codes: dict[Any, Any]) -> Any:
        """Each row's cell in a table over variables, as one flat index (cached per batch)."""
        key = ("flat", variables, self.generation)
        found = codes.get(key)
        if found is None:
            sizes = [len(self.uids[v]) for v in variables]
            found = 0
            for v, size in zip(variables, sizes, strict=True):
                found = found * size + codes[v]
            codes[key] = found
        return found

    def gather(self, table: Table, variables: tuple[str, ...], codes: dict[Any, Any]) -> Col:
        """The table read at each row's entities (variables in VAR_NAMES order), gathered
        when a tier reads the rows (``columns.Gathered``).

        ``codes`` is the batch's ``global_codes``; it also caches the flat indices."""
        index = self.flat_index(variables, codes)
        unique_err = None if table.err is None else table.err.ravel()
        if table.kind is Kind.SET:
            err = None if unique_err is None else unique_err[index]
            return Col(Kind.SET, table.v, err if err is not None and err.any() else None)
        cats = (index, table.cells()) if table.kind is Kind.STRING else None
        return Gathered(table.kind, table.v.ravel(), index, unique_err, cats=cats)
