"""Provision a swarm's identities from a YAML description: keys, keystore, registry.

The YAML follows the seed's `provision --batch` file: a list of agents, each with a
`name` and a `type` (its role, e.g. `trading-agent`). The seed's optional descriptive
fields (capabilities, limits, strategy, venues, rules) are accepted so its files load,
and ignored: nothing reads them (what an agent does is set in the swarm's TOML config).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from pathlib import Path

import msgspec
import yaml

from tradeswarm.core.config import ConfigBase, convert_config
from tradeswarm.core.errors import ConfigurationError, InvalidInput
from tradeswarm.crypto.identity import AgentIdentity, check_name
from tradeswarm.crypto.keystore import Keystore, ScryptParams, open_keystore
from tradeswarm.crypto.registry import KeyRegistry

#: The demo's key seed. Public on purpose: demo keys are reproducible, so the demo's
#: output and log are byte-identical across runs, and they protect nothing.
REGISTRY_FILE = "registry.json"
DEMO_SEED = b"tradeswarm/v1/demo-identities (public, not a secret)"


class AgentSpec(ConfigBase, frozen=True):
    name: str
    type: str
    # the seed's descriptive fields: accepted, never read
    capabilities: list[str] = msgspec.field(default_factory=list)
    limits: dict[str, str | int | float] = msgspec.field(default_factory=dict)
    strategy: str | None = None
    venues: list[str] = msgspec.field(default_factory=list)
    rules: list[str] = msgspec.field(default_factory=list)


class SwarmSpec(ConfigBase, frozen=True):
    agents: list[AgentSpec]


def parse_swarm_spec(
    text: str, source: str = "swarm.yaml", roles: Collection[str] = ()
) -> SwarmSpec:
    """Validate a swarm description; with roles, every agent's type must be one of them."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigurationError(source, "<file>", f"not valid YAML: {err}") from err
    spec = convert_config(raw, SwarmSpec, source=source)
    if not spec.agents:
        raise ConfigurationError(f"{source}:agents", [], "describe at least one agent")
    names: set[str] = set()
    for i, agent in enumerate(spec.agents):
        check_name(agent.name, f"{source}:agents[{i}].name")
        if agent.name in names:
            raise ConfigurationError(f"{source}:agents[{i}].name", agent.name, "duplicate name")
        names.add(agent.name)
        if roles and agent.type not in roles:
            raise ConfigurationError(
                f"{source}:agents[{i}].type",
                agent.type,
                f"unknown type; use one of {sorted(roles)}",
            )
    return spec


def load_swarm_spec(path: Path, roles: Collection[str] = ()) -> SwarmSpec:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as err:
        raise ConfigurationError("--batch", str(path), "file not found") from err
    return parse_swarm_spec(text, path.name, roles)


def provision_batch(
    spec: SwarmSpec, keystore: Keystore, registry: KeyRegistry, now_ns: int
) -> list[AgentIdentity]:
    """Generate keys for every agent, store them encrypted, register the public parts.

    Checks every name first, so a batch with one taken name changes nothing.
    """
    for agent in spec.agents:
        if agent.name in registry or keystore.path_for(agent.name).exists():
            raise InvalidInput("name", agent.name, "already provisioned; rotate it instead")
    made = [AgentIdentity.generate(a.name, a.type, now_ns) for a in spec.agents]
    for identity in made:
        keystore.save(identity)
        registry.register(identity.public())
    return made


def rotate_identity(
    name: str, keystore: Keystore, registry: KeyRegistry, now_ns: int
) -> AgentIdentity:
    """New keys for name from now_ns; the old public keys stay registered, retired."""
    old = keystore.load(name)  # proves the caller can open the keystore before any change
    registry.get(name)
    fresh = AgentIdentity.generate(old.name, old.role, now_ns)
    registry.rotate(name, fresh.public_keys(now_ns), now_ns)
    keystore.save(fresh, replace=True)
    return fresh


def demo_identities(
    members: Iterable[tuple[str, str]], created_ns: int = 0, seed: bytes = DEMO_SEED
) -> list[AgentIdentity]:
    """In-memory identities derived from a public seed (HKDF): reproducible, not secret."""
    return [AgentIdentity.from_seed(name, role, seed, created_ns) for name, role in members]


def open_registry(directory: Path) -> KeyRegistry:
    """The keystore directory's public registry (empty when there is none yet)."""
    path = directory / REGISTRY_FILE
    return KeyRegistry.load(path) if path.exists() else KeyRegistry()


def provision_swarm(
    batch: Path,
    directory: Path,
    passphrase: str,
    now_ns: int,
    roles: Collection[str] = (),
    params: ScryptParams | None = None,
) -> list[AgentIdentity]:
    """Provision batch's agents into the keystore directory and its registry.json.

    The file and the passphrase are checked before anything is written.
    """
    spec = load_swarm_spec(batch, roles)
    keystore = open_keystore(directory, passphrase, params)
    registry = open_registry(directory)
    made = provision_batch(spec, keystore, registry, now_ns)
    registry.save(directory / REGISTRY_FILE)
    return made


def rotate_in(directory: Path, name: str, passphrase: str, now_ns: int) -> AgentIdentity:
    """Rotate name's keys in the keystore directory; its old public keys stay, retired."""
    keystore = open_keystore(directory, passphrase, create=False)
    registry = open_registry(directory)
    fresh = rotate_identity(name, keystore, registry, now_ns)
    registry.save(directory / REGISTRY_FILE)
    return fresh


def revoke_in(directory: Path, name: str, passphrase: str, now_ns: int) -> None:
    """Revoke name from now_ns: its later signatures are rejected, earlier ones stand."""
    open_keystore(directory, passphrase, create=False)  # only the keystore's holder may
    registry = open_registry(directory)
    registry.revoke(name, now_ns)
    registry.save(directory / REGISTRY_FILE)
