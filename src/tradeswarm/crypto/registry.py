"""The public-key registry the swarm verifies signatures against.

Keys are never deleted. Rotation retires a key at a time (signatures made before it
stay valid); revocation ends the whole identity at a time (signatures made before it
stay valid, later ones are rejected). "Made at" is the time the signed message claims
(`Envelope.ts_ns`); the audit log's signed checkpoints are what pin that claim down.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from enum import StrEnum
from pathlib import Path
from typing import NamedTuple

import msgspec

from tradeswarm.core.errors import ConfigurationError, InvalidInput
from tradeswarm.crypto.identity import PublicIdentity, PublicKey
from tradeswarm.crypto.keys import Algorithm, key_id_of

REGISTRY_FORMAT = "tradeswarm-registry/v1"


class KeyState(StrEnum):
    """Whether a key may vouch for a signature made at a given time."""

    VALID = "valid"
    UNKNOWN = "unknown key"
    NOT_YET_VALID = "key not yet valid"
    RETIRED = "key retired"
    REVOKED = "identity revoked"


class RegisteredKey(NamedTuple):
    owner: PublicIdentity
    key: PublicKey


class _RegistryFile(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    format: str
    identities: list[PublicIdentity]


_encoder = msgspec.json.Encoder(order="sorted")
_decoder = msgspec.json.Decoder(_RegistryFile)


class KeyRegistry:
    """Identities by name and keys by key id; persistable as JSON."""

    def __init__(self, identities: Iterable[PublicIdentity] = ()) -> None:
        self._by_name: dict[str, PublicIdentity] = {}
        self._by_key: dict[str, RegisteredKey] = {}
        for identity in identities:
            self.register(identity)

    def register(self, identity: PublicIdentity) -> None:
        """Add a new identity; its name and key ids must be new to the registry."""
        if identity.name in self._by_name:
            raise InvalidInput("name", identity.name, "already registered; rotate or revoke it")
        self._check_new_keys(identity.keys)
        self._put(identity)

    def rotate(self, name: str, keys: Sequence[PublicKey], at_ns: int) -> PublicIdentity:
        """Retire name's current key of each algorithm in keys at at_ns and add keys."""
        old = self.get(name)
        if old.revoked_at_ns is not None:
            raise InvalidInput("name", name, "is revoked; provision a new identity instead")
        if at_ns < old.valid_from_ns:
            raise InvalidInput("at_ns", at_ns, f"before {name} was valid ({old.valid_from_ns})")
        self._check_new_keys(keys)
        algorithms = {k.algorithm for k in keys}
        kept = tuple(
            msgspec.structs.replace(k, retired_at_ns=at_ns)
            if k.algorithm in algorithms and k.retired_at_ns is None
            else k
            for k in old.keys
        )
        fresh = tuple(msgspec.structs.replace(k, valid_from_ns=at_ns) for k in keys)
        return self._put(msgspec.structs.replace(old, keys=kept + fresh))

    def revoke(self, name: str, at_ns: int) -> PublicIdentity:
        """Reject name's signatures made at or after at_ns; earlier ones stay valid."""
        old = self.get(name)
        if old.revoked_at_ns is not None:
            raise InvalidInput("name", name, f"already revoked at {old.revoked_at_ns}")
        return self._put(msgspec.structs.replace(old, revoked_at_ns=at_ns))

    def get(self, name: str) -> PublicIdentity:
        try:
            return self._by_name[name]
        except KeyError:
            raise InvalidInput("name", name, "no such identity in the registry") from None

    def find(self, name: str) -> PublicIdentity | None:
        return self._by_name.get(name)

    def lookup(self, key_id: str) -> RegisteredKey | None:
        """The key with key_id and its owner, or None."""
        return self._by_key.get(key_id)

    def state_at(self, key_id: str, at_ns: int) -> tuple[KeyState, RegisteredKey | None]:
        """Whether key_id may vouch for a signature made at at_ns, and the key."""
        found = self._by_key.get(key_id)
        if found is None:
            return KeyState.UNKNOWN, None
        owner, key = found
        if owner.revoked_at_ns is not None and at_ns >= owner.revoked_at_ns:
            return KeyState.REVOKED, found
        if at_ns < key.valid_from_ns:
            return KeyState.NOT_YET_VALID, found
        if key.retired_at_ns is not None and at_ns >= key.retired_at_ns:
            return KeyState.RETIRED, found
        return KeyState.VALID, found

    def current_kem_keys(self, role: str, at_ns: int) -> list[RegisteredKey]:
        """The ML-KEM-768 key valid at at_ns of every identity of role, by name.

        What a sender seals to: a retired key (at or after its retirement), a key not yet
        valid and a revoked identity's key are never among them."""
        found: list[RegisteredKey] = []
        for identity in self.identities():
            if identity.role != role:
                continue
            for key in identity.keys:
                if key.algorithm is not Algorithm.MLKEM768:
                    continue
                if self.state_at(key.key_id, at_ns)[0] is KeyState.VALID:
                    found.append(RegisteredKey(identity, key))
        return found

    def identities(self) -> list[PublicIdentity]:
        return sorted(self._by_name.values(), key=lambda i: i.name)

    def __len__(self) -> int:
        return len(self._by_name)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def to_json(self) -> bytes:
        """Canonical JSON (sorted keys, identities by name; public keys in base64)."""
        return _encoder.encode(_RegistryFile(format=REGISTRY_FORMAT, identities=self.identities()))

    @classmethod
    def from_json(cls, data: bytes | str, source: str = "registry") -> KeyRegistry:
        try:
            parsed = _decoder.decode(data)
        except msgspec.DecodeError as err:
            raise ConfigurationError(source, "<file>", f"not a key registry: {err}") from err
        if parsed.format != REGISTRY_FORMAT:
            raise ConfigurationError(f"{source}:format", parsed.format, f"need {REGISTRY_FORMAT}")
        return cls(parsed.identities)

    def save(self, path: Path) -> None:
        """Write atomically (a temp file renamed over path)."""
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(self.to_json())
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> KeyRegistry:
        try:
            data = path.read_bytes()
        except FileNotFoundError as err:
            raise ConfigurationError("registry", str(path), "file not found") from err
        return cls.from_json(data, source=path.name)

    def _check_new_keys(self, keys: Iterable[PublicKey]) -> None:
        seen: set[str] = set()
        for key in keys:
            if key.key_id in self._by_key or key.key_id in seen:
                raise InvalidInput("key_id", key.key_id, "already registered")
            if key.key_id != key_id_of(key.public_key):
                raise InvalidInput("key_id", key.key_id, "does not match its public key")
            seen.add(key.key_id)

    def _put(self, identity: PublicIdentity) -> PublicIdentity:
        self._by_name[identity.name] = identity
        for key in identity.keys:
            self._by_key[key.key_id] = RegisteredKey(identity, key)
        return identity
