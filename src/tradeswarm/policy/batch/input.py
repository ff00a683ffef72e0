"""A batch of requests as columns: entity codes and context columns, built on demand.

Two entries: Cedar JSON requests (``from_requests``, converted here column by column), and
a columnar form (``from_columns``): principal/action/resource as one uid or one per row,
the context as a dict of numpy arrays (``DecimalColumn`` for decimals, ``CategoryColumn``
for strings as codes, ``SharedSetColumn`` for sets drawn from a few distinct ones,
``RecordColumn`` for optional records) — the fast path, with no per-row conversion at all.

Not a tier: every batch tier reads its inputs here (``path``, ``has``, ``entity_codes``),
and the per-row tier its rows (``uid``, ``row_context``). A context attribute some row
cannot give becomes an error in that row's column, never an exception.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tradeswarm.core.errors import InvalidInput
from tradeswarm.policy import runtime
from tradeswarm.policy.batch.columns import MISSING, Col, from_values, set_col
from tradeswarm.policy.entities import EntityStore, from_json, to_uid
from tradeswarm.policy.kinds import Kind
from tradeswarm.policy.values import (
    I64_MAX,
    I64_MIN,
    CSet,
    DateTime,
    Decimal,
    Duration,
    EvalError,
    IpAddr,
    Uid,
)

VAR_NAMES = ("principal", "action", "resource")


@dataclass(frozen=True, slots=True)
class DecimalColumn:
    """Cedar decimals as int64 ten-thousandths (``Decimal("1.5")`` is 15000)."""

    scaled: Any


@dataclass(frozen=True, slots=True)
class SetColumn:
    """A set attribute per row: ``rows`` (object array of lists of runtime-ready JSON
    values), every element in ``flat`` and the row each belongs to in ``row``."""

    rows: Any
    flat: Any
    row: Any

    @staticmethod
    def of(values: list[list[Any]]) -> SetColumn:
        col = set_col(values, values, None)
        return SetColumn(col.v, col.flat, col.row)


@dataclass(frozen=True, slots=True)
class CategoryColumn:
    """A string attribute as categories: row i holds ``categories[codes[i]]``."""

    codes: Any
    categories: list[str]


@dataclass(frozen=True, slots=True)
class SharedSetColumn:
    """A set attribute drawn from a few distinct sets: row i holds ``sets[codes[i]]``
    (the gate's halted symbols are one set for a whole burst, usually)."""

    codes: Any
    sets: list[CSet]


@dataclass(frozen=True, slots=True)
class RecordColumn:
    """An optional record attribute: which rows have it, and its fields as columns."""

    present: Any
    fields: dict[str, Any] = field(default_factory=dict)


_COLUMN_TYPES = (np.ndarray, DecimalColumn, SetColumn, CategoryColumn, SharedSetColumn)
_RUNTIME = (Decimal, IpAddr, DateTime, Duration, Uid, CSet)
_AS_IS = frozenset((str, bool, *_RUNTIME))


def _fast_value(raw: Any, where: str) -> Any:
    kind = type(raw)
    if kind is str or kind is bool or kind in _RUNTIME:
        return raw
    if kind is int and I64_MIN <= raw <= I64_MAX:
        return raw
    if kind is dict and "__extn" in raw:
        spec = raw["__extn"]
        if spec.get("fn") == "decimal" and type(spec.get("arg")) is str:
            return Decimal.parse(spec["arg"])
    return from_json(raw, where)


def factorize(keys: Sequence[Any]) -> tuple[Any, list[Any]]:
    """Codes (int64, one per key) and the distinct keys in order of first appearance."""
    index: dict[Any, int] = {}
    codes = [index.setdefault(k, len(index)) for k in keys]
    return np.array(codes, dtype=np.int64), list(index)


class BatchInput:
    """What the vectorized policies read: n rows, entity codes, context columns."""

    def __init__(self, n: int, store: EntityStore, uids: dict[str, tuple[Any, list[Uid]]]):
        self.n = n
        self.store = store
        self.uids = uids
        self.raw: list[Mapping[str, Any]] | None = None
        self.typed = False  # raw holds parsed runtime contexts
        self.columns: dict[str, Any] = {}
        self.parse_row: Any = None
        self._paths: dict[tuple[str, ...], Col] = {}
        self._codes: dict[tuple[str, ...], tuple[Any, list[tuple[Any, Any, Any]]]] = {}
        self._rows: dict[int, dict[str, Any]] = {}
        self.memo: dict[str, Any] = {}

    @staticmethod
    def from_requests(
        requests: Sequence[Mapping[str, Any]],
        store: EntityStore,
        parse_row: Any,
        typed: bool = False,
    ) -> BatchInput:
        uids = {}
        for var in VAR_NAMES:
            try:
                keys = [Uid((r[var]["type"], r[var]["id"])) for r in requests]
            except (KeyError, TypeError):
                keys = [to_uid(r.get(var), f"request.{var}") for r in requests]
            uids[var] = factorize(keys)
        batch = BatchInput(len(requests), store, uids)
        batch.raw = [r.get("context") or {} for r in requests]
        batch.parse_row = parse_row
        if typed:  # schema-directed: parse every context now (a bad one refuses the batch)
            batch.typed = True
            codes, actions = uids["action"]
            batch.raw = [
                parse_row(c, actions[k]) for c, k in zip(batch.raw, codes.tolist(), strict=True)
            ]
            batch.parse_row = lambda context, action: context
        return batch

    @staticmethod
    def from_columns(
        n: int, store: EntityStore, entities: Mapping[str, Any], context: Mapping[str, Any]
    ) -> BatchInput:
        uids = {}
        for var in VAR_NAMES:
            value = entities[var]
            if isinstance(value, Mapping) and "codes" in value:
                uniques = [Uid((value["type"], str(i))) for i in value["ids"]]
                uids[var] = (np.asarray(value["codes"], dtype=np.int64), uniques)
            elif isinstance(value, Mapping) and not isinstance(value.get("id"), str):
                ids, codes = np.unique(np.asarray(value["id"], dtype=object), return_inverse=True)
                uniques = [Uid((value["type"], str(i))) for i in ids.tolist()]
                uids[var] = (codes.reshape(-1).astype(np.int64), uniques)
            elif isinstance(value, Mapping | str | Uid):
                uids[var] = (np.zeros(n, dtype=np.int64), [to_uid(value, var)])
            else:
                uids[var] = factorize([to_uid(v, var) for v in value])
        batch = BatchInput(n, store, uids)
        batch.columns = dict(context)
        return batch

    def entity_codes(self, variables: list[str]) -> tuple[Any, list[tuple[Any, Any, Any]]]:
        key = tuple(variables)
        if key not in self._codes:
            self._codes[key] = self._combine(variables)
        return self._codes[key]

    def _combine(self, variables: list[str]) -> tuple[Any, list[tuple[Any, Any, Any]]]:
        picked = [v for v in VAR_NAMES if v in variables]
        if not picked:
            return np.zeros(self.n, dtype=np.int64), [(None, None, None)]
        if len(picked) == 1:
            codes, uniques = self.uids[picked[0]]
            slot = VAR_NAMES.index(picked[0])
            return codes, [tuple(u if i == slot else None for i in range(3)) for u in uniques]  # type: ignore[misc]
        combined = np.zeros(self.n, dtype=np.int64)
        for v in picked:
            combined = combined * len(self.uids[v][1]) + self.uids[v][0]
        combos, codes = np.unique(combined, return_inverse=True)
        rows = []
        for combo in combos.tolist():
            parts = []
            rest = combo
            for v in reversed(picked):
                rest, part = divmod(rest, len(self.uids[v][1]))
                parts.append(part)
            chosen = dict(zip(picked, reversed(parts), strict=True))
            rows.append(
                tuple(self.uids[v][1][chosen[v]] if v in chosen else None for v in VAR_NAMES)
            )
        return codes.reshape(-1), rows  # type: ignore[return-value]

    def path(self, path: tuple[str, ...]) -> Col:
        if path not in self._paths:
            self._paths[path] = self._build(path)
        return self._paths[path]

    def _build(self, path: tuple[str, ...]) -> Col:
        if not path:
            return Col(Kind.ANY, _object_array([self.row_context(i) for i in range(self.n)]))
        if self.raw is None:
            return self._from_column(path)
        if self.typed and len(path) == 1:
            values = [c.get(path[0], MISSING) for c in self.raw]
            if _as_is(values):  # what _walk would return for every row, read at once
                return _typed(values, np.zeros(self.n, dtype=bool))
        values = []
        errors = np.zeros(self.n, dtype=bool)
        for i, ctx in enumerate(self.raw):
            try:
                values.append(self._walk(i, ctx, path))
            except Exception:
                values.append(None)
                errors[i] = True
        return _typed(values, errors)

    def _walk(self, i: int, ctx: Any, path: tuple[str, ...]) -> Any:
        raw = ctx
        for name in path:
            if type(raw) is dict and "__extn" not in raw and "__entity" not in raw:
                if name not in raw:
                    raise EvalError(f"record does not have the attribute `{name}`")
                raw = raw[name]
            else:
                return self._runtime_walk(i, path)
        return _fast_value(raw, "context." + ".".join(path))

    def _runtime_walk(self, i: int, path: tuple[str, ...]) -> Any:
        value: Any = self.row_context(i)
        for name in path:
            value = runtime.attr(value, name, self.store)
        return value

    def _from_column(self, path: tuple[str, ...]) -> Col:
        column: Any = self.columns
        if len(path) == 1 and type(column.get(path[0])) in _COLUMN_TYPES:
            return column_of(column[path[0]], self.n, path[0])
        present = np.ones(self.n, dtype=bool)
        for name in path:
            if isinstance(column, RecordColumn):
                present &= np.asarray(column.present, dtype=bool)
                column = column.fields
            if not isinstance(column, Mapping) or name not in column:
                return Col(Kind.BOOL, np.zeros(self.n, dtype=bool), np.ones(self.n, dtype=bool))
            column = column[name]
        col = column_of(column, self.n, "context." + ".".join(path))
        missing = ~present
        if missing.any():
            col.err = missing if col.err is None else col.err | missing
        return col

    def has(self, path: tuple[str, ...], name: str) -> Col:
        if not path and self.raw is not None:
            found = np.fromiter((name in c for c in self.raw), dtype=bool, count=self.n)
            return Col(Kind.BOOL, found)
        if self.raw is None:
            return self._has_column(path, name)
        parent = self.path(path)
        values = parent.values() if parent.kind is not Kind.SET else list(parent.v)
        out = np.zeros(self.n, dtype=bool)
        errors = np.zeros(self.n, dtype=bool) if parent.err is None else parent.err.copy()
        for i, value in enumerate(values):
            if errors[i]:
                continue
            try:
                out[i] = runtime.has(value, name, self.store)
            except Exception:
                errors[i] = True
        return Col(Kind.BOOL, out, errors if errors.any() else None)

    def _has_column(self, path: tuple[str, ...], name: str) -> Col:
        column: Any = self.columns
        missing = np.zeros(self.n, dtype=bool)
        for step in path:
            if isinstance(column, RecordColumn):
                missing |= ~np.asarray(column.present, dtype=bool)
                column = column.fields
            column = column.get(step) if isinstance(column, Mapping) else None
        if isinstance(column, RecordColumn):
            missing |= ~np.asarray(column.present, dtype=bool)
            column = column.fields
        if not isinstance(column, Mapping):
            return Col(Kind.BOOL, np.zeros(self.n, dtype=bool), np.ones(self.n, dtype=bool))
        found = column.get(name)
        if isinstance(found, RecordColumn):
            present = np.asarray(found.present, dtype=bool).copy()
        else:
            present = np.full(self.n, found is not None)
        return Col(Kind.BOOL, present, missing if missing.any() else None)

    def row_context(self, i: int) -> dict[str, Any]:
        """Row i's whole context as runtime values (for per-row fallbacks)."""
        if i not in self._rows:
            if self.raw is not None:
                self._rows[i] = self.parse_row(self.raw[i], self.uid("action", i))
            else:
                self._rows[i] = _row_from_columns(self.columns, i, self.n)
        return self._rows[i]

    def uid(self, var: str, i: int) -> Uid:
        codes, uniques = self.uids[var]
        return uniques[int(codes[i])]


def _as_is(values: list[Any]) -> bool:
    """Whether every value is a runtime value ``_fast_value`` returns unchanged."""
    for v in values:
        kind = type(v)
        if kind not in _AS_IS and not (kind is int and I64_MIN <= v <= I64_MAX):
            return False
    return True


def _object_array(values: list[Any]) -> Any:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _typed(values: list[Any], errors: Any) -> Col:
    err = errors if errors.any() else None
    return from_values(values, err)


def _categories(column: CategoryColumn, n: int, where: str) -> Col:
    codes = np.asarray(column.codes, dtype=np.int64)
    strings = list(column.categories)
    if codes.shape != (n,) or not all(type(c) is str for c in strings):
        raise InvalidInput(where, "categories", f"need {n} codes of a list of strings")
    if len(codes) and (codes.min() < 0 or codes.max() >= len(strings)):
        raise InvalidInput(where, "categories", "a code outside the categories")
    table = _object_array(strings)
    return Col(Kind.STRING, table[codes], cats=(codes, strings))


def _shared_sets(column: SharedSetColumn, n: int, where: str) -> Col:
    codes = np.asarray(column.codes, dtype=np.int64)
    sets = list(column.sets)
    if codes.shape != (n,) or not all(type(s) is CSet for s in sets):
        raise InvalidInput(where, "sets", f"need {n} codes of a list of sets")
    if len(codes) and (codes.min() < 0 or codes.max() >= len(sets)):
        raise InvalidInput(where, "sets", "a code outside the sets")
    return Col(Kind.SET, _object_array(sets)[codes], cats=(codes, sets))


def _decimals(column: DecimalColumn, n: int, where: str) -> Col:
    return Col(Kind.DECIMAL, np.asarray(column.scaled, dtype=np.int64))


_CODED: dict[type, Callable[[Any, int, str], Col]] = {
    DecimalColumn: _decimals,
    CategoryColumn: _categories,
    SharedSetColumn: _shared_sets,
}


def column_of(column: Any, n: int, where: str) -> Col:
    """A user-supplied context column as a Col."""
    coded = _CODED.get(type(column))
    if coded is not None:
        return coded(column, n, where)
    if isinstance(column, np.ndarray) and column.dtype == np.bool_:
        return Col(Kind.BOOL, column)
    if isinstance(column, np.ndarray) and column.dtype.kind == "i":
        return Col(Kind.LONG, column.astype(np.int64, copy=False))
    if isinstance(column, np.ndarray) and column.dtype.kind == "U":
        return Col(Kind.STRING, column)
    if isinstance(column, SetColumn):
        return Col(Kind.SET, column.rows, None, column.flat, column.row)
    values = list(column)
    if len(values) != n:
        raise InvalidInput(where, len(values), f"column length must be {n}")
    if all(type(v) is str for v in values):
        return Col(Kind.STRING, column if isinstance(column, np.ndarray) else _object_array(values))
    if values and all(type(v) is list for v in values):
        plain = all(type(x) is str for v in values for x in v)
        return set_col(values, values if plain else [from_json(v, where) for v in values], None)
    return from_values([_fast_value(v, where) for v in values])


def _row_from_columns(columns: Mapping[str, Any], i: int, n: int) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for name, column in columns.items():
        if isinstance(column, RecordColumn):
            if bool(np.asarray(column.present)[i]):
                row[name] = _row_from_columns(column.fields, i, n)
            continue
        row[name] = _value_at(column, i, name)
    return row


def _value_at(column: Any, i: int, where: str) -> Any:
    """Row i of a context column as a runtime value."""
    if isinstance(column, DecimalColumn):
        return Decimal(int(np.asarray(column.scaled)[i]))
    if isinstance(column, SetColumn):
        return from_json(column.rows[i], where)
    if isinstance(column, CategoryColumn):
        return column.categories[int(np.asarray(column.codes)[i])]
    if isinstance(column, SharedSetColumn):
        return column.sets[int(np.asarray(column.codes)[i])]
    if isinstance(column, np.ndarray) and column.dtype.kind in "biU":
        return column[i].item()
    return _fast_value(column[i], where)


def _entity_column(values: list[Any], var: str) -> Any:
    first = values[0]
    if all(v == first for v in values):
        return first
    types = {v["type"] for v in values}
    if len(types) == 1:
        codes, uniques = factorize([v["id"] for v in values])
        return {"type": types.pop(), "codes": codes, "ids": uniques}
    return values


def _field_column(records: list[dict[str, Any]], present: list[bool], name: str) -> Any:
    """A field of an optional record; rows without the record repeat a present value."""
    values = [r.get(name, MISSING) if p else MISSING for r, p in zip(records, present, strict=True)]
    filler = next((v for v in values if v is not MISSING), MISSING)
    return _context_column([filler if v is MISSING else v for v in values], name)


def _context_column(values: list[Any], where: str) -> Any:
    present = [v is not MISSING for v in values]
    if not all(present):
        records = [v if type(v) is dict else {} for v in values]
        if all(type(v) is dict for v, p in zip(values, present, strict=True) if p):
            names = sorted({k for r in records for k in r})
            fields = {k: _field_column(records, present, k) for k in names}
            return RecordColumn(np.array(present, dtype=bool), fields)
        raise InvalidInput(where, "missing in some requests", "only records may be optional")
    if all(type(v) is bool for v in values):
        return np.array(values, dtype=bool)
    if all(type(v) is int for v in values):
        return np.array(values, dtype=np.int64)
    if all(type(v) is str for v in values):
        if any(v.endswith("\x00") for v in values):  # numpy's str dtype drops trailing NULs
            return _object_array(values)
        return np.array(values, dtype=str)
    if all(type(v) is list and all(type(x) is str for x in v) for v in values):
        return SetColumn.of(values)
    converted = [_fast_value(v, where) for v in values]
    if all(type(v) is Decimal for v in converted):
        return DecimalColumn(np.array([v.v for v in converted], dtype=np.int64))
    return values


def columns_from_requests(requests: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Cedar JSON requests in the columnar form ``is_authorized_batch`` also accepts."""
    if not requests:
        raise InvalidInput("requests", 0, "need at least one request")
    out: dict[str, Any] = {"n": len(requests)}
    for var in VAR_NAMES:
        out[var] = _entity_column([r[var] for r in requests], var)
    contexts = [r.get("context") or {} for r in requests]
    names = sorted({k for c in contexts for k in c})
    out["context"] = {
        k: _context_column([c.get(k, MISSING) for c in contexts], f"context.{k}") for k in names
    }
    return out
