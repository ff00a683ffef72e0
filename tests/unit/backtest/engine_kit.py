"""Build an Engine directly (no config file) for unit tests."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tradeswarm.backtest.config import FillConfig, OversightConfig
from tradeswarm.backtest.engine import Engine
from tradeswarm.backtest.gatekeeper import Gatekeeper
from tradeswarm.data.series import BarSeries
from tradeswarm.instruments import load_master
from tradeswarm.model.market import Instrument
from tradeswarm.risk.limits import RiskLimits

OPEN = RiskLimits(
    volatility_limit=100.0,
    max_concentration=10.0,
    max_var_95=Decimal(1),
    position_limit=Decimal(1_000_000),
    min_history_bars=1,
    agent_tiers={"s": "professional"},
)


def engine_for(
    series: dict[str, BarSeries],
    strategy: Any,
    cash: Decimal = Decimal(100_000),
    limits: RiskLimits = OPEN,
    fills: FillConfig | None = None,
) -> Engine:
    extra = [
        Instrument(symbol=s, asset_class="equity", calendar="24/7")
        for s in series
        if s not in load_master()
    ]
    master = load_master().with_instruments(*extra)
    gate = Gatekeeper(limits, master, OversightConfig(), Decimal(0), {s: 365.0 for s in series})
    return Engine(
        series,
        [("s", sorted(series), strategy)],
        gate,
        master,
        fills or FillConfig(),
        cash,
        limits.allow_short,
    )
