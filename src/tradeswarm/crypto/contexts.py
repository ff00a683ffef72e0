"""Signing contexts (one per message type) and the policy of what is signed with what.

A signature covers `b"tradeswarm/v1/" + type + b"\\x00" + canonical bytes`, so a
signature made for one message type can never be passed off as another's.
"""

from __future__ import annotations

import functools
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


@functools.lru_cache(maxsize=1024)
def context(type_name: str) -> bytes:
    """The context string for one message type (or any other signed record kind)."""
    if not type_name or "\x00" in type_name:
        raise ConfigurationError("type", type_name, "a context needs a non-empty name, no NUL")
    return CONTEXT_PREFIX + type_name.encode() + b"\x00"


class SigningPolicy(ConfigBase, frozen=True):
    """Which message types are signed in process, with which algorithm, and which of them
    must be signed one message at a time.

    `algorithms` overrides the default per type, e.g. {"OversightDecided": "ml-dsa-87"}.
    A publisher's burst of several envelopes of signed types is signed once, by the
    Merkle root over the burst (`crypto.burst`), except the types in `per_message_types`,
    each of which keeps a signature of its own. A verifier given the policy also rejects
    a signature in a weaker algorithm than the policy asks for (no downgrade) and a
    burst signature on a type the policy wants signed per message.
    """

    signed_types: frozenset[str] = NON_REPUDIABLE
    default_algorithm: Algorithm = Algorithm.ED25519
    algorithms: dict[str, Algorithm] = msgspec.field(default_factory=dict)
    per_message_types: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        for field, names in (
            ("signing.signed_types", self.signed_types),
            ("signing.algorithms", self.algorithms),
            ("signing.per_message_types", self.per_message_types),
        ):
            for name in names:
                if name not in MESSAGE_TYPES:
                    raise ConfigurationError(
                        field, name, f"unknown message type; use {sorted(MESSAGE_TYPES)}"
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

    def may_burst(self, type_name: str) -> bool:
        """Whether envelopes of type_name may be signed by a burst's root."""
        return type_name not in self.per_message_types


#: Every message type signed alone: the per-message design, for peers and opt-outs.
PER_MESSAGE = frozenset(MESSAGE_TYPES)


UNSIGNED = SigningPolicy(signed_types=frozenset())
