"""`--report out.html`: one self-contained HTML file (plotly.js inlined, no network).

Charts: the equity curve and its drawdown, each symbol's closes with the trades on them,
gross exposure, monthly returns, realized PnL per strategy; then the gate's decisions
(PERMIT / DENY / REVIEW per policy, with reasons).
"""

from __future__ import annotations

import datetime as dt
import html
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from tradeswarm.backtest.result import Run


def _plotly() -> Any:
    try:
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots
    except ImportError as err:  # pragma: no cover - the extra is installed in CI
        raise RuntimeError("--report needs plotly: pip install 'tradeswarm[backtest]'") from err
    return go, make_subplots


def _dates(ts: Any) -> list[str]:
    return [dt.datetime.fromtimestamp(int(t) / 1e9, dt.UTC).strftime("%Y-%m-%d %H:%M") for t in ts]


def _figure(result: dict[str, Any], run: Run, engine_series: dict[str, Any]) -> Any:
    go, make_subplots = _plotly()
    symbols = sorted(engine_series)
    rows = 5 + len(symbols)
    titles = [
        "Equity",
        "Drawdown",
        "Gross exposure (% of equity)",
        "Monthly returns (%)",
        "Realized PnL by strategy",
    ]
    titles[3:3] = [f"{s}: closes and trades" for s in symbols]
    fig = make_subplots(rows=rows, cols=1, subplot_titles=titles, vertical_spacing=0.04)
    x = _dates(run.timeline)
    equity = np.asarray(run.equity)
    fig.add_trace(go.Scatter(x=x, y=equity, name="equity"), row=1, col=1)
    peak = np.maximum.accumulate(equity) if len(equity) else equity
    fig.add_trace(go.Scatter(x=x, y=equity / peak - 1.0, name="drawdown", fill="tozeroy"), 2, 1)
    gross = np.zeros(len(equity)) if run.gross_exposure is None else np.asarray(run.gross_exposure)
    with np.errstate(all="ignore"):
        share = np.where(equity > 0, gross / equity * 100.0, 0.0)
    fig.add_trace(go.Scatter(x=x, y=share, name="gross exposure %", fill="tozeroy"), 3, 1)
    for k, symbol in enumerate(symbols, start=4):
        series = engine_series[symbol]
        fig.add_trace(go.Scatter(x=_dates(series.ts), y=series.close, name=symbol), row=k, col=1)
        for side, color in (("BUY", "green"), ("SELL", "red")):
            mine = [t for t in run.trades if t.symbol == symbol and t.side == side]
            fig.add_trace(
                go.Scatter(
                    x=_dates([t.ts for t in mine]),
                    y=[float(t.price) for t in mine],
                    mode="markers",
                    marker={
                        "color": color,
                        "size": 8,
                        "symbol": "triangle-up" if side == "BUY" else "triangle-down",
                    },
                    name=f"{symbol} {side}",
                ),
                row=k,
                col=1,
            )
    months, values = _monthly(run)
    fig.add_trace(go.Bar(x=months, y=values, name="monthly %"), row=rows - 1, col=1)
    realized = result["realized_by_strategy"]
    fig.add_trace(
        go.Bar(x=list(realized), y=[float(v) for v in realized.values()], name="realized"), rows, 1
    )
    fig.update_layout(height=300 * rows, showlegend=False, title="tradeswarm backtest")
    return fig


def _monthly(run: Run) -> tuple[list[str], list[float]]:
    last: dict[str, float] = {}
    for ts, value in zip(run.timeline.tolist(), np.asarray(run.equity).tolist(), strict=True):
        last[dt.datetime.fromtimestamp(ts / 1e9, dt.UTC).strftime("%Y-%m")] = value
    months = list(last)
    start = float(run.equity[0]) if len(run.equity) else 0.0
    out, before = [], start
    for m in months:
        out.append((last[m] / before - 1.0) * 100 if before else 0.0)
        before = last[m]
    return months, out


def _decisions_table(result: dict[str, Any]) -> str:
    counts = Counter(
        (d["verdict"], (d["reasons"] or [""])[0].split(":", 1)[0]) for d in result["decision_list"]
    )
    rows = "".join(
        f"<tr><td>{html.escape(v)}</td><td>{html.escape(p)}</td><td>{n}</td></tr>"
        for (v, p), n in sorted(counts.items())
    )
    detail = "".join(
        f"<tr><td>{_dates([d['ts']])[0]}</td><td>{html.escape(d['strategy'])}</td>"
        f"<td>{html.escape(d['symbol'])}</td><td>{d['side']} {d['quantity']}</td>"
        f"<td>{d['verdict']}</td><td>{html.escape('; '.join(d['reasons']))}</td></tr>"
        for d in result["decision_list"][:2000]
    )
    return (
        "<h2>Gate decisions</h2><table border=1 cellpadding=4><tr><th>verdict</th>"
        f"<th>policy</th><th>count</th></tr>{rows}</table>"
        "<h3>Each decision (first 2,000)</h3><table border=1 cellpadding=3><tr><th>time</th>"
        "<th>strategy</th><th>symbol</th><th>order</th><th>verdict</th><th>reasons</th></tr>"
        f"{detail}</table>"
    )


def write_report(path: Path, result: dict[str, Any], run: Run, series: dict[str, Any]) -> None:
    fig = _figure(result, run, series)
    body = fig.to_html(full_html=False, include_plotlyjs=True)
    m = result["metrics"]
    facts = "".join(
        f"<li>{html.escape(k)}: {'n/a' if v is None else f'{v:.4f}'}</li>" for k, v in m.items()
    )
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>tradeswarm backtest</title>"
        "</head><body style='font-family:sans-serif'>"
        f"<h1>Backtest {html.escape(str(result['meta'].get('from')))} .. "
        f"{html.escape(str(result['meta'].get('to')))}</h1>"
        f"<p>final equity {result['final_equity']} from {result['initial_cash']}; "
        f"{result['trades']} trades; result sha256 {result['sha256']}</p><ul>{facts}</ul>"
        f"{body}{_decisions_table(result)}</body></html>"
    )
    path.write_text(page, encoding="utf-8")
