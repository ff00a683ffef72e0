"""The public Strategy API (see `tradeswarm.strategy.api`)."""

from tradeswarm.strategy.api import (
    Context,
    DecisionRef,
    FillRef,
    Proposal,
    Strategy,
    StrategyParams,
)
from tradeswarm.strategy.market import BarRef, LookAheadError

__all__ = [
    "BarRef",
    "Context",
    "DecisionRef",
    "FillRef",
    "LookAheadError",
    "Proposal",
    "Strategy",
    "StrategyParams",
]
