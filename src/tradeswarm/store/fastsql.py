"""Run a prebuilt Core statement through the driver, skipping per-call SQLAlchemy work.

The statement is compiled once per dialect (so the SQL stays portable: qmark for
SQLite, pyformat for psycopg) and its parameters are passed in the compiled order.
Use it only on hot paths whose statements take plain values (no type processing).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, CursorResult
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import Compiled


class FastStatement:
    def __init__(self, stmt: ClauseElement) -> None:
        self._stmt = stmt
        self._compiled: dict[str, tuple[Compiled, dict[str, Any]]] = {}

    def _compile(self, conn: Connection) -> tuple[Compiled, dict[str, Any]]:
        name = conn.dialect.name
        found = self._compiled.get(name)
        if found is None:
            compiled = self._stmt.compile(dialect=conn.dialect)
            found = self._compiled[name] = (compiled, dict(compiled.params))
        return found

    def _args(self, compiled: tuple[Compiled, dict[str, Any]], params: Mapping[str, Any]) -> Any:
        values = {**compiled[1], **params}  # literals in the statement keep their value
        order = getattr(compiled[0], "positiontup", None)
        if order is None:
            return values
        return tuple(values[k] for k in order)

    def execute(self, conn: Connection, params: Mapping[str, Any]) -> CursorResult[Any]:
        compiled = self._compile(conn)
        return conn.exec_driver_sql(compiled[0].string, self._args(compiled, params))

    def executemany(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        compiled = self._compile(conn)
        conn.exec_driver_sql(compiled[0].string, [self._args(compiled, r) for r in rows])
