"""The policy gate: one intent in its RiskContext -> PERMIT / DENY / REVIEW with reasons.

Unknown means deny. A context value Cedar cannot hold (out of range, NaN) is a DENY
before the engine is asked; any error in the engine's response (a policy that errored
and was skipped, a request that failed to build) is a DENY with the error as reason,
whatever Cedar decided, because a skipped forbid could otherwise become a permit.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tradeswarm.core.errors import InvalidInput
from tradeswarm.model.enums import Verdict
from tradeswarm.model.market import Instrument
from tradeswarm.model.messages import TradeIntent
from tradeswarm.policy import CompiledPolicySet, Outcome, PolicyEngine, Response
from tradeswarm.policy.decision import OVERSIGHT_ANNOTATION
from tradeswarm.risk.context import RiskContext
from tradeswarm.risk.engines import Prepare, make_engine
from tradeswarm.risk.limits import RiskLimits
from tradeswarm.risk.policyset import (
    PolicyBundle,
    instrument_entity,
    load_bundle,
    swarm_entities,
    to_cedar_request,
    typed_request,
)

PLACEHOLDER = re.compile(r"\{(\w+)\}")
DEFAULT_DENY = "no_permit: no policy permits this trade (Cedar's default deny)"


@dataclass(frozen=True)
class GateVerdict:
    verdict: Verdict
    reasons: list[str]
    review_reasons: tuple[str, ...] = ()


def render(template: str, values: Mapping[str, str]) -> str:
    """Fill {name} placeholders from values; an unknown name stays as written."""
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def _money(value: Decimal) -> str:
    return f"{value:,.2f}"


def _pct(value: Decimal | float) -> str:
    return f"{Decimal(str(value)) * 100:.2f}%"


def _order_price(intent: TradeIntent) -> tuple[str, str]:
    if intent.limit_price is not None:
        return "limit price", str(intent.limit_price)
    if intent.stop_price is not None:
        return "stop price", str(intent.stop_price)
    return "price", "market"


def display_values(
    intent: TradeIntent,
    ctx: RiskContext,
    limits: RiskLimits,
    grid: Mapping[str, Decimal] | None = None,
) -> dict[str, str]:
    """The numbers a reason's message may quote, formatted for people (``grid``: the
    limits' ``grid_limits()``, when the caller has them already)."""
    grid = limits.grid_limits() if grid is None else grid
    tier = limits.agent_tiers.get(ctx.principal, "none")
    tier_cap = grid.get(f"tiers.{tier}.max_trade_size")
    trade_cap = min(tier_cap, grid["hard_cap"]) if tier_cap is not None else None
    max_qty, max_notional = limits.order_caps(intent.symbol, grid)
    price_field, order_price = _order_price(intent)
    return {
        "agent": ctx.principal,
        "symbol": intent.symbol,
        "asset_class": ctx.instrument.asset_class,
        "order_type": str(intent.order_type),
        "tier": tier,
        "trade_amount": _money(ctx.notional),
        "max_trade_size": _money(tier_cap) if tier_cap is not None else "none",
        "trade_cap": _money(trade_cap) if trade_cap is not None else "none",
        "hard_cap": _money(grid["hard_cap"]),
        "oversight_threshold": _money(grid["oversight_threshold"]),
        "approval_valid_min": f"{limits.approval_valid_s / 60:g}",
        "position_after": str(ctx.post_position),
        "position_limit": str(limits.position_limit),
        "portfolio_value": _money(ctx.equity),
        "concentration_after_pct": _pct(ctx.concentration_after),
        "max_concentration_pct": _pct(grid["max_concentration"]),
        "daily_loss": _money(ctx.daily_loss),
        "max_daily_loss": _money(grid["max_daily_loss"]),
        "var_95_after_pct": _pct(round(ctx.var_95_after, 6)),
        "var_95_before_pct": _pct(round(ctx.var_95_before, 6)),
        "max_var_95_pct": _pct(grid["max_var_95"]),
        "market_volatility": f"{ctx.volatility:.2f}",
        "volatility_limit": f"{grid['volatility_limit']:.2f}",
        "market_status": str(ctx.market_status),
        "compliance_status": ctx.compliance_status,
        "quantity": str(intent.quantity),
        "lot_size": str(ctx.instrument.lot_size),
        "tick_size": str(ctx.instrument.tick_size),
        "price_field": price_field,
        "order_price": order_price,
        "reference_price": str(ctx.reference_price),
        "price_deviation_pct": _pct(round(ctx.price_deviation, 6)),
        "price_deviation_ticks": f"{ctx.price_deviation_ticks:.1f}",
        "price_collar_pct": _pct(grid["price_collar"]),
        "price_collar_ticks": f"{grid['price_collar_ticks']:g}",
        "history_bars": str(ctx.history_bars),
        "min_history_bars": str(limits.min_history_bars),
        "mark_age_s": f"{ctx.mark_age_ns / 1e9:.0f}",
        "max_mark_age_s": str(limits.max_mark_age_s),
        "max_order_quantity": f"{max_qty:g}",
        "max_order_notional": _money(max_notional),
        "intents_last_second": str(ctx.intents_last_second),
        "intents_last_minute": str(ctx.intents_last_minute),
        "max_intents_per_second": str(limits.max_intents_per_second),
        "max_intents_per_minute": str(limits.max_intents_per_minute),
        "duplicate_of": ctx.duplicate_of[:8],
        "duplicate_window_s": str(limits.duplicate_window_s),
        "open_orders": str(ctx.open_orders),
        "max_open_orders": str(limits.max_open_orders),
        "gross_exposure_after": _money(ctx.gross_exposure_after),
        "max_gross_exposure": _money(grid["max_gross_exposure"]),
    }


