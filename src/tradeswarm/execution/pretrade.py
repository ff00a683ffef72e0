"""Hard execution limits checked right before an order is sent (seed section C).

Besides staleness, trading hours and the spread, the price collar is checked again
against the latest quote: a limit or stop that has drifted outside the collar, or a
market that has moved by more than the collar since the gate valued the trade, is
refused (the gate's decision said what it saw; this is what the market is now).
"""

from __future__ import annotations

from decimal import Decimal, localcontext
from typing import NamedTuple

from tradeswarm.core.clock import NS_PER_SECOND
from tradeswarm.core.config import ConfigBase
from tradeswarm.model.market import Instrument, Quote, Session
from tradeswarm.model.messages import RiskDecision


class Collar(NamedTuple):
    """The desk's price collar: a price passes within `fraction` of the reference or
    within `ticks` ticks of it (the gate's `price_collar` / `price_collar_ticks`)."""

    fraction: Decimal
    ticks: Decimal


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


def _outside(price: Decimal, mid: Decimal, collar: Collar, tick: Decimal) -> Decimal | None:
    """How far (a fraction) price is from mid when it is outside the collar, else None."""
    with localcontext() as ctx:
        ctx.prec = 60
        distance = abs(price - mid)
        fraction = distance / mid
        if fraction > collar.fraction and distance / tick > collar.ticks:
            return fraction
    return None


def collar_refusal(
    decision: RiskDecision, quote: Quote, collar: Collar, instrument: Instrument
) -> str | None:
    """Why the latest quote puts this permitted trade outside the collar, or None."""
    mid, intent, tick = quote.mid, decision.intent, instrument.tick_size
    if mid <= 0:
        return f"price collar: no usable quote mid ({mid})"
    for name, price in (("limit", intent.limit_price), ("stop", intent.stop_price)):
        off = None if price is None else _outside(price, mid, collar, tick)
        if off is not None:
            return (
                f"price collar: the {name} {price} is {off:.2%} from the quote's mid {mid} "
                f"now (collar {collar.fraction:.2%}); the market moved"
            )
    valued = decision.metrics.get("reference_price")
    try:
        reference = Decimal(valued) if valued is not None else None
    except ArithmeticError:
        reference = None
    if reference is None or not reference.is_finite() or reference <= 0:
        return f"price collar: the decision carries no usable gate valuation ({valued!r})"
    moved = _outside(reference, mid, collar, tick)
    if moved is not None:
        return (
            f"price collar: the market moved {moved:.2%} since the gate valued the trade at "
            f"a mid of {valued} (now {mid}; collar {collar.fraction:.2%})"
        )
    return None
