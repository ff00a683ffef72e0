"""Helpers for the acceptance tests: run the CLI in-process, read a store's books."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from tradeswarm.cli.main import app


def run_cli(*args: str | Path) -> Any:
    """Invoke `tradeswarm ARGS` in-process; the result has exit_code, stdout and stderr."""
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def status_json(db: Path) -> dict[str, Any]:
    result = run_cli("status", "--db", db, "--json")
    assert result.exit_code == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def query(db: Path, sql: str, *params: object) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return conn.execute(sql, params).fetchall()


def books(db: Path) -> dict[str, Any]:
    """Everything that must match between two runs of the same day, read straight from SQL."""
    return {
        "orders": query(
            db,
            "SELECT client_order_id, side, quantity, state, filled_qty, avg_fill_price,"
            " broker_order_id FROM orders ORDER BY client_order_id",
        ),
        "trades": query(
            db,
            "SELECT fill_id, client_order_id, side, quantity, price, fee, ts_event"
            " FROM trades ORDER BY fill_id",
        ),
        "positions": query(
            db, "SELECT symbol, quantity, avg_cost, realized_pnl FROM positions ORDER BY symbol"
        ),
        "cash": query(db, "SELECT cash FROM account"),
        "oversight": query(
            db,
            "SELECT request_id, status, approver_id FROM oversight_requests"
            " ORDER BY created_ns, request_id",
        ),
        "risk_events": query(
            db, "SELECT event_id, verdict, reasons FROM risk_events ORDER BY ts_ns, event_id"
        ),
    }


def broker_books(db: Path) -> dict[str, Any]:
    broker = Path(f"{db}.broker")
    return {
        "orders": query(
            broker,
            "SELECT client_order_id, side, quantity, status, filled_qty FROM broker_orders"
            " ORDER BY client_order_id",
        ),
        "fills": query(
            broker, "SELECT fill_id, quantity, price, fee FROM broker_fills ORDER BY fill_id"
        ),
        "positions": query(broker, "SELECT symbol, quantity FROM broker_positions"),
        "cash": query(broker, "SELECT cash FROM broker_account"),
    }
