"""Parity with backtrader: the same SMA crossover on the same files, trade by trade.

backtrader reads the files with its own feeds; tradeswarm reads them with its own
sources, runs the strategy through its risk gate (limits opened so every proposal is
permitted, and the test checks each was decided), fills at the next open, and books in
Decimal. Dates and sizes must agree exactly, prices to 1e-12 (ours are the files' own
decimals; backtrader's executed price carries its float arithmetic, 3863.5700000000006),
commissions to a hundredth of a cent and the final value to the cent.
"""

from __future__ import annotations

from decimal import Decimal

import backtrader as bt
import pytest
from bt_kit import our_fills, run_backtrader, run_ours

from shared_data import MARKET_DATA

CENT = Decimal("0.01")


def _compare(theirs: list, ours: list, value: float, result: dict) -> None:
    assert len(ours) == len(theirs) > 10
    for (d1, s1, q1, p1, c1), (d2, s2, q2, p2, c2) in zip(theirs, ours, strict=True):
        assert (d1, s1, q1) == (d2, s2, float(q2))
        assert abs(Decimal(repr(p1)) - p2) <= p2 * Decimal("1e-12"), (d1, p1, p2)
        assert abs(Decimal(repr(c1)) - c2) < CENT / 100
    assert abs(Decimal(repr(value)) - Decimal(result["final_equity"])) < CENT
    permitted = {d["proposal_id"] for d in result["decision_list"] if d["final"] == "PERMIT"}
    assert set(result["decisions"]) == {"PERMIT"}  # every proposal was decided, and passed
    assert {t["proposal_id"] for t in result["trade_list"]} <= permitted


def test_sma_crossover_on_the_2006_daily_file_matches_backtrader() -> None:
    path = MARKET_DATA / "2006-day-001.txt"
    value, theirs = run_backtrader(bt.feeds.BacktraderCSVData(dataname=str(path)), 100_000, 10, 0)
    result = run_ours(path, "IDXF", 100_000, 10, "0")
    _compare(theirs, our_fills(result), value, result)
    assert value == pytest.approx(102_841.0)


def test_sma_crossover_on_orcl_with_commission_matches_backtrader() -> None:
    path = MARKET_DATA / "orcl-1995-2014.txt"
    feed = bt.feeds.YahooFinanceCSVData(dataname=str(path), adjclose=False, round=False)
    value, theirs = run_backtrader(feed, 100_000, 1000, 0.001)
    result = run_ours(path, "ORCL", 100_000, 1000, "10")
    _compare(theirs, our_fills(result), value, result)
    assert Decimal(result["fees"]) > 0


def test_adjusted_prices_match_backtraders_adjusted_feed() -> None:
    path = MARKET_DATA / "nvda-1999-2014.txt"
    feed = bt.feeds.YahooFinanceCSVData(dataname=str(path), adjclose=True, round=False)
    value, theirs = run_backtrader(feed, 100_000, 100, 0.001)
    result = run_ours(path, "NVDA", 100_000, 100, "10", adjust=True)
    _compare(theirs, our_fills(result), value, result)
