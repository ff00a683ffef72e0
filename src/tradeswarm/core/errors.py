"""The error tree, branched by what the operator must do.

Business rejections (a denied trade, an expired approval) are events with reasons,
not exceptions; these are for the cases where the program cannot go on as asked.
"""

from __future__ import annotations


class TradeswarmError(Exception):
    """Base of every error tradeswarm raises on purpose."""


class ConfigurationError(TradeswarmError):
    """Bad configuration or input: stop at start-up, fix the named field."""

    def __init__(self, field: str, value: object, problem: str) -> None:
        self.field = field
        self.value = value
        self.problem = problem
        super().__init__(f"{field}={value!r}: {problem}")


class InvalidInput(ConfigurationError):
    """A value from outside (user, file, network, broker) failed validation."""


class InvariantViolation(TradeswarmError):
    """Corrupt state: crash fast, since corrupt state is worse than none."""


class InvalidStateTransition(InvariantViolation):
    """An order was asked to move along an edge its state table does not have."""

    def __init__(self, state: object, trigger: object) -> None:
        self.state = state
        self.trigger = trigger
        super().__init__(f"illegal order transition: {state} --{trigger}--> (no such edge)")


class AccessDenied(TradeswarmError):
    """An identity tried to do what its role does not allow (publish, decide, resume)."""


class StoreError(TradeswarmError):
    """The store cannot be opened or is not a tradeswarm store."""
