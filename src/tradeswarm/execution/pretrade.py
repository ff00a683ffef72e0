"""Hard execution limits checked right before an order is sent (seed section C)."""

from __future__ import annotations

from decimal import Decimal

from tradeswarm.core.clock import NS_PER_SECOND
from tradeswarm.core.config import ConfigBase
from tradeswarm.model.market import Quote, Session
from tradeswarm.model.messages import RiskDecision


class ExecutionConfig(ConfigBase, frozen=True):
    approval_max_age_s: int = 300
    close_buffer_s: int = 900
    max_spread_pct: Decimal = Decimal("0.02")
    max_quote_age_s: int = 15
    max_retries: int = 3
    backoff_ms: int = 100


def pretrade_refusals(
    decision: RiskDecision,
    now_ns: int,
    quote: Quote | None,
    session: Session | None,
    config: ExecutionConfig,
) -> list[str]:
    """Every reason to refuse sending this permitted trade now; empty means send."""
    reasons = []
    age_s = (now_ns - decision.ts_event) / NS_PER_SECOND
    if age_s > config.approval_max_age_s:
        reasons.append(f"stale approval: {age_s:.0f}s old > {config.approval_max_age_s}s")
    if session is None or not session.is_open(now_ns):
        reasons.append("market closed")
    elif (session.close_ns - now_ns) < config.close_buffer_s * NS_PER_SECOND:
        mins = (session.close_ns - now_ns) / (60 * NS_PER_SECOND)
        reasons.append(
            f"within {config.close_buffer_s // 60} minutes of the close ({mins:.0f} left)"
        )
    if quote is None:
        reasons.append("no quote for the symbol")
        return reasons
    if (now_ns - quote.ts_event) > config.max_quote_age_s * NS_PER_SECOND:
        reasons.append(f"stale market data: last quote {(now_ns - quote.ts_event) / 1e9:.0f}s old")
    if quote.bid <= 0 or quote.ask < quote.bid:
        reasons.append(f"crossed or empty quote bid={quote.bid} ask={quote.ask}")
    elif quote.spread_pct > config.max_spread_pct:
        reasons.append(f"spread {quote.spread_pct:.2%} > {config.max_spread_pct:.0%}")
    return reasons
