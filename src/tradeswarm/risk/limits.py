"""Risk limits: data, loaded from config, never scattered in if-chains."""

from __future__ import annotations

from decimal import Decimal

import msgspec

from tradeswarm.core.config import ConfigBase
from tradeswarm.model.enums import OrderType


class TierLimits(ConfigBase, frozen=True):
    max_trade_size: Decimal


def _default_tiers() -> dict[str, TierLimits]:
    return {
        "starter": TierLimits(max_trade_size=Decimal(10_000)),
        "professional": TierLimits(max_trade_size=Decimal(150_000)),
        "enterprise": TierLimits(max_trade_size=Decimal(1_000_000)),
    }


class RiskLimits(ConfigBase, frozen=True):
    tiers: dict[str, TierLimits] = msgspec.field(default_factory=_default_tiers)
    agent_tiers: dict[str, str] = msgspec.field(
        default_factory=lambda: {"trading-agent-01": "professional"}
    )
    hard_cap: Decimal = Decimal(150_000)
    position_limit: Decimal = Decimal(100)
    max_concentration: float = 0.20
    max_daily_loss: Decimal = Decimal(50_000)
    oversight_threshold: Decimal = Decimal(100_000)
    volatility_limit: float = 0.30
    excluded_asset_classes: list[str] = msgspec.field(
        default_factory=lambda: ["crypto", "derivatives", "foreign_exchange"]
    )
    allowed_order_types: list[OrderType] = msgspec.field(
        default_factory=lambda: [OrderType.MARKET, OrderType.LIMIT]
    )
    restricted_symbols: list[str] = msgspec.field(default_factory=list)
    allow_short: bool = False
    approval_valid_s: int = 300
