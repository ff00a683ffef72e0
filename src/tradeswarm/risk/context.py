"""The risk context: portfolio, market and oversight state computed with deterministic math."""

from __future__ import annotations

from decimal import Decimal

import msgspec

from tradeswarm.model.enums import MarketStatus
from tradeswarm.model.messages import HumanApproval, TradeIntent
from tradeswarm.model.portfolio import Position

ZERO = Decimal(0)


class RiskContext(msgspec.Struct, frozen=True, kw_only=True):
    notional: Decimal
    current_position: Decimal
    post_position: Decimal
    equity: Decimal
    concentration_after: float
    daily_pnl: Decimal
    market_status: MarketStatus
    volatility: float
    halted: bool
    kill_switch: bool
    approval: HumanApproval | None
    approval_age_s: float | None

    def metrics(self) -> dict[str, str]:
        """The numbers behind a decision, as strings (exact for Decimals)."""
        return {
            "notional": str(self.notional),
            "current_position": str(self.current_position),
            "post_position": str(self.post_position),
            "equity": str(self.equity),
            "concentration_after": f"{self.concentration_after:.4f}",
            "daily_pnl": str(self.daily_pnl),
            "market_status": str(self.market_status),
            "volatility": f"{self.volatility:.4f}",
        }


class MarketFacts(msgspec.Struct, frozen=True, kw_only=True):
    marks: dict[str, Decimal]
    status: MarketStatus
    volatility: float
    halted: bool


def equity_of(cash: Decimal, positions: dict[str, Position], marks: dict[str, Decimal]) -> Decimal:
    """Cash plus every position marked at its last price (its cost when no price is known)."""
    value = sum((p.quantity * marks.get(s, p.avg_cost) for s, p in positions.items()), ZERO)
    return cash + value


def build_context(
    intent: TradeIntent,
    cash: Decimal,
    positions: dict[str, Position],
    market: MarketFacts,
    equity_at_open: Decimal | None,
    kill_switch: bool,
    approval: HumanApproval | None,
    now_ns: int,
) -> RiskContext:
    """Compute the context for one intent; all money math in Decimal."""
    held = positions.get(intent.symbol)
    current = held.quantity if held else ZERO
    post = current + intent.side.sign * intent.quantity
    equity = equity_of(cash, positions, market.marks)
    price = market.marks.get(intent.symbol, intent.reference_price)
    concentration = float(abs(post * price) / equity) if equity > 0 else 1.0
    return RiskContext(
        notional=intent.notional,
        current_position=current,
        post_position=post,
        equity=equity,
        concentration_after=concentration,
        daily_pnl=equity - equity_at_open if equity_at_open is not None else ZERO,
        market_status=market.status,
        volatility=market.volatility,
        halted=market.halted,
        kill_switch=kill_switch,
        approval=approval,
        approval_age_s=(now_ns - approval.decided_ns) / 1e9 if approval else None,
    )
