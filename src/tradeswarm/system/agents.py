"""The swarm's agents in one table: each one's slot, identity name and role.

Everything else is derived from `AGENTS`: the Swarm builds its agents by slot
(`AGENT_NAMES`), the identities hold one key per (name, role), the demo lists them in
this order. (Not to be confused with `crypto.provision.AgentSpec`, one entry of a
`provision --batch` file.)
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import NamedTuple

from tradeswarm.bus.topics import Role


class SwarmAgent(NamedTuple):
    """One agent of the swarm: slot (the Swarm's attribute, the demo's label), name (its
    identity, the `name` in its principal `role:name`) and role (what it may publish)."""

    slot: str
    name: str
    role: Role


AGENTS: tuple[SwarmAgent, ...] = (
    SwarmAgent("analyzer", "market-analyzer-01", Role.ANALYZER),
    SwarmAgent("trader", "trading-agent-01", Role.TRADER),
    SwarmAgent("risk", "risk-manager-01", Role.RISK),
    SwarmAgent("execution", "order-executor-01", Role.EXECUTION),
    SwarmAgent("compliance", "compliance-agent-01", Role.COMPLIANCE),
    SwarmAgent("desk", "oversight-desk-01", Role.OVERSIGHT),
)

#: slot -> identity name, e.g. AGENT_NAMES["trader"] == "trading-agent-01".
AGENT_NAMES: Mapping[str, str] = MappingProxyType({a.slot: a.name for a in AGENTS})
