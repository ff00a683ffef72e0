"""Lookups of many keys at once: one prepared `IN (...)` of a fixed width, NULL-padded.

A burst looks up hundreds of ids (decisions of its intents, orders of its client order
ids, fills already booked). One statement per key costs a driver call each; an `IN` list
built per call defeats the prepared statement. Instead the statement holds `width`
placeholders, prepared once; keys go in `width` at a time and the unused slots hold NULL,
which matches nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Column, Connection, Select, bindparam

from tradeswarm.core.fastsql import FastStatement

WIDTH = 250


class WideIn:
    """`query` restricted to rows whose `column` is one of the keys given."""

    def __init__(self, query: Select[Any], column: Column[Any], width: int = WIDTH) -> None:
        self._names = tuple(f"w{i}" for i in range(width))
        self._stmt = FastStatement(query.where(column.in_([bindparam(n) for n in self._names])))

    def rows(self, conn: Connection, keys: Sequence[object]) -> list[Any]:
        """Every row matching one of keys (each at most once), in no particular order."""
        unique = list(dict.fromkeys(keys))
        width = len(self._names)
        found: list[Any] = []
        for start in range(0, len(unique), width):
            chunk: list[object] = unique[start : start + width]
            chunk += [None] * (width - len(chunk))
            found.extend(self._stmt.rows(conn, dict(zip(self._names, chunk, strict=True))))
        return found
