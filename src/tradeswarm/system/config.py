"""SwarmConfig: one frozen, typed config for the whole swarm; unknown keys are errors."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from tradeswarm.agents.trader import TraderConfig
from tradeswarm.compliance.agent import ComplianceConfig
from tradeswarm.core.config import ConfigBase, load_toml
from tradeswarm.core.errors import ConfigurationError
from tradeswarm.data.csv_bars import BUNDLED_SYMBOL
from tradeswarm.execution.pretrade import ExecutionConfig
from tradeswarm.risk.limits import RiskLimits


class OperatorConfig(ConfigBase, frozen=True):
    """The demo's scripted human: approves every other request, ignores the rest."""

    approver: str = "jane.doe@desk"
    respond_after_s: int = 96
    approve_every: int = 2  # approve requests 1, 3, 5 ...; leave 2, 4 ... unanswered


class FeeConfig(ConfigBase, frozen=True):
    fee_bps: Decimal = Decimal("0.5")
    fee_min: Decimal = Decimal("2.50")
    slippage_bps: Decimal = Decimal("0.5")
    participation: Decimal = Decimal("0.1")
    rate_limit_per_sec: int = 50


class SwarmConfig(ConfigBase, frozen=True):
    seed: int = 7
    day: str = "2006-01-04"
    symbol: str = BUNDLED_SYMBOL
    initial_cash: Decimal = Decimal(5_000_000)
    quote_spread: Decimal = Decimal(1)
    oversight_timeout_s: int = 300
    risk: RiskLimits = RiskLimits()
    trader: TraderConfig = TraderConfig()
    execution: ExecutionConfig = ExecutionConfig()
    compliance: ComplianceConfig = ComplianceConfig()
    broker: FeeConfig = FeeConfig()
    operator: OperatorConfig = OperatorConfig()

    def __post_init__(self) -> None:
        for name in ("initial_cash", "quote_spread"):
            value: Decimal = getattr(self, name)
            if not (value.is_finite() and value >= 0):
                raise ConfigurationError(name, value, "must be finite and >= 0")
        if self.oversight_timeout_s <= 0:
            raise ConfigurationError("oversight_timeout_s", self.oversight_timeout_s, "must be > 0")


def load_config(path: Path | None) -> SwarmConfig:
    """The defaults, or a TOML file validated against SwarmConfig."""
    return SwarmConfig() if path is None else load_toml(path, SwarmConfig)
