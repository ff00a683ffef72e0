"""The trading policy set: load and validate the Cedar policies, build entities and requests.

The bundled ``policies/trading.cedar`` (with ``trading.cedarschema``) is the default; a
config may point ``risk.policies`` / ``risk.schema`` at its own files, validated at
start-up with a ConfigurationError naming the file, line and column. The limits are data:
``swarm_entities`` turns RiskLimits into the Desk, Tier and Agent entities the policies
read; ``to_cedar_request`` turns an intent and its RiskContext into a Cedar request.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import cedarpy

from tradeswarm.core.clock import NS_PER_SECOND as NS_PER_S
from tradeswarm.core.errors import ConfigurationError
from tradeswarm.model.market import Instrument
from tradeswarm.model.messages import TradeIntent
from tradeswarm.policy import PreparedRequest
from tradeswarm.policy.sourcemap import locate_parse_error, policy_location
from tradeswarm.policy.values import CSet, Uid
from tradeswarm.policy.values import Decimal as PolicyDecimal
from tradeswarm.risk.cedar_values import Rounding, cedar_decimal, cedar_long, to_grid
from tradeswarm.risk.context import RiskContext
from tradeswarm.risk.limits import RiskLimits
from tradeswarm.risk.samples import SampleDraw

ACTION = {"type": "Action", "id": "SubmitTrade"}
ACTION_UID = Uid(("Action", "SubmitTrade"))
TRADING_AGENTS = {"type": "AgentType", "id": "TradingAgent"}
DESK = {"type": "Desk", "id": "default"}


@dataclass(frozen=True)
class PolicyBundle:
    """Validated policy text and schema, with each policy's annotations by policy id."""

    policies: str
    schema: str
    source: str
    annotations: dict[str, dict[str, str]] = field(default_factory=dict)

    def rule_name(self, policy_id: str) -> str:
        """The policy's @id annotation (its rule name), else Cedar's id."""
        return self.annotations.get(policy_id, {}).get("id", policy_id)

    def message(self, policy_id: str) -> str | None:
        return self.annotations.get(policy_id, {}).get("message")

    def order(self, policy_id: str) -> tuple[int, str]:
        """Sort key: the policy's position in the file (policy2 before policy10)."""
        digits = policy_id.removeprefix("policy")
        return (int(digits), "") if digits.isdigit() else (1 << 30, policy_id)


def bundled_text(name: str) -> str:
    return resources.files("tradeswarm.risk").joinpath("policies", name).read_text("utf-8")


