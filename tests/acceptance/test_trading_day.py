"""Acceptance: the demo trades a real day and tells the whole governed story, reproducibly."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import pytest
from acceptance_kit import books, query, run_cli, status_json

from tradeswarm.data.csv_bars import bundled_bars
from tradeswarm.data.replay import pick_day, split_days

pytestmark = pytest.mark.slow

INTENT = re.compile(r"INTENT (BUY|SELL) (\d+) (\S+) \S+ ≈ \$([\d,]+)")


def _find(lines: list[str], pattern: str, start: int = 0) -> int:
    """Index of the first line at or after start that matches pattern; fail if none."""
    rx = re.compile(pattern)
    for i in range(start, len(lines)):
        if rx.search(lines[i]):
            return i
    raise AssertionError(f"no line matching {pattern!r} after line {start}:\n" + "\n".join(lines))


def _story(output: str) -> list[str]:
    return output.splitlines()


def _intent_ids(lines: list[str]) -> list[tuple[str, Decimal, int]]:
    """(short intent id, notional, line) for every intent, from the risk line that follows it."""
    found = []
    for i, line in enumerate(lines):
        m = INTENT.search(line)
        if m:
            j = _find(lines, r"risk-manager-01 .* intent ([0-9a-f]{8}):", i)
            short = re.search(r"intent ([0-9a-f]{8}):", lines[j])
            assert short is not None
            found.append((short.group(1), Decimal(m.group(4).replace(",", "")), i))
    return found


def _summary(output: str) -> dict[str, str]:
    start = output.index("end-of-day compliance summary")
    fields = {}
    for line in output[start:].splitlines()[1:]:
        if ":" not in line or not line.startswith("  "):
            break
        key, value = line.split(":", 1)
        fields[key.strip()] = value.strip()
    return fields


def test_a_small_trade_is_permitted_and_filled(full_day: tuple[Path, str]) -> None:
    _, output = full_day
    lines = _story(output)
    small = [(s, n, i) for s, n, i in _intent_ids(lines) if n < 100_000]
    assert small, "the day should have trades under $100k"
    filled = 0
    for short, _, i in small:
        risk = _find(lines, rf"intent {short}:", i)
        if "✓ PERMIT intent" not in lines[risk]:
            continue
        done = _find(lines, rf"ORDER ts-{short} .* → FILLED", risk)
        assert done > risk
        filled += 1
    assert filled >= 1, "no trade under $100k went PERMIT -> FILLED"


def test_a_large_trade_is_reviewed_approved_by_a_human_then_filled(
    full_day: tuple[Path, str],
) -> None:
    _, output = full_day
    lines = _story(output)
    review = _find(lines, r"⚠ REVIEW intent [0-9a-f]{8}: oversight_high_value")
    short = re.search(r"intent ([0-9a-f]{8})", lines[review])
    assert short is not None
    sid = short.group(1)
    asked = _find(lines, rf"→ HUMAN REVIEW request {sid}", review)
    approved = _find(lines, rf"👤 APPROVED by jane\.doe@desk request {sid}", asked)
    permit = _find(lines, rf"✓ PERMIT \(approved by jane\.doe@desk\) intent {sid}:", approved)
    filled = _find(lines, rf"ORDER ts-{sid} .* → FILLED", permit)
    assert review < asked < approved < permit < filled
    # the bars are read in exchange time (Europe/Berlin): the story is told in UTC
    assert lines[review].startswith("09:28:00")
    assert re.match(r"09:30:00  jane\.doe@desk +👤", lines[approved]), lines[approved]
    notional = Decimal(INTENT.search(lines[review - 1]).group(4).replace(",", ""))  # type: ignore[union-attr]
    assert notional > 100_000


def test_an_unanswered_review_is_auto_denied(full_day: tuple[Path, str]) -> None:
    _, output = full_day
    lines = _story(output)
    auto = _find(lines, r"⏱ AUTO-DENIED request ([0-9a-f]{8})")
    sid = re.search(r"request ([0-9a-f]{8})", lines[auto]).group(1)  # type: ignore[union-attr]
    review = _find(lines, rf"⚠ REVIEW intent {sid}: oversight_high_value")
    deny = _find(lines, rf"✗ DENY intent {sid}: oversight: auto-denied", auto)
    assert review < auto < deny
    assert not any(f"ORDER ts-{sid}" in line for line in lines), "an auto-denied trade was sent"


def test_the_circuit_breaker_denies_in_a_volatile_market(full_day: tuple[Path, str]) -> None:
    _, output = full_day
    lines = _story(output)
    deny = _find(lines, r"✗ DENY intent ([0-9a-f]{8}): circuit_volatility")
    sid = re.search(r"intent ([0-9a-f]{8})", lines[deny]).group(1)  # type: ignore[union-attr]
    assert not any(f"ORDER ts-{sid}" in line for line in lines)


def test_an_order_too_big_for_one_bar_fills_in_parts(full_day: tuple[Path, str]) -> None:
    db, output = full_day
    lines = _story(output)
    part = _find(lines, r"ORDER (ts-[0-9a-f]{8}) \w+ (\d+) → PARTIALLY_FILLED filled (\d+)")
    m = re.search(r"ORDER (ts-[0-9a-f]{8}) \w+ (\d+) → PARTIALLY_FILLED filled (\d+)", lines[part])
    assert m is not None
    short, quantity, first = m.group(1), int(m.group(2)), int(m.group(3))
    assert 0 < first < quantity
    _find(lines, rf"ORDER {short} \w+ {quantity} → FILLED filled {quantity}", part + 1)
    fills = query(db, "SELECT quantity FROM trades WHERE client_order_id LIKE ?", short + "%")
    assert len(fills) >= 2
    assert sum(Decimal(q) for (q,) in fills) == quantity
    assert query(db, "SELECT state, filled_qty FROM orders WHERE client_order_id LIKE ?",
                 short + "%") == [("FILLED", str(quantity))]  # fmt: skip


WASH = re.compile(
    r"⚑ WASH_TRADE_SUSPECT (\S+): SELL (\d+) reverses BUY (\d+) of (\d+) min before \(fill (\S+)\)"
)


def test_a_quick_reversal_is_flagged_as_a_suspected_wash_trade(full_day: tuple[Path, str]) -> None:
    db, output = full_day
    flagged = [m for m in map(WASH.search, _story(output)) if m]
    assert flagged, "the day should flag a reversal"
    logged = query(db, "SELECT COUNT(*) FROM events WHERE type = 'ComplianceFlag'")
    assert logged == [(len(flagged),)]
    for m in flagged:
        symbol, sold, bought, window_min, fill_id = m.groups()
        ((side, qty, bought_ns),) = query(
            db, "SELECT side, quantity, ts_event FROM trades WHERE fill_id = ?", fill_id
        )
        assert (side, qty) == ("BUY", bought)
        window = int(window_min) * 60 * 10**9
        sells = query(
            db,
            "SELECT quantity FROM trades WHERE side = 'SELL' AND symbol = ? AND ts_event > ?"
            " AND ts_event <= ?",
            symbol, bought_ns, bought_ns + window,
        )  # fmt: skip
        assert (sold,) in sells


def test_every_order_is_verified_clean_and_approvals_carry_the_humans_signature(
    full_day: tuple[Path, str],
) -> None:
    db, output = full_day
    audit = output[output.index("audit verification") :].splitlines()
    checked = {
        m.group(1): line for line in audit if (m := re.search(r"✓ order (ts-[0-9a-f]{8}):", line))
    }
    orders = {coid[:11] for (coid,) in query(db, "SELECT client_order_id FROM orders")}
    assert set(checked) == orders
    assert not any("✗" in line for line in audit)
    approved = {short for short, line in checked.items() if "approved by jane.doe@desk" in line}
    reviewed = {
        "ts-" + sid
        for sid in re.findall(r"👤 APPROVED by jane\.doe@desk request ([0-9a-f]{8})", output)
    }
    assert approved == reviewed and len(approved) == 2
    for short in sorted(approved):
        chain = run_cli("audit", "verify", short, "--db", db, "--demo-keys")
        assert chain.exit_code == 0, chain.stdout + chain.stderr
        assert "✓ human signed  : valid ed25519, key" in chain.stdout
        assert "of human:jane.doe@desk" in chain.stdout


def test_end_of_day_summary_matches_the_books(full_day: tuple[Path, str]) -> None:
    db, output = full_day
    s = _summary(output)
    assert set(s) >= {
        "trades executed",
        "total volume",
        "oversight requests",
        "human approvals",
        "human denials",
        "auto-denials",
        "risk events",
        "compliance flags",
    }
    trades = query(db, "SELECT quantity, price FROM trades")
    assert int(s["trades executed"]) == len(trades) > 0
    volume = sum((Decimal(q) * Decimal(p) for q, p in trades), Decimal(0))
    assert s["total volume"] == f"${volume:,.2f}"
    statuses = [r[0] for r in query(db, "SELECT status FROM oversight_requests")]
    assert int(s["oversight requests"]) == len(statuses) == 4
    assert int(s["human approvals"]) == statuses.count("APPROVED") == 2
    assert int(s["human denials"]) == statuses.count("DENIED") == 0
    assert int(s["auto-denials"]) == statuses.count("TIMEOUT") == 2
    _, day = pick_day(split_days(bundled_bars()), "2006-01-04")
    midnight = int(dt.datetime(2006, 1, 4, tzinfo=dt.UTC).timestamp()) * 10**9
    risky = query(
        db,
        "SELECT COUNT(*) FROM risk_events WHERE verdict != 'PERMIT' AND ts_ns >= ? AND ts_ns < ?",
        midnight,
        midnight + 86_400 * 10**9,
    )
    assert int(s["risk events"]) == risky[0][0] > 0
    # the day holds the DENY decided on the last bar, at the close itself (market closed)
    at_close = query(db, "SELECT verdict FROM risk_events WHERE ts_ns = ?", day.session.close_ns)
    assert ("DENY",) in at_close
    _find(_story(output), r"^21:00:00  risk-manager-01 .* circuit breaker: market is closed")
    flags = query(db, "SELECT COUNT(*) FROM events WHERE type = 'ComplianceFlag'")
    assert int(s["compliance flags"]) == flags[0][0]


def test_books_are_clean_and_reconciled_after_the_day(full_day: tuple[Path, str]) -> None:
    db, output = full_day
    report = status_json(db)
    assert report["duplicate_client_order_ids"] == 0
    assert report["reconciled"] is True
    assert report["open_orders"] == 0
    assert report["pending_oversight"] == 0
    assert report["killswitch"] is False
    assert report["orders"] == len(query(db, "SELECT 1 FROM orders")) > 0
    assert report["fills"] == len(query(db, "SELECT 1 FROM trades"))
    assert report["open_positions"] == report["broker_positions"]
    assert f"books: {report['orders']} orders, {report['fills']} fills" in output
    verify = run_cli("audit", "verify", "--all", "--db", db, "--demo-keys")
    assert verify.exit_code == 0, verify.stdout + verify.stderr
    assert "every table: clean" in verify.stdout


def test_two_runs_with_the_same_config_print_identical_stories(
    full_day: tuple[Path, str], tmp_path: Path
) -> None:
    db, output = full_day
    again = run_cli("demo", "--db", tmp_path / "again.sqlite")
    assert again.exit_code == 0, again.stderr
    assert again.stdout.encode() == output.encode()
    assert books(tmp_path / "again.sqlite") == books(db)
