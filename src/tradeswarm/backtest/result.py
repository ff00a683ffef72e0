"""A backtest's result: trades, decisions, the equity curve, metrics; JSON and its hash.

The JSON is canonical (sorted keys, Decimals as strings, floats as Python writes them),
so the same inputs give the same bytes and the same ``sha256`` (a rerun is bit-identical).
Metrics come from `tradeswarm.quant.metrics` over the per-bar returns of the equity curve,
annualised by the run's bars per year (the calendar's sessions and the bar size).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import msgspec
import numpy as np

from tradeswarm.quant import metrics


class TradeRow(msgspec.Struct, frozen=True, kw_only=True):
    ts: int
    strategy: str
    proposal_id: str
    symbol: str
    side: str
    quantity: str
    price: str
    fee: str


class DecisionRow(msgspec.Struct, frozen=True, kw_only=True):
    ts: int
    strategy: str
    proposal_id: str
    symbol: str
    side: str
    quantity: str
    verdict: str  # the gate's first answer (REVIEW when oversight answered), or CANCELED
    final: str  # PERMIT / DENY after oversight, or CANCELED
    oversight: str
    reasons: list[str]


@dataclass
class Run:
    timeline: Any
    equity: Any
    trades: list[TradeRow]
    decisions: list[DecisionRow]
    cash: Decimal
    final_equity: Decimal
    fees: Decimal
    borrow: Decimal
    realized: dict[str, Decimal]
    positions: dict[str, Decimal]
    meta: dict[str, Any] = field(default_factory=dict)
    series: dict[str, Any] = field(default_factory=dict)  # the bars each symbol ran on
    gross_exposure: Any = None  # per instant: sum of |position value| (floats)


def _round_trips(trades: list[TradeRow]) -> list[float]:
    """The PnL of each closing fill (FIFO by average cost, per strategy and symbol), fees in."""
    held: dict[tuple[str, str], tuple[Decimal, Decimal]] = {}
    out: list[float] = []
    for t in trades:
        key = (t.strategy, t.symbol)
        qty, avg = held.get(key, (Decimal(0), Decimal(0)))
        signed = Decimal(t.quantity) * (1 if t.side == "BUY" else -1)
        price, fee = Decimal(t.price), Decimal(t.fee)
        if qty == 0 or (qty > 0) == (signed > 0):
            total = abs(qty) * avg + abs(signed) * price
            held[key] = (qty + signed, total / abs(qty + signed))
            continue
        closing = min(abs(signed), abs(qty))
        out.append(float(closing * (price - avg) * (1 if qty > 0 else -1) - fee))
        after = qty + signed
        held[key] = (after, avg if (after > 0) == (qty > 0) and after else price)
    return out


def compute_metrics(run: Run, periods_per_year: float) -> dict[str, float | None]:
    equity = np.asarray(run.equity, dtype=np.float64)
    if len(equity) < 3 or (equity <= 0).any():
        return {k: None for k in ("sharpe", "sortino", "calmar", "max_drawdown", "cagr")} | {
            "hit_rate": metrics.hit_rate(_round_trips(run.trades) or [0.0]),
            "turnover": None,
        }
    returns = equity[1:] / equity[:-1] - 1.0
    notional = sum(abs(float(t.quantity) * float(t.price)) for t in run.trades)
    years = len(returns) / periods_per_year
    return {
        "sharpe": metrics.sharpe(returns, periods_per_year=periods_per_year),
        "sortino": metrics.sortino(returns, periods_per_year=periods_per_year),
        "calmar": metrics.calmar(returns, periods_per_year=periods_per_year),
        "max_drawdown": metrics.max_drawdown(equity),
        "cagr": metrics.cagr(returns, periods_per_year=periods_per_year),
        "hit_rate": metrics.hit_rate(_round_trips(run.trades) or [0.0]),
        # traded notional per year over the mean equity (one-way: buys and sells count)
        "turnover": notional / float(np.mean(equity)) / years if years > 0 else None,
    }


def summary(run: Run, periods_per_year: float) -> dict[str, Any]:
    """The result as a JSON-ready dict (see the module docstring)."""
    verdicts = Counter(d.verdict for d in run.decisions)
    by_policy: Counter[str] = Counter()
    for d in run.decisions:
        for reason in d.reasons if d.final == "DENY" else ():
            by_policy[reason.split(":", 1)[0]] += 1
    first = float(run.equity[0]) if len(run.equity) else 0.0
    return {
        "meta": run.meta,
        "bars_per_year": periods_per_year,
        "initial_cash": str(run.meta.get("initial_cash", "")),
        "final_cash": str(run.cash),
        "final_equity": str(run.final_equity),
        "fees": str(run.fees),
        "borrow": str(run.borrow),
        "positions": {s: str(q) for s, q in sorted(run.positions.items())},
        "realized_by_strategy": {s: str(v) for s, v in sorted(run.realized.items())},
        "trades": len(run.trades),
        "decisions": dict(sorted(verdicts.items())),
        "denials_by_policy": dict(sorted(by_policy.items())),
        "metrics": compute_metrics(run, periods_per_year),
        "equity_start": first,
        "equity_end": float(run.equity[-1]) if len(run.equity) else 0.0,
        "trade_list": [msgspec.to_builtins(t) for t in run.trades],
        "decision_list": [msgspec.to_builtins(d) for d in run.decisions],
    }


def canonical(result: dict[str, Any]) -> bytes:
    return msgspec.json.format(msgspec.json.encode(result, order="sorted"), indent=1)


def digest(result: dict[str, Any]) -> str:
    """sha256 of the canonical JSON without the digest itself."""
    body = {k: v for k, v in result.items() if k != "sha256"}
    return hashlib.sha256(canonical(body)).hexdigest()
