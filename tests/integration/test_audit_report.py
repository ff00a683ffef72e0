"""`audit report`: the day's compliance figures, checked against the tables by plain SQL."""

from __future__ import annotations

import contextlib
import html
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
from test_audit_tamper import cli

pytestmark = pytest.mark.slow
DAY = "2006-01-04"


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("report") / "swarm.sqlite"
    assert cli("demo", "--db", db).exit_code == 0
    return db


def _sql_figures(db: Path) -> dict[str, str]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        fills = conn.execute("SELECT quantity, price, fee FROM trades").fetchall()
        status = dict(
            conn.execute("SELECT status, COUNT(*) FROM oversight_requests GROUP BY status")
        )
        (risk,) = conn.execute(
            "SELECT COUNT(*) FROM risk_events WHERE verdict != 'PERMIT'"
        ).fetchone()
    volume = sum((Decimal(q) * Decimal(p) for q, p, _ in fills), Decimal(0))
    return {
        "Trades executed": f"{len(fills):,}",
        "Total volume": f"${volume:,.2f}",
        "Oversight requests": str(sum(status.values())),
        "Human approvals": str(status.get("APPROVED", 0)),
        "Auto-denials (timeout)": str(status.get("TIMEOUT", 0)),
        "Risk events": str(risk),
    }


def test_html_report_matches_the_tables_and_says_the_trail_is_intact(
    day: Path, tmp_path: Path
) -> None:
    out = tmp_path / "report.html"
    result = cli("audit", "report", "--db", day, "--date", DAY, "--out", out)
    assert result.exit_code == 0, result.stdout
    page = out.read_text()
    for key, value in _sql_figures(day).items():
        assert f"<th>{html.escape(key)}</th><td>{html.escape(value)}</td>" in page, key
    assert "intact" in page and "Problems found" not in page
    assert "Checkpoints witnessed" in page


def test_pdf_report_is_written(day: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.pdf"
    result = cli("audit", "report", "--db", day, "--date", DAY, "--format", "pdf", "--out", out)
    assert result.exit_code == 0, result.stdout
    assert out.read_bytes().startswith(b"%PDF-")


def test_a_tampered_day_reports_failure(day: Path, tmp_path: Path) -> None:
    db = tmp_path / "copy.sqlite"
    db.write_bytes(day.read_bytes())
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("UPDATE trades SET price = price || '1' WHERE rowid = 1")
    out = tmp_path / "report.html"
    result = cli("audit", "report", "--db", db, "--date", DAY, "--out", out)
    assert result.exit_code == 1
    assert "FAILED" in out.read_text() and "Problems found" in out.read_text()


def test_bad_report_arguments_exit_2(day: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    bad_date = cli("audit", "report", "--db", day, "--date", "04/01/2006", "--out", out)
    assert bad_date.exit_code == 2 and "--date" in bad_date.stderr
    bad_fmt = cli("audit", "report", "--db", day, "--date", DAY, "--format", "doc", "--out", out)
    assert bad_fmt.exit_code == 2 and "--format" in bad_fmt.stderr


def test_the_days_summary_and_the_report_count_the_same_day(day: Path) -> None:
    """The compliance agent's end-of-day summary (as logged) and `audit report` agree on
    every figure they share, the DENY decided at the close included."""
    from tradeswarm.audit.report import build_report
    from tradeswarm.model.envelope import decode_envelope
    from tradeswarm.model.messages import DailySummary
    from tradeswarm.store import Store

    with contextlib.closing(sqlite3.connect(day)) as conn:
        (body,) = conn.execute("SELECT body FROM events WHERE type = 'DailySummary'").fetchone()
    summary = decode_envelope(body).payload
    assert isinstance(summary, DailySummary)
    store = Store.open(day)
    try:
        report = build_report(store, DAY)
    finally:
        store.close()
    shared = ("trades", "volume", "oversight_requests", "approvals", "auto_denials")
    assert {k: getattr(summary, k) for k in shared} == {k: getattr(report, k) for k in shared}
    assert summary.denials == report.human_denials
    assert summary.risk_events == report.risk_events == int(_sql_figures(day)["Risk events"])
