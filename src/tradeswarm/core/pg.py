"""PostgreSQL engines (psycopg 3) for the rooms that keep SQL state: the store, the paper broker.

An engine is checked on creation: a bad URL, an unreachable server or a database that
does not exist is one `StoreError` line naming the URL (its password hidden), and
nothing is created, not even the database. Connections run the driver in its default
transactional mode; SQLAlchemy's transactions are the units of work.
"""

from __future__ import annotations

from sqlalchemy import Engine, Text, create_engine, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import ArgumentError, DBAPIError

from tradeswarm.core.dburl import psycopg_url, shown
from tradeswarm.core.errors import StoreError

CONNECT_TIMEOUT_S = 10
BYTEWISE_TEXT = Text().with_variant(postgresql.TEXT(collation="C"), "postgresql")
"""TEXT that sorts as SQLite's does (by code point): COLLATE "C" on PostgreSQL, whatever
the database's default collation, so every ORDER BY gives the same rows in the same order."""


def reason(err: BaseException) -> str:
    """The driver's message in one line: what failed, without the connection preamble."""
    first = str(getattr(err, "orig", None) or err).strip().splitlines() or ["unknown error"]
    line = first[0].rsplit(" failed: ", 1)[-1]
    return line.replace("FATAL:", "").strip()


def create_pg_engine(target: str, search_path: str | None = None) -> Engine:
    """A checked engine for the PostgreSQL URL target; search_path: the schema its
    connections use (created if absent) instead of public."""
    url = psycopg_url(target)
    args: dict[str, object] = {"connect_timeout": CONNECT_TIMEOUT_S}
    if search_path is not None:
        args["options"] = f"-csearch_path={search_path}"
    name = shown(target)
    try:
        engine = create_engine(url, connect_args=args)
    except ArgumentError as err:
        raise StoreError(f"{name}: not a valid PostgreSQL URL ({err})") from err
    except ImportError as err:
        why = "PostgreSQL needs psycopg: install tradeswarm[distributed]"
        raise StoreError(f"{name}: {why}") from err
    try:
        with engine.begin() as conn:
            if search_path is not None:
                conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{search_path}"'))
    except DBAPIError as err:
        engine.dispose()
        raise StoreError(f"{name}: cannot open the PostgreSQL store: {reason(err)}") from err
    return engine
