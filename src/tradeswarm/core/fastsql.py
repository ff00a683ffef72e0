"""Prepared Core statements run straight on the DBAPI cursor, skipping per-call SQLAlchemy work.

Shared by the rooms that keep SQL state (the store, the paper broker), hence in core.

A statement is built once (at import) from plain SQLAlchemy Core and compiled once per
dialect, so the SQL stays portable: qmark for SQLite, pyformat for psycopg. Each call
then costs what the driver costs (about 2 µs for an indexed SQLite read here) instead of
SQLAlchemy's statement building, cache-key generation and result set-up (35–190 µs,
profiled). The price: no type processing. Callers pass plain values (Decimal money as
its exact text, see `money_text`) and convert what they read.

Driver errors come back as SQLAlchemy's exception classes (`IntegrityError`, ...), as
they would through `Connection.execute`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ClauseElement

from tradeswarm.core.errors import InvariantViolation

Builder = Callable[[str], ClauseElement]
"""Builds the statement for a dialect name (for dialect-specific constructs like upserts)."""


def money_text(value: Decimal | None) -> str | None:
    """A Decimal as the exact TEXT the store keeps; floats and non-finite values refused."""
    if value is None:
        return None
    if not isinstance(value, Decimal) or not value.is_finite():
        raise InvariantViolation(f"store accepts only finite Decimal money, got {value!r}")
    return str(value)


class _Prepared:
    __slots__ = ("defaults", "order", "sql")

    def __init__(self, sql: str, order: tuple[str, ...] | None, defaults: dict[str, Any]):
        self.sql = sql
        self.order = order
        self.defaults = defaults

    def args(self, params: Mapping[str, Any]) -> Any:
        if self.defaults:  # literals in the statement (a LIMIT, a constant) keep their value
            params = {**self.defaults, **params}
        if self.order is None:
            return params
        return tuple([params[k] for k in self.order])


class FastStatement:
    """One prepared statement; see the module docstring."""

    def __init__(self, stmt: ClauseElement | Builder) -> None:
        self._stmt = stmt
        self._prepared: dict[str, _Prepared] = {}

    def _prepare(self, conn: Connection) -> _Prepared:
        dialect = conn.dialect
        found = self._prepared.get(dialect.name)
        if found is None:
            stmt = self._stmt if isinstance(self._stmt, ClauseElement) else self._stmt(dialect.name)
            compiled = stmt.compile(dialect=dialect)
            order = getattr(compiled, "positiontup", None)
            defaults = {k: v for k, v in compiled.params.items() if v is not None}
            found = _Prepared(compiled.string, None if order is None else tuple(order), defaults)
            self._prepared[dialect.name] = found
        return found

    def _run(
        self,
        conn: Connection,
        params: Mapping[str, Any] | None,
        many: Sequence[Mapping[str, Any]] = (),
    ) -> Any:
        prep = self._prepare(conn)
        cursor = conn.connection.cursor()
        try:
            if params is None:
                cursor.executemany(prep.sql, [prep.args(r) for r in many])
            else:
                cursor.execute(prep.sql, prep.args(params))
        except conn.dialect.loaded_dbapi.Error as err:
            cursor.close()
            raise DBAPIError.instance(
                prep.sql, None, err, conn.dialect.loaded_dbapi.Error, dialect=conn.dialect
            ) from err
        return cursor

    def rows(self, conn: Connection, params: Mapping[str, Any] | None = None) -> list[Any]:
        """Every result row, as driver tuples."""
        cursor = self._run(conn, params or {})
        try:
            return list(cursor.fetchall())
        finally:
            cursor.close()

    def first(self, conn: Connection, params: Mapping[str, Any] | None = None) -> Any:
        """The first result row (a driver tuple), or None."""
        cursor = self._run(conn, params or {})
        try:
            return cursor.fetchone()
        finally:
            cursor.close()

    def scalar(self, conn: Connection, params: Mapping[str, Any] | None = None) -> Any:
        """The first column of the first row, or None."""
        row = self.first(conn, params)
        return None if row is None else row[0]

    def run(self, conn: Connection, params: Mapping[str, Any] | None = None) -> int:
        """Execute a write; return the driver's rowcount."""
        cursor = self._run(conn, params or {})
        try:
            return int(cursor.rowcount)
        finally:
            cursor.close()

    def executemany(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Execute once per parameter set, in one driver call."""
        if rows:
            self._run(conn, None, rows).close()

    def executemany_tuples(
        self, conn: Connection, columns: tuple[str, ...], rows: Sequence[tuple[Any, ...]]
    ) -> None:
        """Like `executemany`, rows given as tuples in `columns` order (passed to the driver
        untouched when its parameter order is the same)."""
        if not rows:
            return
        if self._prepare(conn).order == columns:
            self._run_tuples(conn, rows)
        else:
            self.executemany(conn, [dict(zip(columns, r, strict=True)) for r in rows])

    def _run_tuples(self, conn: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
        prep = self._prepare(conn)
        cursor = conn.connection.cursor()
        try:
            cursor.executemany(prep.sql, rows)
        except conn.dialect.loaded_dbapi.Error as err:
            raise DBAPIError.instance(
                prep.sql, None, err, conn.dialect.loaded_dbapi.Error, dialect=conn.dialect
            ) from err
        finally:
            cursor.close()


@contextmanager
def savepoint(conn: Connection, name: str = "fastsql") -> Iterator[None]:
    """A savepoint on the driver (standard SQL, as SQLite and PostgreSQL spell it) inside
    the open transaction: released on success, rolled back to (and released) when the
    block raises, which re-raises. Costs two driver statements instead of SQLAlchemy's
    `begin_nested` (~50 µs here); conn's transaction state is not touched."""
    cursor = conn.connection.cursor()
    try:
        cursor.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            cursor.execute(f"ROLLBACK TO SAVEPOINT {name}")
            cursor.execute(f"RELEASE SAVEPOINT {name}")
            raise
        cursor.execute(f"RELEASE SAVEPOINT {name}")
    finally:
        cursor.close()
