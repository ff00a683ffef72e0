"""Configuration of the paper broker (the simulated exchange)."""

from __future__ import annotations

from decimal import Decimal

from tradeswarm.core.config import ConfigBase
from tradeswarm.core.errors import ConfigurationError


def _require(ok: bool, field: str, value: object, problem: str) -> None:
    if not ok:
        raise ConfigurationError(f"paper_broker.{field}", value, problem)


class PaperBrokerConfig(ConfigBase, frozen=True, kw_only=True):
    """Costs, limits and the tradable universe of the paper broker.

    participation is the largest fraction of one bar's volume that one order may
    fill in that bar (0 < participation <= 1).
    """

    initial_cash: Decimal
    symbols: list[str]
    fee_bps: Decimal = Decimal(1)
    fee_min: Decimal = Decimal(1)
    slippage_bps: Decimal = Decimal(1)
    participation: Decimal = Decimal("0.1")
    rate_limit_per_sec: int = 50
    allow_short: bool = False

    def __post_init__(self) -> None:
        for name in ("initial_cash", "fee_bps", "fee_min", "slippage_bps"):
            value: Decimal = getattr(self, name)
            _require(value.is_finite() and value >= 0, name, value, "must be finite and >= 0")
        p = self.participation
        _require(p.is_finite() and 0 < p <= 1, "participation", p, "must be in (0, 1]")
        rate = self.rate_limit_per_sec
        _require(rate > 0, "rate_limit_per_sec", rate, "must be > 0")
        _require(bool(self.symbols), "symbols", self.symbols, "must name at least one symbol")
