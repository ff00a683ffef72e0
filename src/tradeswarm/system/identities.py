"""The swarm's identities, its public-key registry and the bus's signing hook.

The demo (and any swarm built without identities) derives its keys from the public
demo seed (`crypto.provision.DEMO_SEED`, HKDF per identity), valid from time 0: the
output and the log are byte-identical across runs, and the keys protect nothing.
A real swarm passes the identities it loaded from its keystore
(`crypto.keystore.open_keystore(dir, passphrase).load_all()`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from tradeswarm.bus.inproc import BusSigning
from tradeswarm.bus.topics import Role
from tradeswarm.core.errors import ConfigurationError
from tradeswarm.crypto.contexts import SigningPolicy
from tradeswarm.crypto.identity import AgentIdentity
from tradeswarm.crypto.provision import demo_identities
from tradeswarm.crypto.registry import KeyRegistry

AGENT_ROLES = {
    "analyzer": Role.ANALYZER,
    "trader": Role.TRADER,
    "risk": Role.RISK,
    "execution": Role.EXECUTION,
    "compliance": Role.COMPLIANCE,
    "desk": Role.OVERSIGHT,
}


def swarm_members(agent_names: Mapping[str, str], approver: str) -> list[tuple[str, str]]:
    """(name, role) of every agent and of the human approver."""
    members = [(agent_names[slot], str(role)) for slot, role in AGENT_ROLES.items()]
    return [*members, (approver, str(Role.HUMAN))]


class SwarmIdentities:
    """The identities a swarm signs with, the registry it verifies against, the bus hook."""

    def __init__(self, identities: Iterable[AgentIdentity], policy: SigningPolicy) -> None:
        self.by_name = {i.name: i for i in identities}
        self.registry = KeyRegistry(i.public() for i in self.by_name.values())
        self.signing = BusSigning(policy, self.by_name.values())

    @classmethod
    def for_swarm(
        cls,
        agent_names: Mapping[str, str],
        approver: str,
        policy: SigningPolicy,
        identities: Iterable[AgentIdentity] | None = None,
    ) -> SwarmIdentities:
        """Given identities (from a keystore) or the demo's; every member must have one."""
        members = swarm_members(agent_names, approver)
        if identities is None:
            return cls(demo_identities(members), policy)
        made = cls(identities, policy)
        for name, role in members:
            found = made.by_name.get(name)
            if found is None or found.role != role:
                raise ConfigurationError("identities", name, f"no {role} identity with this name")
        return made

    def enroll(self, name: str, role: Role) -> AgentIdentity:
        """Add a demo-seeded identity (for a benchmark's or test's extra publisher)."""
        (identity,) = demo_identities([(name, str(role))])
        self.by_name[name] = identity
        self.registry.register(identity.public())
        self.signing.add(identity)
        return identity
