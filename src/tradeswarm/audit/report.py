"""The daily compliance report (the seed's dashboard summary), as HTML or PDF.

Every figure is read from the store and every claim about integrity is re-verified while
the report is built: the log's hash chain and books, every signature on the day's
entries, the Merkle tree, each checkpoint's signatures and the witness cosignatures.
"""

from __future__ import annotations

import datetime as dt
import html
from decimal import Decimal
from pathlib import Path

import msgspec

from tradeswarm.audit.anchor import TrustAnchor
from tradeswarm.audit.order_check import check_all
from tradeswarm.audit.witness import WitnessState
from tradeswarm.core.errors import InvalidInput
from tradeswarm.model.enums import OversightStatus
from tradeswarm.store import Store

NS = 1_000_000_000


class DailyReport(msgspec.Struct, kw_only=True):
    day: str
    trades: int
    volume: Decimal
    fees: Decimal
    oversight_requests: int
    approvals: int
    human_denials: int
    auto_denials: int
    risk_events: int
    entries: int
    signed_entries: int
    signatures_valid: int
    checkpoints: int
    witnessed_checkpoints: int
    latest_checkpoint: str
    key_source: str
    problems: list[str]

    @property
    def clean(self) -> bool:
        return not self.problems


def day_window(day: str) -> tuple[int, int]:
    """[start, end) in ns of the UTC calendar day `day` (YYYY-MM-DD): what a trading day
    contains, for this report and the compliance agent's end-of-day summary alike.

    A session lies inside its UTC day (sessions are split by date), so the window holds
    everything the day's session caused, including what is decided at the close itself
    (e.g. a DENY "market is closed" on the last bar, at close_ns).
    """
    try:
        start = dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC)
    except ValueError as err:
        raise InvalidInput("--date", day, "expected YYYY-MM-DD") from err
    begin = int(start.timestamp()) * NS
    return begin, begin + 86_400 * NS


def build_report(
    store: Store, day: str, anchor: TrustAnchor, witness: WitnessState | None = None
) -> DailyReport:
    """Gather and verify the day's figures, trusting anchor's keys."""
    lo, hi = day_window(day)
    check = check_all(store, anchor, witness)
    fills = [f for f in store.list_trades(since_ns=lo) if f.ts_event < hi]
    requests = [r for r in store.list_oversight() if lo <= r.request.created_ns < hi]
    todays = [
        (e, s)
        for e, s in zip(check.scan.envelopes, check.scan.seqs, strict=True)
        if lo <= e.ts_ns < hi
    ]
    signed = [s for e, s in todays if e.signature is not None]
    valid = sum(1 for s in signed if check.walk.verdicts[s].ok)
    cps = [c for c in check.facts.checkpoints if lo <= c.ts_ns < hi]
    latest = check.facts.latest
    return DailyReport(
        day=day,
        trades=len(fills),
        volume=sum((f.quantity * f.price for f in fills), Decimal(0)),
        fees=sum((f.fee for f in fills), Decimal(0)),
        oversight_requests=len(requests),
        approvals=sum(r.status is OversightStatus.APPROVED for r in requests),
        human_denials=sum(r.status is OversightStatus.DENIED for r in requests),
        auto_denials=sum(r.status is OversightStatus.TIMEOUT for r in requests),
        risk_events=store.count_risk_events(lo, hi),
        entries=len(todays),
        signed_entries=len(signed),
        signatures_valid=valid,
        checkpoints=len(cps),
        witnessed_checkpoints=sum(1 for c in cps if check.facts.witnessed.get(c.size)),
        latest_checkpoint="none" if latest is None else f"size {latest.size}",
        key_source=check.facts.key_source,
        problems=list(check.problems),
    )


def _rows(r: DailyReport) -> list[tuple[str, str]]:
    mark = "✓" if r.clean else "✗"
    return [
        ("Trades executed", f"{r.trades:,}"),
        ("Total volume", f"${r.volume:,.2f}"),
        ("Fees", f"${r.fees:,.2f}"),
        ("Oversight requests", str(r.oversight_requests)),
        ("Human approvals", str(r.approvals)),
        ("Human denials", str(r.human_denials)),
        ("Auto-denials (timeout)", str(r.auto_denials)),
        ("Risk events", str(r.risk_events)),
        ("Log entries today", f"{r.entries:,}"),
        ("Signatures verified", f"{r.signatures_valid:,} of {r.signed_entries:,} signed entries"),
        ("Checkpoints signed (Ed25519 + ML-DSA-87)", str(r.checkpoints)),
        ("Checkpoints witnessed", f"{r.witnessed_checkpoints} of {r.checkpoints}"),
        ("Latest checkpoint", r.latest_checkpoint),
        ("Log keys trusted from", r.key_source),
        (
            f"{mark} Audit trail (hash chain, signatures, Merkle tree, every table)",
            "intact" if r.clean else "FAILED",
        ),
    ]


def render_html(r: DailyReport) -> str:
    """A standalone HTML page; every value escaped."""
    rows = "\n".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in _rows(r)
    )
    problems = "".join(f"<li>{html.escape(p)}</li>" for p in r.problems)
    issues = f"<h2>Problems found</h2><ul>{problems}</ul>" if problems else ""
    title = html.escape(f"Daily compliance summary — {r.day}")
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{title}</title><style>body{{font-family:sans-serif;margin:2em}}"
        "th{text-align:left;padding-right:2em}td,th{border-bottom:1px solid #ddd;padding:4px}"
        f"</style></head><body><h1>{title}</h1><table>{rows}</table>{issues}</body></html>\n"
    )


def write_pdf(r: DailyReport, path: Path) -> None:
    """The same summary as a one-page PDF (fpdf2, core fonts: text kept to Latin-1)."""
    from fpdf import FPDF

    def latin(text: str) -> str:
        return (
            text.replace("✓", "[ok]")
            .replace("✗", "[FAIL]")
            .replace("—", "-")
            .encode("latin-1", "replace")
            .decode("latin-1")
        )

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 12, latin(f"Daily compliance summary - {r.day}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=11)
    for key, value in _rows(r):
        pdf.cell(95, 8, latin(key))
        pdf.cell(0, 8, latin(value), new_x="LMARGIN", new_y="NEXT")
    for problem in r.problems:
        pdf.multi_cell(0, 6, latin(f"- {problem}"), new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))
