"""The swarm's identities, its public-key registry and the bus's signing hook.

The demo (and any swarm built without identities) derives its keys from the public
demo seed (`crypto.provision.DEMO_SEED`, HKDF per identity), valid from time 0: the
output and the log are byte-identical across runs, and the keys protect nothing.
A real swarm passes the identities it loaded from its keystore
(`crypto.keystore.open_keystore(dir, passphrase).load_all()`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from tradeswarm.bus.signing import BusSigning
from tradeswarm.bus.topics import Role
from tradeswarm.core.errors import ConfigurationError
from tradeswarm.crypto.contexts import SigningPolicy
from tradeswarm.crypto.identity import AgentIdentity
from tradeswarm.crypto.keys import Algorithm, Signer
from tradeswarm.crypto.keystore import open_keystore
from tradeswarm.crypto.provision import REGISTRY_FILE, demo_identities
from tradeswarm.crypto.registry import KeyRegistry
from tradeswarm.system.agents import SwarmAgent
from tradeswarm.system.audit_wiring import AuditKeys
from tradeswarm.system.config import IdentitiesConfig


def swarm_members(
    agents: Iterable[SwarmAgent], approver: str, humans: Iterable[str] = ()
) -> list[tuple[str, str]]:
    """(name, role) of every agent, of the human approver and of the other humans named
    (the kill switch's approvers)."""
    members = [(agent.name, str(agent.role)) for agent in agents]
    others = [name for name in dict.fromkeys(humans) if name != approver]
    return [*members, *((name, str(Role.HUMAN)) for name in [approver, *others])]


class SwarmIdentities:
    """The identities a swarm signs with, the registry it verifies against, the bus hook."""

    def __init__(
        self,
        identities: Iterable[AgentIdentity],
        policy: SigningPolicy,
        registry: KeyRegistry | None = None,
    ) -> None:
        """registry: the keystore's (every key ever registered, revocations); default:
        one built from the identities' current public keys."""
        self.by_name = {i.name: i for i in identities}
        self.policy = policy
        self.registry = registry or KeyRegistry(i.public() for i in self.by_name.values())
        self.signing = BusSigning(policy, self.by_name.values())

    def human_signer(self, name: str) -> Signer:
        """The human's key for signing oversight decisions, in the policy's algorithm for
        OversightDecided (ConfigurationError if the swarm holds no such human)."""
        found = self.by_name.get(name)
        if found is None or found.role != str(Role.HUMAN):
            raise ConfigurationError("operator.approver", name, "no human identity with this name")
        return found.signer(self.policy.algorithm_for("OversightDecided"))

    @classmethod
    def for_swarm(
        cls,
        agents: Iterable[SwarmAgent],
        approver: str,
        policy: SigningPolicy,
        identities: Iterable[AgentIdentity] | None = None,
        registry: KeyRegistry | None = None,
        humans: Iterable[str] = (),
    ) -> SwarmIdentities:
        """Given identities (from a keystore) or the demo's; every member (each of the
        agents, e.g. `system.agents.AGENTS`, the approver and the humans named, e.g. the
        kill switch's approvers) must have one."""
        members = swarm_members(agents, approver, humans)
        if identities is None:
            return cls(demo_identities(members), policy)
        made = cls(identities, policy, registry)
        for name, role in members:
            found = made.by_name.get(name)
            if found is None or found.role != role:
                raise ConfigurationError("identities", name, f"no {role} identity with this name")
        return made

    def audit_keys(self, keystore: str) -> AuditKeys:
        """The audit log's checkpoint signers (Ed25519 and ML-DSA-87 of the `audit-log`
        identity) and the witness's Ed25519 signer, from a keystore swarm's identities.

        ConfigurationError naming the keystore when either identity is missing: a swarm
        with real keys never signs its checkpoints with the demo's public-seed keys."""
        found = {}
        for role in (Role.AUDIT_LOG, Role.WITNESS):
            match = [i for i in self.by_name.values() if i.role == str(role)]
            if len(match) != 1:
                raise ConfigurationError(
                    "identities.keystore",
                    keystore,
                    f"needs exactly one {role} identity, has {len(match)}: add "
                    f"`- {{type: {role}, name: ...}}` to the batch file and provision it",
                )
            found[role] = match[0]
        log = found[Role.AUDIT_LOG]
        log_signers = [log.signer(Algorithm.ED25519), log.signer(Algorithm.MLDSA87)]
        return AuditKeys(log.name, log_signers, found[Role.WITNESS].signer(Algorithm.ED25519))

    def enroll(self, name: str, role: Role) -> AgentIdentity:
        """Add a demo-seeded identity (for a benchmark's or test's extra publisher)."""
        (identity,) = demo_identities([(name, str(role))])
        self.by_name[name] = identity
        self.registry.register(identity.public())
        self.signing.add(identity)
        return identity


def load_identities(
    config: IdentitiesConfig, only: str | None = None
) -> tuple[list[AgentIdentity], KeyRegistry] | None:
    """The configured keystore's identities (only: just that one's, so that an agent's
    process decrypts no key but its own) and registry; None for the demo's keys.

    ConfigurationError naming the field when the passphrase variable is unset, the
    keystore is missing, or the passphrase is wrong; nothing is written."""
    if config.keystore is None:
        return None
    secret = os.environ.get(config.passphrase_env)
    if not secret:
        raise ConfigurationError(
            "identities.passphrase_env", config.passphrase_env, "environment variable not set"
        )
    directory = Path(config.keystore)
    keystore = open_keystore(directory, secret, create=False)
    registry_file = directory / REGISTRY_FILE
    if not registry_file.exists():
        raise ConfigurationError("identities.keystore", config.keystore, "no registry.json in it")
    identities = keystore.load_all() if only is None else [keystore.load(only)]
    registry = KeyRegistry.load(registry_file)
    for identity in identities:
        found = registry.lookup(identity.ed25519.key_id)
        if found is None or found.owner.name != identity.name:
            raise ConfigurationError(
                "identities.keystore", config.keystore, f"{identity.name}'s key is not registered"
            )
    return identities, registry
