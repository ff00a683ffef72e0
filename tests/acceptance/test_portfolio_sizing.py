"""Acceptance: a swarm whose trader sizes through the PortfolioAgent (Kelly-tempered under a
risk budget) trades the bundled day, and no order takes the book past the budget."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from acceptance_kit import query, run_cli, status_json

from tradeswarm.model.envelope import decode_envelope
from tradeswarm.model.messages import FillReceived, TradeIntent

pytestmark = pytest.mark.slow

RISK_BUDGET = Decimal("0.02")  # gross exposure at most 2% of equity: $100,000 of $5M
CONFIG = f"""
[trader]
sizing = "portfolio"

[trader.portfolio]
method = "kelly"
kelly_fraction = 0.25
risk_budget = {RISK_BUDGET}
max_weight = {RISK_BUDGET}
vol_budget = 0.20
periods_per_year = 196560  # one-minute bars: 252 sessions of 780 minutes
"""


def test_a_kelly_sized_swarm_trades_the_day_within_its_risk_budget(tmp_path: Path) -> None:
    config = tmp_path / "kelly.toml"
    config.write_text(CONFIG, encoding="utf-8")
    db = tmp_path / "kelly.sqlite"
    result = run_cli("demo", "--db", db, "--config", config)
    assert result.exit_code == 0, result.stderr
    assert "INTENT BUY" in result.stdout

    envs = [decode_envelope(body) for (body,) in query(db, "SELECT body FROM events ORDER BY seq")]
    held = Decimal(0)
    buys: list[tuple[Decimal, Decimal]] = []  # (quantity, what the fixed notional buys)
    for env in envs:
        p = env.payload
        if isinstance(p, FillReceived):
            held += p.quantity if p.side == "BUY" else -p.quantity
        elif isinstance(p, TradeIntent) and p.side == "BUY":
            exposure = (held + p.quantity) * p.reference_price
            # equity stays within 1% of the initial $5M over this day (P&L is small)
            assert exposure <= RISK_BUDGET * Decimal(5_050_000), (held, p.quantity)
            buys.append((p.quantity, Decimal(60_000) // p.reference_price))
    assert buys
    # the budget binds: some buy was cut below what the fixed $60,000 notional would buy
    assert any(qty < fixed for qty, fixed in buys), buys
    report = status_json(db)
    assert report["reconciled"] is True and report["open_orders"] == 0
    assert run_cli("audit", "verify", "--all", "--db", db, "--demo-keys").exit_code == 0