class LazyValues(Mapping[str, str]):
    """``display_values`` computed on first read: most verdicts quote no number."""

    def __init__(self, make: Callable[[], dict[str, str]]) -> None:
        self._make = make
        self._values: dict[str, str] | None = None

    def _all(self) -> dict[str, str]:
        if self._values is None:
            self._values = self._make()
        return self._values

    def __getitem__(self, name: str) -> str:
        return self._all()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


class PolicyGate:
    """Decides intents through a PolicyEngine over the swarm's entities."""

    def __init__(
        self,
        bundle: PolicyBundle,
        engine: PolicyEngine,
        limits: RiskLimits,
        prepare: Prepare | None = None,
    ) -> None:
        self.bundle = bundle
        self.engine = engine
        self.limits = limits
        self._prepare: Prepare = prepare or (lambda entities: entities)
        self._base = swarm_entities(limits)
        self._grid = limits.grid_limits()  # RiskLimits is frozen
        self._entities: dict[Instrument, Any] = {}
        # the compiled engine takes the request as runtime values (no JSON written and
        # parsed) when its schema declares exactly those types; otherwise Cedar JSON
        self._check_typed = engine.check_typed if isinstance(engine, CompiledPolicySet) else None

    @classmethod
    def from_limits(cls, limits: RiskLimits) -> PolicyGate:
        """The gate the config asks for: its policies (bundled or a file) and engine."""
        bundle = load_bundle(limits.policies, limits.schema)
        engine, prepare = make_engine(limits.engine, bundle)
        return cls(bundle, engine, limits, prepare)

    def entities_for(self, instrument: Instrument) -> Any:
        """The swarm's entities plus the instrument (as the instrument master has it),
        prepared once per instrument."""
        if instrument not in self._entities:
            entity = instrument_entity(instrument, self.limits)
            self._entities[instrument] = self._prepare([*self._base, entity])
        return self._entities[instrument]

    def decide(self, intent: TradeIntent, ctx: RiskContext) -> GateVerdict:
        try:
            request = self.request(intent, ctx)
        except InvalidInput as err:
            return GateVerdict(Verdict.DENY, [f"context_error: {err} (unknown means deny)"])
        response = self.engine.is_authorized(request, self.entities_for(ctx.instrument))
        values = LazyValues(lambda: display_values(intent, ctx, self.limits, self._grid))
        return self.verdict_of(response, values)

    def request(self, intent: TradeIntent, ctx: RiskContext) -> Mapping[str, Any]:
        """The engine's request: typed and checked when it can be, else Cedar JSON (the
        same values either way; InvalidInput for a value Cedar cannot hold)."""
        if self._check_typed is not None:
            typed = self._check_typed(typed_request(intent, ctx))
            if typed is not None:
                return typed  # type: ignore[return-value]  # is_authorized takes it as is
        return to_cedar_request(intent, ctx)

    def _reason(self, policy_id: str, values: Mapping[str, str]) -> str:
        name = self.bundle.rule_name(policy_id)
        template = self.bundle.message(policy_id)
        return f"{name}: {render(template, values)}" if template else name

    def verdict_of(self, response: Response, values: Mapping[str, str]) -> GateVerdict:
        """The gate's verdict for an engine response: any error is a DENY."""
        determining = sorted(response.reasons, key=self.bundle.order)
        if response.errors:
            errors = [
                f"policy_error: {self.bundle.rule_name(e.policy_id) or 'request'}: {e.message}"
                for e in response.errors
            ]
            return GateVerdict(Verdict.DENY, errors)
        if response.outcome is Outcome.PERMIT:
            messages = [render(self.bundle.message(p) or p, values) for p in determining]
            return GateVerdict(Verdict.PERMIT, messages)
        if not determining:
            return GateVerdict(Verdict.DENY, [DEFAULT_DENY])
        if response.outcome is Outcome.REVIEW:
            reasons = [self._reason(p, values) for p in determining]
            return GateVerdict(Verdict.REVIEW, reasons, response.review_reasons)
        # a human cannot lift a hard forbid: leave the reviewable ones out of a DENY
        hard = [
            p for p in determining if OVERSIGHT_ANNOTATION not in self.bundle.annotations.get(p, {})
        ]
        return GateVerdict(Verdict.DENY, [self._reason(p, values) for p in hard or determining])
