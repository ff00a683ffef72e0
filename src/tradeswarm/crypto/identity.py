"""An agent's (or human's) identity: its private keys, and the public part others verify with.

An identity holds one Ed25519 and one ML-DSA-87 signing key and one ML-KEM-768 key.
The principal string `role:name` is what envelopes carry in `sender`.
"""

from __future__ import annotations

import msgspec
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from tradeswarm.core.errors import InvalidInput
from tradeswarm.crypto.keys import (
    SEED_BYTES,
    Algorithm,
    Ed25519Signer,
    KemKey,
    MLDSA87Signer,
    Signer,
)

NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._@")


def check_name(name: str, field: str = "name") -> str:
    """A name usable as a principal and a file name: letters, digits, - . _ @."""
    if not name or not set(name) <= NAME_CHARS or name.startswith("."):
        raise InvalidInput(field, name, "use letters, digits, - . _ @ only (not leading .)")
    return name


def principal(role: str, name: str) -> str:
    """The sender string an envelope carries for this identity."""
    return f"{role}:{name}"


class PublicKey(msgspec.Struct, frozen=True, kw_only=True):
    """One registered public key; valid for signatures made in [valid_from_ns, retired_at_ns)."""

    key_id: str
    algorithm: Algorithm
    public_key: bytes
    valid_from_ns: int
    retired_at_ns: int | None = None


class PublicIdentity(msgspec.Struct, frozen=True, kw_only=True):
    """What the swarm knows about an identity: name, role, every key it ever had."""

    name: str
    role: str
    keys: tuple[PublicKey, ...]
    valid_from_ns: int
    revoked_at_ns: int | None = None

    @property
    def principal(self) -> str:
        return principal(self.role, self.name)

    def current(self, algorithm: Algorithm) -> PublicKey | None:
        """The key of algorithm not yet retired, if any."""
        for key in self.keys:
            if key.algorithm is algorithm and key.retired_at_ns is None:
                return key
        return None


class AgentIdentity:
    """Private keys of one identity. Never serialized as is: see keystore.py."""

    def __init__(
        self,
        name: str,
        role: str,
        ed25519: Ed25519Signer,
        mldsa87: MLDSA87Signer,
        mlkem768: KemKey,
        created_ns: int,
    ) -> None:
        self.name = check_name(name)
        if not role:
            raise InvalidInput("role", role, "must not be empty")
        self.role = role
        self.ed25519 = ed25519
        self.mldsa87 = mldsa87
        self.mlkem768 = mlkem768
        self.created_ns = created_ns

    @classmethod
    def generate(cls, name: str, role: str, created_ns: int) -> AgentIdentity:
        """Fresh random keys from the OS generator."""
        keys = (Ed25519Signer.generate(), MLDSA87Signer.generate(), KemKey.generate())
        return cls(name, role, *keys, created_ns)

    @classmethod
    def from_seed(cls, name: str, role: str, seed: bytes, created_ns: int) -> AgentIdentity:
        """Keys derived from seed with HKDF-SHA256 (info names the identity and algorithm).

        For reproducible demos and tests only: anyone who knows the seed holds the keys.
        """
        if len(seed) < 16:
            raise InvalidInput("seed", f"{len(seed)} bytes", "needs at least 16 bytes")

        def derive(alg: Algorithm) -> bytes:
            info = f"tradeswarm/v1/identity/{role}:{name}/{alg}".encode()
            hkdf = HKDF(algorithm=hashes.SHA256(), length=SEED_BYTES[alg], salt=None, info=info)
            return hkdf.derive(seed)

        return cls(
            name,
            role,
            Ed25519Signer.from_seed(derive(Algorithm.ED25519)),
            MLDSA87Signer.from_seed(derive(Algorithm.MLDSA87)),
            KemKey.from_seed(derive(Algorithm.MLKEM768)),
            created_ns,
        )

    @property
    def principal(self) -> str:
        return principal(self.role, self.name)

    def signer(self, algorithm: Algorithm) -> Signer:
        """The signer for algorithm (ed25519 or ml-dsa-87)."""
        if algorithm is Algorithm.ED25519:
            return self.ed25519
        if algorithm is Algorithm.MLDSA87:
            return self.mldsa87
        raise InvalidInput("algorithm", algorithm, "not a signature algorithm")

    def public_keys(self, valid_from_ns: int) -> tuple[PublicKey, ...]:
        return tuple(
            PublicKey(
                key_id=k.key_id,
                algorithm=k.algorithm,
                public_key=k.public_key_bytes(),
                valid_from_ns=valid_from_ns,
            )
            for k in (self.ed25519, self.mldsa87, self.mlkem768)
        )

    def public(self) -> PublicIdentity:
        """The public part, valid from created_ns."""
        return PublicIdentity(
            name=self.name,
            role=self.role,
            keys=self.public_keys(self.created_ns),
            valid_from_ns=self.created_ns,
        )

    def with_new_keys(self, created_ns: int) -> AgentIdentity:
        """A rotated identity: same name and role, fresh keys."""
        return AgentIdentity.generate(self.name, self.role, created_ns)

    def __repr__(self) -> str:  # never print key material
        return f"AgentIdentity({self.principal}, ed25519={self.ed25519.key_id})"
