"""Constants shared by the oversight tests."""

from __future__ import annotations

from tradeswarm.core.clock import NS_PER_SECOND
from tradeswarm.crypto import AgentIdentity

T0 = 1_704_205_800 * NS_PER_SECOND
TIMEOUT_NS = 300 * NS_PER_SECOND

SEED = b"oversight tests: a public seed, not a secret"
#: The deciding human's keys, and another human's (a foreign key for jane's decisions).
HUMAN_KEY = AgentIdentity.from_seed("jane.doe@desk", "human", SEED, 0)
OTHER_KEY = AgentIdentity.from_seed("mallory", "human", SEED, 0)
