"""`audit report`: the day's compliance figures, checked against the tables by plain SQL."""

from __future__ import annotations

import contextlib
import html
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from test_audit_tamper import (
    DEMO_KEYS,
    cli,
    copy_store,
    demo_day,
    resign_with_a_foreign_key,
    tamper_with,
    witness_file,
)

pytestmark = pytest.mark.slow
DAY = "2006-01-04"


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_day(tmp_path_factory)


def report(db: Path, out: Path, *options: str) -> Any:
    return cli("audit", "report", "--db", db, "--date", DAY, "--out", out, *options)


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
    result = report(day, out, DEMO_KEYS)
    assert result.exit_code == 0, result.stdout
    page = out.read_text()
    for key, value in _sql_figures(day).items():
        assert f"<th>{html.escape(key)}</th><td>{html.escape(value)}</td>" in page, key
    assert "intact" in page and "Problems found" not in page
    assert "Checkpoints witnessed" in page
    assert html.escape("the demo's public-seed keys (--demo-keys)") in page


def test_a_report_needs_a_trust_anchor(day: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    result = report(day, out)
    assert result.exit_code == 2
    assert "no trust anchor" in result.stderr
    assert not out.exists()
    tofu = report(day, out, "--trust-on-first-use")
    assert tofu.exit_code == 0, tofu.stdout
    assert "TRUST ON FIRST USE" in out.read_text()


def test_a_day_resigned_with_a_foreign_key_reports_failure(day: Path, tmp_path: Path) -> None:
    db = copy_store(day, tmp_path / "copy.sqlite")
    witness_file(db).unlink()
    tamper_with(db, resign_with_a_foreign_key)
    out = tmp_path / "report.html"
    result = report(db, out, DEMO_KEYS)
    assert result.exit_code == 1, result.stdout
    page = out.read_text()
    assert "FAILED" in page and "no charter signed by a trusted log key" in page


def test_pdf_report_is_written(day: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.pdf"
    result = report(day, out, "--format", "pdf", DEMO_KEYS)
    assert result.exit_code == 0, result.stdout
    assert out.read_bytes().startswith(b"%PDF-")


def test_a_tampered_day_reports_failure(day: Path, tmp_path: Path) -> None:
    db = copy_store(day, tmp_path / "copy.sqlite")
    assert report(db, tmp_path / "clean.html", DEMO_KEYS).exit_code == 0
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("UPDATE trades SET price = price || '1' WHERE rowid = 1")
    out = tmp_path / "report.html"
    result = report(db, out, DEMO_KEYS)
    assert result.exit_code == 1
    page = out.read_text()
    assert "FAILED" in page and "Problems found" in page and "column price is" in page


def test_bad_report_arguments_exit_2(day: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    bad_date = cli("audit", "report", "--db", day, "--date", "04/01/2006", "--out", out, DEMO_KEYS)
    assert bad_date.exit_code == 2 and "--date" in bad_date.stderr
    bad_fmt = report(day, out, "--format", "doc", DEMO_KEYS)
    assert bad_fmt.exit_code == 2 and "--format" in bad_fmt.stderr


def test_the_days_summary_and_the_report_count_the_same_day(day: Path) -> None:
    """The compliance agent's end-of-day summary (as logged) and `audit report` agree on
    every figure they share, the DENY decided at the close included."""
    from tradeswarm.audit.anchor import demo_anchor
    from tradeswarm.audit.report import build_report
    from tradeswarm.audit.trust import load_witness_state
    from tradeswarm.model.envelope import decode_envelope
    from tradeswarm.model.messages import DailySummary
    from tradeswarm.store import Store

    with contextlib.closing(sqlite3.connect(day)) as conn:
        (body,) = conn.execute("SELECT body FROM events WHERE type = 'DailySummary'").fetchone()
    summary = decode_envelope(body).payload
    assert isinstance(summary, DailySummary)
    store = Store.open(day)
    try:
        built = build_report(store, DAY, demo_anchor(), load_witness_state(witness_file(day)))
    finally:
        store.close()
    assert built.clean, built.problems
    shared = ("trades", "volume", "oversight_requests", "approvals", "auto_denials")
    assert {k: getattr(summary, k) for k in shared} == {k: getattr(built, k) for k in shared}
    assert summary.denials == built.human_denials
    assert summary.risk_events == built.risk_events == int(_sql_figures(day)["Risk events"])
