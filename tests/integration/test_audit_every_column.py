"""Every column of every table the verifier vouches for, edited in turn, and one row of
each table deleted: `audit verify --all` catches every one of them.

The cases come from the schema a migrated store declares (PRAGMA table_info), so a column
added later is covered without touching this file. Each edit keeps the column's type: a
number + 1, a decimal's last digit changed, a text's middle character changed, a blob's
middle byte flipped; a column that is NULL in every row gets a value. The edit lands on
the row nearest the middle of the table that has a value and can take the change (a key
that would collide with another row's moves on to the next row).
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
import tempfile
from pathlib import Path
from typing import NamedTuple

import pytest
from test_audit_tamper import cli, copy_store, demo_day, verify_all

from tradeswarm.audit.anchor import demo_anchor
from tradeswarm.audit.order_check import check_all
from tradeswarm.audit.trust import load_witness_state
from tradeswarm.store import Store

pytestmark = pytest.mark.slow

RECORD_TABLES = (
    "orders",
    "trades",
    "positions",
    "account",
    "risk_events",
    "oversight_requests",
    "oversight_signatures",
    "checkpoints",
    "cosignatures",
    "audit_keys",
    "events",
    "merkle_nodes",
)
Value = int | str | bytes | None


class Column(NamedTuple):
    name: str
    declared: str


def _columns(conn: sqlite3.Connection, table: str) -> list[Column]:
    return [Column(r[1], r[2].upper()) for r in conn.execute(f"PRAGMA table_info({table})")]


def _declared_schema() -> dict[str, list[Column]]:
    """The record tables' columns as a freshly migrated store declares them."""
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "schema.sqlite"
        Store.open(db).close()
        with contextlib.closing(sqlite3.connect(db)) as conn:
            return {table: _columns(conn, table) for table in RECORD_TABLES}


SCHEMA = _declared_schema()
EDITS = [pytest.param(t, c, id=f"{t}.{c.name}") for t, cols in SCHEMA.items() for c in cols]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The finished demo day, checked clean once: every case edits a byte-identical copy."""
    db = demo_day(tmp_path_factory)
    clean = verify_all(db, "--demo-keys")
    assert clean.exit_code == 0, clean.stdout
    return db


@pytest.fixture
def copy(demo: Path, tmp_path: Path) -> Path:
    return copy_store(demo, tmp_path / "copy.sqlite")


_CLASSES = ("0123456789", "abcdef", "ghijklmnopqrstuvwxyz", "ABCDEF", "GHIJKLMNOPQRSTUVWXYZ")
_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def _next_char(c: str) -> str:
    """Another character of the same kind (a digit, a hex letter, another letter)."""
    cls = next(k for k in _CLASSES if c in k)
    return cls[(cls.index(c) + 1) % len(cls)]


def changed_text(text: str) -> str:
    """A decimal with its last digit changed; any other text with its middle character
    (the first letter or digit from the middle on) changed."""
    places = [i for i, c in enumerate(text) if any(c in k for k in _CLASSES)]
    assert places, f"no character to change in {text!r}"
    after = [i for i in places if i >= len(text) // 2]
    i = places[-1] if _DECIMAL.fullmatch(text) or not after else after[0]
    return text[:i] + _next_char(text[i]) + text[i + 1 :]


def changed(value: Value, column: Column) -> Value:
    """value edited, its type kept; a value where there was none."""
    if value is None:
        if "INT" in column.declared:
            return 1
        return b"\x01" if "BLOB" in column.declared else "1"
    if isinstance(value, bytes):
        flipped = bytearray(value)
        flipped[len(flipped) // 2] ^= 0x01
        return bytes(flipped)
    if isinstance(value, str):
        return changed_text(value)
    return value + 1


def _rows_from_the_middle(
    conn: sqlite3.Connection, table: str, column: str
) -> list[tuple[int, Value]]:
    """(rowid, value) of every row, rows with a value first, nearest the middle first."""
    rows = conn.execute(f"SELECT rowid, {column} FROM {table} ORDER BY rowid").fetchall()
    assert rows, f"the demo left {table} empty: nothing to tamper with"
    middle = len(rows) // 2
    ranked = sorted(enumerate(rows), key=lambda p: (p[1][1] is None, abs(p[0] - middle), p[0]))
    return [row for _, row in ranked]


def edit_one_row(conn: sqlite3.Connection, table: str, column: Column) -> str:
    """Edit column in the first row (from the middle) that takes the change; say what."""
    for rowid, value in _rows_from_the_middle(conn, table, column.name):
        new = changed(value, column)
        assert new != value
        conn.execute("SAVEPOINT edit")
        try:
            conn.execute(f"UPDATE {table} SET {column.name} = ? WHERE rowid = ?", (new, rowid))
        except sqlite3.IntegrityError:  # a key taken by another row: try the next row
            conn.execute("ROLLBACK TO edit")
            continue
        finally:
            conn.execute("RELEASE edit")
        return f"{table}.{column.name} of row {rowid}: {value!r:.60} -> {new!r:.60}"
    raise AssertionError(f"no row of {table} takes a change of {column.name}")


def delete_one_row(conn: sqlite3.Connection, table: str) -> str:
    rowids = [r for (r,) in conn.execute(f"SELECT rowid FROM {table} ORDER BY rowid")]
    assert rowids, f"the demo left {table} empty: nothing to delete"
    rowid = rowids[len(rowids) // 2]
    conn.execute(f"DELETE FROM {table} WHERE rowid = ?", (rowid,))
    return f"deleted row {rowid} of {table}"


def problems_of(db: Path) -> list[str]:
    """What `audit verify --all --db DB --demo-keys` reports (it exits 1 iff any)."""
    store = Store.open(db)
    try:
        witness = load_witness_state(Path(f"{db}.witness.json"))
        return check_all(store, demo_anchor(), witness).problems
    finally:
        store.close()


def test_the_cases_cover_every_column_of_the_demo_store(demo: Path) -> None:
    with contextlib.closing(sqlite3.connect(demo)) as conn:
        assert {t: _columns(conn, t) for t in RECORD_TABLES} == SCHEMA


def test_the_untouched_copy_verifies_clean(copy: Path) -> None:
    assert problems_of(copy) == []
    result = verify_all(copy, "--demo-keys")
    assert result.exit_code == 0, result.stdout
    assert "clean" in result.stdout


@pytest.mark.parametrize(("table", "column"), EDITS)
def test_editing_any_column_of_any_row_is_detected(copy: Path, table: str, column: Column) -> None:
    with contextlib.closing(sqlite3.connect(copy)) as conn, conn:
        what = edit_one_row(conn, table, column)
    assert problems_of(copy), f"undetected: {what}"


@pytest.mark.parametrize("table", RECORD_TABLES)
def test_deleting_a_row_of_any_table_is_detected(copy: Path, table: str) -> None:
    with contextlib.closing(sqlite3.connect(copy)) as conn, conn:
        what = delete_one_row(conn, table)
    result = cli("audit", "verify", "--all", "--db", copy, "--demo-keys")
    assert result.exit_code == 1, f"undetected: {what}\n{result.stdout}"
    assert "TAMPERED OR DIVERGENT" in result.stdout
