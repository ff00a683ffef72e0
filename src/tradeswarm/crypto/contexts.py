"""Signing contexts (one per message type) and the policy of what is signed with what.

A signature covers `b"tradeswarm/v1/" + type + b"\\x00" + canonical bytes`, so a
signature made for one message type can never be passed off as another's.
"""

from __future__ import annotations

import typing

import msgspec

from tradeswarm.core.config import ConfigBase
from tradeswarm.core.errors import ConfigurationError
from tradeswarm.crypto.keys import SIGNING_ALGORITHMS, Algorithm
from tradeswarm.model.messages import AnyMessage

CONTEXT_PREFIX = b"tradeswarm/v1/"

MESSAGE_TYPES: frozenset[str] = frozenset(t.__name__ for t in typing.get_args(AnyMessage))

#: What must never be repudiated: intents, risk and oversight decisions, orders and
#: fills, kill-switch commands.
NON_REPUDIABLE: frozenset[str] = frozenset(
    {
        "TradeIntent",
        "RiskDecision",
        "OversightRequested",
        "OversightDecided",
        "OrderUpdated",
        "FillReceived",
        "ExecutionRejected",
        "KillSwitchActivated",
        "TradingResumed",
    }
)


def context(type_name: str) -> bytes:
    """The context string for one message type (or any other signed record kind)."""
    if not type_name or "\x00" in type_name:
        raise ConfigurationError("type", type_name, "a context needs a non-empty name, no NUL")
    return CONTEXT_PREFIX + type_name.encode() + b"\x00"


class SigningPolicy(ConfigBase, frozen=True):
    """Which message types are signed in process, and with which algorithm.

    `algorithms` overrides the default per type, e.g. {"OversightDecided": "ml-dsa-87"}.
    A verifier given the policy also rejects a signature in a weaker algorithm than
    the policy asks for (no downgrade).
    """

    signed_types: frozenset[str] = NON_REPUDIABLE
    default_algorithm: Algorithm = Algorithm.ED25519
    algorithms: dict[str, Algorithm] = msgspec.field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in self.signed_types | set(self.algorithms):
            if name not in MESSAGE_TYPES:
                raise ConfigurationError(
                    "signing.signed_types",
                    name,
                    f"unknown message type; use {sorted(MESSAGE_TYPES)}",
                )
        for name, alg in {**self.algorithms, "default_algorithm": self.default_algorithm}.items():
            if alg not in SIGNING_ALGORITHMS:
                raise ConfigurationError(
                    f"signing.algorithms.{name}", alg, "not a signature algorithm"
                )

    def requires(self, type_name: str) -> bool:
        return type_name in self.signed_types

    def algorithm_for(self, type_name: str) -> Algorithm:
        return self.algorithms.get(type_name, self.default_algorithm)


UNSIGNED = SigningPolicy(signed_types=frozenset())
