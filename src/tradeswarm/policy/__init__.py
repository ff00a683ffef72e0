"""Cedar policies compiled for the trading hot path: scalar and batch evaluators."""

from tradeswarm.policy.decision import (
    Decision,
    Outcome,
    PolicyEngine,
    PolicyError,
    Response,
    derive_outcome,
)

__all__ = ["Decision", "Outcome", "PolicyEngine", "PolicyError", "Response", "derive_outcome"]
