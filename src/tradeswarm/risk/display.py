"""The numbers a decision's reasons quote, formatted for people, each computed only when a
reason's message asks for it (most verdicts quote none, a few quote two or three)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from typing import NamedTuple

from tradeswarm.model.messages import TradeIntent
from tradeswarm.risk.context import RiskContext
from tradeswarm.risk.limits import RiskLimits


class Facts(NamedTuple):
    intent: TradeIntent
    ctx: RiskContext
    limits: RiskLimits
    grid: Mapping[str, Decimal]


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


def _tier(f: Facts) -> str:
    return f.limits.agent_tiers.get(f.ctx.principal, "none")


def _tier_cap(f: Facts) -> Decimal | None:
    return f.grid.get(f"tiers.{_tier(f)}.max_trade_size")


def _trade_cap(f: Facts) -> str:
    cap = _tier_cap(f)
    return _money(min(cap, f.grid["hard_cap"])) if cap is not None else "none"


def _grid_pct(name: str) -> Callable[[Facts], str]:
    return lambda f: _pct(f.grid[name])


def _grid_money(name: str) -> Callable[[Facts], str]:
    return lambda f: _money(f.grid[name])


def _limit(name: str) -> Callable[[Facts], str]:
    return lambda f: str(getattr(f.limits, name))


VALUES: dict[str, Callable[[Facts], str]] = {
    "agent": lambda f: f.ctx.principal,
    "symbol": lambda f: f.intent.symbol,
    "asset_class": lambda f: f.ctx.instrument.asset_class,
    "order_type": lambda f: str(f.intent.order_type),
    "tier": _tier,
    "trade_amount": lambda f: _money(f.ctx.notional),
    "max_trade_size": lambda f: _money(c) if (c := _tier_cap(f)) is not None else "none",
    "trade_cap": _trade_cap,
    "hard_cap": _grid_money("hard_cap"),
    "oversight_threshold": _grid_money("oversight_threshold"),
    "approval_valid_min": lambda f: f"{f.limits.approval_valid_s / 60:g}",
    "position_after": lambda f: str(f.ctx.post_position),
    "position_limit": _limit("position_limit"),
    "portfolio_value": lambda f: _money(f.ctx.equity),
    "concentration_after_pct": lambda f: _pct(f.ctx.concentration_after),
    "max_concentration_pct": _grid_pct("max_concentration"),
    "daily_loss": lambda f: _money(f.ctx.daily_loss),
    "max_daily_loss": _grid_money("max_daily_loss"),
    "var_95_after_pct": lambda f: _pct(round(f.ctx.var_95_after, 6)),
    "var_95_before_pct": lambda f: _pct(round(f.ctx.var_95_before, 6)),
    "max_var_95_pct": _grid_pct("max_var_95"),
    "market_volatility": lambda f: f"{f.ctx.volatility:.2f}",
    "volatility_limit": lambda f: f"{f.grid['volatility_limit']:.2f}",
    "market_status": lambda f: str(f.ctx.market_status),
    "compliance_status": lambda f: f.ctx.compliance_status,
    "quantity": lambda f: str(f.intent.quantity),
    "lot_size": lambda f: str(f.ctx.instrument.lot_size),
    "tick_size": lambda f: str(f.ctx.instrument.tick_size),
    "price_field": lambda f: _order_price(f.intent)[0],
    "order_price": lambda f: _order_price(f.intent)[1],
    "reference_price": lambda f: str(f.ctx.reference_price),
    "price_deviation_pct": lambda f: _pct(round(f.ctx.price_deviation, 6)),
    "price_deviation_ticks": lambda f: f"{f.ctx.price_deviation_ticks:.1f}",
    "price_collar_pct": _grid_pct("price_collar"),
    "price_collar_ticks": lambda f: f"{f.grid['price_collar_ticks']:g}",
    "history_bars": lambda f: str(f.ctx.history_bars),
    "min_history_bars": _limit("min_history_bars"),
    "mark_age_s": lambda f: f"{f.ctx.mark_age_ns / 1e9:.0f}",
    "max_mark_age_s": _limit("max_mark_age_s"),
    "max_order_quantity": lambda f: f"{f.limits.order_caps(f.intent.symbol, f.grid)[0]:g}",
    "max_order_notional": lambda f: _money(f.limits.order_caps(f.intent.symbol, f.grid)[1]),
    "intents_last_second": lambda f: str(f.ctx.intents_last_second),
    "intents_last_minute": lambda f: str(f.ctx.intents_last_minute),
    "max_intents_per_second": _limit("max_intents_per_second"),
    "max_intents_per_minute": _limit("max_intents_per_minute"),
    "duplicate_of": lambda f: f.ctx.duplicate_of[:8],
    "duplicate_window_s": _limit("duplicate_window_s"),
    "open_orders": lambda f: str(f.ctx.open_orders),
    "max_open_orders": _limit("max_open_orders"),
    "gross_exposure_after": lambda f: _money(f.ctx.gross_exposure_after),
    "max_gross_exposure": _grid_money("max_gross_exposure"),
}


class ReasonValues(Mapping[str, str]):
    """The values a reason's {placeholders} name, each formatted on first read."""

    def __init__(
        self,
        intent: TradeIntent,
        ctx: RiskContext,
        limits: RiskLimits,
        grid: Mapping[str, Decimal] | None = None,
    ) -> None:
        self._facts = Facts(intent, ctx, limits, limits.grid_limits() if grid is None else grid)
        self._done: dict[str, str] = {}

    def __getitem__(self, name: str) -> str:
        found = self._done.get(name)
        if found is None:
            found = self._done[name] = VALUES[name](self._facts)
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(VALUES)

    def __len__(self) -> int:
        return len(VALUES)


def display_values(
    intent: TradeIntent,
    ctx: RiskContext,
    limits: RiskLimits,
    grid: Mapping[str, Decimal] | None = None,
) -> dict[str, str]:
    """Every value a reason may quote (``grid``: the limits' ``grid_limits()``, when the
    caller has them already)."""
    return dict(ReasonValues(intent, ctx, limits, grid))
