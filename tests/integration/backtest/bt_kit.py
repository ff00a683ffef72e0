"""backtrader, the outside reference (its own SMA crossover and feeds, from the backtest
bench), and the same strategy on tradeswarm; fills as (day, side, size, price, fee)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

from tradeswarm.backtest.runner import run_backtest
from tradeswarm.bench.backtest import OPEN_LIMITS, ours_config
from tradeswarm.bench.backtest import run_backtrader as _run_backtrader

__all__ = ["OPEN_LIMITS", "our_fills", "run_backtrader", "run_ours"]


def run_backtrader(feed: Any, cash: float, stake: int, commission: float) -> tuple[float, list]:
    return _run_backtrader(Path("-"), cash, stake, commission, feed)


def run_ours(
    path: Path, symbol: str, cash: int, stake: int, fee_bps: str, adjust: bool = False
) -> dict[str, Any]:
    return run_backtest(ours_config(path, symbol, cash, stake, fee_bps, adjust))[0]


def our_fills(result: dict[str, Any]) -> list[tuple[dt.date, str, Decimal, Decimal, Decimal]]:
    out = []
    for t in result["trade_list"]:
        day = dt.datetime.fromtimestamp(t["ts"] / 1e9, dt.UTC).date()
        out.append((day, t["side"], Decimal(t["quantity"]), Decimal(t["price"]), Decimal(t["fee"])))
    return out
