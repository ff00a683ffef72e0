"""The gate's rules as a table: (rule id, effect, predicate, message). Forbid overrides review.

Each predicate returns True when the rule FIRES (the trade breaches it). A trade is
PERMITted only when no DENY rule and no REVIEW rule fires; unknown means deny.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import msgspec

from tradeswarm.model.enums import MarketStatus, Verdict
from tradeswarm.model.messages import TradeIntent
from tradeswarm.risk.context import RiskContext
from tradeswarm.risk.limits import RiskLimits

Predicate = Callable[[TradeIntent, RiskContext, RiskLimits], bool]


class Rule(msgspec.Struct, frozen=True):
    rule_id: str
    effect: Verdict
    fires: Predicate
    message: Callable[[TradeIntent, RiskContext, RiskLimits], str]


def _tier_cap(i: TradeIntent, lim: RiskLimits) -> Decimal | None:
    tier = lim.agent_tiers.get(i.agent_id)
    limits = lim.tiers.get(tier) if tier else None
    return min(limits.max_trade_size, lim.hard_cap) if limits else None


def _size_fires(i: TradeIntent, c: RiskContext, lim: RiskLimits) -> bool:
    cap = _tier_cap(i, lim)
    return cap is None or c.notional > cap


def _approved(c: RiskContext, lim: RiskLimits) -> bool:
    a, age = c.approval, c.approval_age_s
    return a is not None and a.approved and age is not None and 0 <= age <= lim.approval_valid_s


RULES: tuple[Rule, ...] = (
    Rule(
        "kill_switch",
        Verdict.DENY,
        lambda i, c, lim: c.kill_switch,
        lambda i, c, lim: "kill switch is active: no new trades until a human resumes",
    ),
    Rule(
        "asset_class",
        Verdict.DENY,
        lambda i, c, lim: i.asset_class in lim.excluded_asset_classes,
        lambda i, c, lim: f"asset class {i.asset_class} is excluded",
    ),
    Rule(
        "trade_size",
        Verdict.DENY,
        _size_fires,
        lambda i, c, lim: (
            f"trade ${c.notional:,.2f} exceeds agent {i.agent_id}'s tier cap {_tier_cap(i, lim)}"
        ),
    ),
    Rule(
        "position_limit",
        Verdict.DENY,
        lambda i, c, lim: abs(c.post_position) > lim.position_limit,
        lambda i, c, lim: (
            f"position after trade {c.post_position} exceeds limit {lim.position_limit}"
        ),
    ),
    Rule(
        "no_short",
        Verdict.DENY,
        lambda i, c, lim: c.post_position < 0 and not lim.allow_short,
        lambda i, c, lim: f"position after trade {c.post_position} would be short",
    ),
    Rule(
        "concentration",
        Verdict.DENY,
        lambda i, c, lim: c.post_position != 0 and c.concentration_after >= lim.max_concentration,
        lambda i, c, lim: (
            f"concentration after trade {c.concentration_after:.1%} >= {lim.max_concentration:.0%}"
        ),
    ),
    Rule(
        "daily_loss",
        Verdict.DENY,
        lambda i, c, lim: c.daily_pnl <= -lim.max_daily_loss,
        lambda i, c, lim: f"daily P&L {c.daily_pnl:,.2f} breaches max loss {lim.max_daily_loss}",
    ),
    Rule(
        "circuit_volatility",
        Verdict.DENY,
        lambda i, c, lim: c.volatility > lim.volatility_limit,
        lambda i, c, lim: (
            f"circuit breaker: volatility {c.volatility:.2f} > {lim.volatility_limit:.2f}"
        ),
    ),
    Rule(
        "circuit_market_status",
        Verdict.DENY,
        lambda i, c, lim: c.market_status is not MarketStatus.OPEN,
        lambda i, c, lim: f"circuit breaker: market is {c.market_status}",
    ),
    Rule(
        "circuit_halted",
        Verdict.DENY,
        lambda i, c, lim: c.halted,
        lambda i, c, lim: f"circuit breaker: {i.symbol} is halted",
    ),
    Rule(
        "restricted_symbol",
        Verdict.DENY,
        lambda i, c, lim: i.symbol in lim.restricted_symbols,
        lambda i, c, lim: f"compliance: {i.symbol} is on the restricted list",
    ),
    Rule(
        "order_type",
        Verdict.DENY,
        lambda i, c, lim: i.order_type not in lim.allowed_order_types,
        lambda i, c, lim: f"compliance: order type {i.order_type} is not allowed",
    ),
    Rule(
        "oversight_high_value",
        Verdict.REVIEW,
        lambda i, c, lim: c.notional > lim.oversight_threshold and not _approved(c, lim),
        lambda i, c, lim: (
            f"trade ${c.notional:,.2f} > ${lim.oversight_threshold:,.0f} "
            "needs a human approval from the last 5 minutes"
        ),
    ),
)


def evaluate(
    intent: TradeIntent, ctx: RiskContext, limits: RiskLimits
) -> tuple[Verdict, list[str]]:
    """Run every rule; DENY if any deny rule fires, else REVIEW if any review fires."""
    fired = [r for r in RULES if r.fires(intent, ctx, limits)]
    denies = [r for r in fired if r.effect is Verdict.DENY]
    chosen = denies or [r for r in fired if r.effect is Verdict.REVIEW]
    if not chosen:
        return Verdict.PERMIT, ["all rules passed"]
    verdict = Verdict.DENY if denies else Verdict.REVIEW
    return verdict, [f"{r.rule_id}: {r.message(intent, ctx, limits)}" for r in chosen]
