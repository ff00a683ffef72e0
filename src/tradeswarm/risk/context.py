"""The risk context: portfolio, market, compliance and oversight state for one intent.

Deterministic math only: money in Decimal, the concentration as an exact floor to whole
basis points, VaR/ES from the MarketView's return history (tradeswarm.quant.risk).
"""

from __future__ import annotations

from decimal import Decimal, localcontext
from typing import NamedTuple

import msgspec

from tradeswarm.model.enums import MarketStatus
from tradeswarm.model.messages import HumanApproval, TradeIntent
from tradeswarm.model.portfolio import Position
from tradeswarm.quant.risk import trade_var_impact

ZERO = Decimal(0)
BPS = Decimal(10_000)
CONCENTRATION_CAP = Decimal(10_000)  # a ratio above this is reported as the cap
MIN_VAR_RETURNS = 2


class RiskContext(msgspec.Struct, frozen=True, kw_only=True):
    notional: Decimal
    current_position: Decimal
    post_position: Decimal
    equity: Decimal
    concentration_after: Decimal  # |post * mark| / equity, floored to a basis point
    daily_loss: Decimal  # equity at the open minus equity now (negative on a gain)
    market_status: MarketStatus
    volatility: float
    halted_symbols: frozenset[str]
    kill_switch: bool
    compliance_status: str
    insider_window: bool
    var_95_before: float  # one-bar historical VaR of the symbol's position / equity
    var_95_after: float
    es_95_before: float  # one-bar historical expected shortfall (tail mean), same units
    es_95_after: float
    approval: HumanApproval | None
    now_ns: int

    def metrics(self) -> dict[str, str]:
        """The numbers behind a decision, as strings (exact for Decimals)."""
        return {
            "notional": str(self.notional),
            "current_position": str(self.current_position),
            "post_position": str(self.post_position),
            "equity": str(self.equity),
            "concentration_after": f"{self.concentration_after:.4f}",
            "daily_pnl": str(-self.daily_loss),
            "market_status": str(self.market_status),
            "volatility": f"{self.volatility:.4f}",
            "var_95_after": f"{self.var_95_after:.6f}",
            "es_95_after": f"{self.es_95_after:.6f}",
        }


class MarketFacts(msgspec.Struct, frozen=True, kw_only=True):
    marks: dict[str, Decimal]
    status: MarketStatus
    volatility: float
    halted_symbols: frozenset[str] = frozenset()
    returns: tuple[float, ...] = ()  # the symbol's recent one-bar simple returns


class BookFacts(msgspec.Struct, frozen=True, kw_only=True):
    cash: Decimal
    positions: dict[str, Position]
    equity_at_open: Decimal | None = None


class DeskFacts(msgspec.Struct, frozen=True, kw_only=True):
    kill_switch: bool = False
    compliance_status: str = "approved"
    insider_window: bool = False
    approval: HumanApproval | None = None
    now_ns: int


def equity_of(cash: Decimal, positions: dict[str, Position], marks: dict[str, Decimal]) -> Decimal:
    """Cash plus every position marked at its last price (its cost when no price is known)."""
    value = sum((p.quantity * marks.get(s, p.avg_cost) for s, p in positions.items()), ZERO)
    return cash + value


def concentration(exposure: Decimal, equity: Decimal) -> Decimal:
    """floor(|exposure| / equity) to a basis point, exactly; the cap when equity <= 0."""
    if equity <= 0:
        return CONCENTRATION_CAP
    with localcontext() as ctx:
        ctx.prec = 120  # integer division below stays exact for any config-sized number
        whole_bps = (abs(exposure) * BPS) // equity
    return min(whole_bps / BPS, CONCENTRATION_CAP)


class TailRisk(NamedTuple):
    """Historical 95% VaR and expected shortfall of the symbol's position, before and
    after the trade, as fractions of equity (positive losses)."""

    var_before: float
    var_after: float
    es_before: float
    es_after: float


def tail_risk(
    returns: tuple[float, ...], held_value: float, trade_value: float, equity: Decimal
) -> TailRisk:
    """VaR and ES impact of the trade, from `tradeswarm.quant.risk.trade_var_impact`.

    All 0 when the history is too short or equity is not positive (the volatility circuit
    breaker and the concentration limit guard those cases)."""
    if len(returns) < MIN_VAR_RETURNS or equity <= 0:
        return TailRisk(0.0, 0.0, 0.0, 0.0)
    impact = trade_var_impact(list(returns), [held_value], [trade_value], alpha=0.95)
    scale = float(equity)
    return TailRisk(
        *(
            max(v, 0.0) / scale
            for v in (impact.var_before, impact.var_after, impact.es_before, impact.es_after)
        )
    )


def build_context(
    intent: TradeIntent, book: BookFacts, market: MarketFacts, desk: DeskFacts
) -> RiskContext:
    """Compute the context for one intent; all money math in Decimal."""
    held = book.positions.get(intent.symbol)
    current = held.quantity if held else ZERO
    post = current + intent.side.sign * intent.quantity
    equity = equity_of(book.cash, book.positions, market.marks)
    price = market.marks.get(intent.symbol, intent.reference_price)
    tail = tail_risk(
        market.returns, float(current * price), float(post * price - current * price), equity
    )
    return RiskContext(
        notional=intent.notional,
        current_position=current,
        post_position=post,
        equity=equity,
        concentration_after=concentration(post * price, equity),
        daily_loss=book.equity_at_open - equity if book.equity_at_open is not None else ZERO,
        market_status=market.status,
        volatility=market.volatility,
        halted_symbols=market.halted_symbols,
        kill_switch=desk.kill_switch,
        compliance_status=desk.compliance_status,
        insider_window=desk.insider_window,
        var_95_before=tail.var_before,
        var_95_after=tail.var_after,
        es_95_before=tail.es_before,
        es_95_after=tail.es_after,
        approval=desk.approval,
        now_ns=desk.now_ns,
    )