def _read(path: str, option: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigurationError(option, path, f"cannot read the file: {err.strerror}") from err


def _check_schema(schema: str, source: str) -> None:
    try:
        cedarpy.Schema.from_str(schema)
    except ValueError as err:
        raise ConfigurationError("risk.schema", source, f"not a valid Cedar schema: {err}") from err


def _check_policies(policies: str, schema: str, source: str) -> None:
    result = cedarpy.validate_policies(policies, schema)
    if result.validation_passed:
        return
    first = result.errors[0]
    if not first.policy_id:  # a parse error: find where the parser stopped
        line, column = locate_parse_error(policies)
    else:
        line, column = policy_location(policies, first.policy_id)
    more = f" (and {len(result.errors) - 1} more)" if len(result.errors) > 1 else ""
    raise ConfigurationError(
        "risk.policies", source, f"line {line}, column {column}: {first.error}{more}"
    )


def load_bundle(policies: str | None = None, schema: str | None = None) -> PolicyBundle:
    """The bundled trading policies, or the given files; validated against the schema."""
    source = policies or "trading.cedar (bundled)"
    schema_source = schema or "trading.cedarschema (bundled)"
    policy_text = _read(policies, "risk.policies") if policies else bundled_text("trading.cedar")
    schema_text = _read(schema, "risk.schema") if schema else bundled_text("trading.cedarschema")
    _check_schema(schema_text, schema_source)
    _check_policies(policy_text, schema_text, source)
    parsed = json.loads(cedarpy.policies_to_json_str(policy_text))
    annotations = {
        pid: dict(p.get("annotations") or {}) for pid, p in parsed["staticPolicies"].items()
    }
    return PolicyBundle(policy_text, schema_text, source, annotations)


def _uid(kind: str, ident: str) -> dict[str, str]:
    return {"type": kind, "id": ident}


def desk_entity(limits: RiskLimits) -> dict[str, Any]:
    """The desk's limits as one Cedar entity: every number exact on the decimal grid."""
    grid = limits.grid_limits()
    attrs: dict[str, Any] = {
        name: cedar_decimal(f"risk.{name}", grid[name])
        for name in (
            "hard_cap",
            "oversight_threshold",
            "position_limit",
            "max_concentration",
            "max_daily_loss",
            "volatility_limit",
            "max_var_95",
            "price_collar",
            "price_collar_ticks",
            "max_gross_exposure",
        )
    }
    attrs |= {
        name: cedar_long(f"risk.{name}", getattr(limits, name))
        for name in (
            "max_intents_per_second",
            "max_intents_per_minute",
            "max_open_orders",
            "min_history_bars",
        )
    }
    attrs |= {
        "max_mark_age_ns": cedar_long("risk.max_mark_age_s", limits.max_mark_age_s * NS_PER_S),
        "approval_valid_ns": cedar_long("risk.approval_valid_s", limits.approval_valid_ns()),
        "allow_short": limits.allow_short,
        "excluded_asset_classes": sorted(limits.excluded_asset_classes),
        "allowed_order_types": sorted(str(t) for t in limits.allowed_order_types),
        "restricted_symbols": sorted(limits.restricted_symbols),
    }
    return {"uid": DESK, "attrs": attrs, "parents": []}


def swarm_entities(limits: RiskLimits) -> list[dict[str, Any]]:
    """AgentType, the tiers, the desk and every agent whose tier is configured."""
    grid = limits.grid_limits()
    entities: list[dict[str, Any]] = [
        {"uid": TRADING_AGENTS, "attrs": {}, "parents": []},
        desk_entity(limits),
    ]
    for tier in sorted(limits.tiers):
        cap = cedar_decimal(f"risk.tiers.{tier}", grid[f"tiers.{tier}.max_trade_size"])
        entities.append(
            {
                "uid": _uid("Tier", tier),
                "attrs": {"max_trade_size": cap},
                "parents": [TRADING_AGENTS],
            }
        )
    for agent in sorted(limits.agent_tiers):
        enrolled = limits.tier_of(agent)
        if enrolled is None:
            continue  # not enrolled: the agent_tier policy denies it by name
        entities.append(
            {
                "uid": _uid("Agent", agent),
                "attrs": {
                    "tier": {"__entity": _uid("Tier", enrolled)},
                    "desk": {"__entity": DESK},
                },
                "parents": [_uid("Tier", enrolled)],
            }
        )
    return entities


def instrument_entity(instrument: Instrument, limits: RiskLimits) -> dict[str, Any]:
    """The instrument as the gate knows it: the master's reference data and the desk's
    order caps for it."""
    quantity, notional = limits.order_caps(instrument.symbol)
    where = f"risk.instrument_limits.{instrument.symbol}"
    return {
        "uid": _uid("Instrument", instrument.symbol),
        "attrs": {
            "symbol": instrument.symbol,
            "asset_class": instrument.asset_class,
            "tradable": instrument.tradable,
            "max_order_quantity": cedar_decimal(f"{where}.max_order_quantity", quantity),
            "max_order_notional": cedar_decimal(f"{where}.max_order_notional", notional),
        },
        "parents": [],
    }


# name -> (the RiskContext value, its rounding onto the 4-digit grid); one table for the
# JSON request and the typed one, so both carry the same numbers.
MONEY: dict[str, tuple[Callable[[TradeIntent, RiskContext], Any], Rounding]] = {
    "trade_amount": (lambda i, c: c.notional, Rounding.UP),
    "current_position": (lambda i, c: c.current_position, Rounding.DOWN),
    "position_after": (lambda i, c: c.post_position, Rounding.DOWN),
    "position_after_abs": (lambda i, c: abs(c.post_position), Rounding.UP),
    "portfolio_value": (lambda i, c: c.equity, Rounding.UP),
    "concentration_after": (lambda i, c: c.concentration_after, Rounding.EXACT),
    "daily_loss": (lambda i, c: c.daily_loss, Rounding.DOWN),
    "var_95_before": (lambda i, c: c.var_95_before, Rounding.DOWN),
    "var_95_after": (lambda i, c: c.var_95_after, Rounding.UP),
    "es_95_before": (lambda i, c: c.es_95_before, Rounding.DOWN),
    "es_95_after": (lambda i, c: c.es_95_after, Rounding.UP),
    "market_volatility": (lambda i, c: c.volatility, Rounding.UP),
    "quantity": (lambda i, c: i.quantity, Rounding.UP),
    "price_deviation": (lambda i, c: c.price_deviation, Rounding.UP),
    "price_deviation_ticks": (lambda i, c: c.price_deviation_ticks, Rounding.UP),
    "gross_exposure_after": (lambda i, c: c.gross_exposure_after, Rounding.UP),
}


_SCALED_MIN, _SCALED_MAX = -(2**63), 2**63 - 1
_SCALE = 10_000  # ten-thousandths: Cedar's decimal grid


def grid_scaled(field: str, value: Decimal | float | int, rounding: Rounding) -> int:
    """``to_grid`` as a count of ten-thousandths: the number ``cedar_decimal`` writes.

    A finite Decimal or float of a plausible magnitude is rounded here in exact integer
    arithmetic on its integer ratio (what ``to_grid`` computes, ~10x faster than
    ``quantize``); anything else, and any value ``to_grid`` refuses, goes through
    ``to_grid`` for its exact error."""
    ratio = _ratio(value)
    if ratio is not None:
        num, den = ratio
        scaled: int | None
        if rounding is Rounding.UP:
            scaled = -((-num * _SCALE) // den)
        elif rounding is Rounding.DOWN:
            scaled = (num * _SCALE) // den
        else:
            whole, rest = divmod(num * _SCALE, den)
            scaled = whole if rest == 0 else None
        if scaled is not None and _SCALED_MIN <= scaled <= _SCALED_MAX:
            return scaled
    return int(to_grid(field, value, rounding).scaleb(4))


def _ratio(value: Decimal | float | int) -> tuple[int, int] | None:
    """value as an exact integer ratio, when it is finite and of a magnitude the grid can
    hold (a huge exponent would make a huge integer: to_grid refuses those)."""
    if type(value) is float:
        return value.as_integer_ratio() if math.isfinite(value) else None
    if type(value) is Decimal and value.is_finite() and -40 <= value.adjusted() <= 40:
        return value.as_integer_ratio()
    return None


def _plain_context(intent: TradeIntent, ctx: RiskContext) -> dict[str, Any]:
    return {
        "side": str(intent.side),
        "order_type": str(intent.order_type),
        "market_status": str(ctx.market_status),
        "halted_symbols": sorted(ctx.halted_symbols),
        "kill_switch": ctx.kill_switch,
        "compliance_status": ctx.compliance_status,
        "insider_trading_window": ctx.insider_window,
        "off_lot": ctx.off_lot,
        "off_tick": ctx.off_tick,
        "intents_last_second": cedar_long("intents_last_second", ctx.intents_last_second),
        "intents_last_minute": cedar_long("intents_last_minute", ctx.intents_last_minute),
        "duplicate_intents": 1 if ctx.duplicate_of else 0,
        "open_orders": cedar_long("open_orders", ctx.open_orders),
        "history_bars": cedar_long("history_bars", ctx.history_bars),
        "mark_age_ns": cedar_long("mark_age_ns", ctx.mark_age_ns),
        "now_ns": cedar_long("now_ns", ctx.now_ns),
    }


def _approval(ctx: RiskContext) -> dict[str, Any] | None:
    if ctx.approval is None:
        return None
    return {
        "approved": ctx.approval.approved,
        "approver": ctx.approval.approver,
        "decided_ns": cedar_long("human_approval.decided_ns", ctx.approval.decided_ns),
    }


def to_cedar_context(intent: TradeIntent, ctx: RiskContext) -> dict[str, Any]:
    """The Cedar context for one intent; InvalidInput for a value Cedar cannot hold."""
    context = {
        name: cedar_decimal(name, read(intent, ctx), rounding)
        for name, (read, rounding) in MONEY.items()
    }
    context |= _plain_context(intent, ctx)
    approval = _approval(ctx)
    if approval is not None:
        context["human_approval"] = approval
    return context


def typed_context(intent: TradeIntent, ctx: RiskContext) -> dict[str, Any]:
    """The same context as runtime values (decimals as scaled ints in ``PolicyDecimal``,
    the halted symbols as a set): what the compiled engine makes of ``to_cedar_context``,
    without writing and reading JSON."""
    context: dict[str, Any] = {
        name: PolicyDecimal(grid_scaled(name, read(intent, ctx), rounding))
        for name, (read, rounding) in MONEY.items()
    }
    context |= _plain_context(intent, ctx)
    context["halted_symbols"] = CSet(context["halted_symbols"])
    approval = _approval(ctx)
    if approval is not None:
        context["human_approval"] = approval
    return context


def typed_request(intent: TradeIntent, ctx: RiskContext) -> PreparedRequest:
    """The prepared request for ``to_cedar_request``'s JSON, built directly. ``checked``
    stays False: the engine decides whether the schema declares these types
    (``CompiledPolicySet.accepts_typed``)."""
    return PreparedRequest(
        Uid(("Agent", ctx.principal)),
        ACTION_UID,
        Uid(("Instrument", intent.symbol)),
        typed_context(intent, ctx),
    )


def to_cedar_request(intent: TradeIntent, ctx: RiskContext) -> dict[str, Any]:
    """The Cedar request (JSON form) for one intent in its context."""
    return {
        "principal": _uid("Agent", ctx.principal),
        "action": ACTION,
        "resource": _uid("Instrument", intent.symbol),
        "context": to_cedar_context(intent, ctx),
    }


# --- realistic sample traffic for the trading set (benchmarks and property tests) ---

SAMPLE_SYMBOLS = (
    "AAPL",
    "BTCUSD",
    "ES",
    "EURUSD",
    "GOOG",
    "JPM",
    "MSFT",
    "NQ",
    "SHLD",
    "WMT",
    "XOM",
)
#: A sample-only instrument of an excluded asset class (it is in no master).
SAMPLE_OPTION = Instrument(
    symbol="SPX-OPT", asset_class="derivatives", tick_size=Decimal("0.05"), calendar="XNYS"
)
SAMPLE_AGENTS = {
    "trading-agent-01": "professional",
    "trading-agent-02": "starter",
    "trading-agent-03": "enterprise",
    "trading-agent-04": "professional",
}
SAMPLE_NOW_NS = 1_704_205_800 * 1_000_000_000


def sample_instruments() -> dict[str, Instrument]:
    """The sample universe: instruments of the bundled master and SAMPLE_OPTION."""
    from tradeswarm.instruments import load_master

    master = load_master()
    return {s: master[s] for s in SAMPLE_SYMBOLS} | {SAMPLE_OPTION.symbol: SAMPLE_OPTION}


def sample_limits() -> RiskLimits:
    """The default limits with the sample agents enrolled, a position limit in shares that
    suits stocks, and one restricted symbol."""
    return RiskLimits(
        agent_tiers=dict(SAMPLE_AGENTS),
        position_limit=Decimal(2_000),
        restricted_symbols=["MSFT"],
    )


def sample_entities() -> list[dict[str, Any]]:
    """Entities for sample_requests: the sample desk, tiers, agents and instruments."""
    limits = sample_limits()
    instruments = [instrument_entity(i, limits) for _, i in sorted(sample_instruments().items())]
    return swarm_entities(limits) + instruments


def sample_draw(seed: int) -> SampleDraw:
    """The seeded stream of (intent, RiskContext) pairs behind sample_requests."""
    return SampleDraw(seed, sample_limits(), sample_instruments(), sorted(SAMPLE_AGENTS))


def sample_requests(n: int, seed: int) -> list[dict[str, Any]]:
    """n varied, realistic trading requests (deterministic for a seed).

    Sizes follow the seed's load-test mix ($1k-10k 70%, $10k-50k 25%, $50k-150k 5%,
    plus a few over the cap), in whole lots; most requests pass, the rest exercise every
    policy: unknown agents, excluded asset classes, big positions, volatile or closed
    markets, halted and restricted symbols, stop orders, approvals fresh and stale, limits
    off the collar, stale quotes, short history, bursts, duplicates, open orders."""
    if n < 0:
        raise ValueError(f"n: must be >= 0, got {n}")
    draw = sample_draw(seed)
    return [to_cedar_request(*draw.intent_and_context(k)) for k in range(n)]
