"""Key pairs for signing (Ed25519, ML-DSA-87) and key encapsulation (ML-KEM-768).

Every private key is kept as its 32- or 64-byte seed (what `private_bytes_raw` returns),
so a key can be stored, derived from a seed for reproducible demos, and reloaded.
A key id is the first 16 bytes (32 hex digits) of SHA-256 over the raw public key.
"""

from __future__ import annotations

import functools
import hashlib
from enum import StrEnum
from typing import Any, Protocol, Self, runtime_checkable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519, mldsa, mlkem

from tradeswarm.core.errors import ConfigurationError

KEY_ID_BYTES = 16


class Algorithm(StrEnum):
    """The algorithms an identity holds a key for."""

    ED25519 = "ed25519"
    MLDSA87 = "ml-dsa-87"
    MLKEM768 = "ml-kem-768"


SIGNING_ALGORITHMS = (Algorithm.ED25519, Algorithm.MLDSA87)
SEED_BYTES = {Algorithm.ED25519: 32, Algorithm.MLDSA87: 32, Algorithm.MLKEM768: 64}


class UnknownAlgorithm(ConfigurationError):
    """An algorithm name no signer or verifier here knows."""


def parse_algorithm(value: str, field: str = "algorithm") -> Algorithm:
    """Algorithm from its name; a clear error naming field and value otherwise."""
    try:
        return Algorithm(value)
    except ValueError as err:
        raise UnknownAlgorithm(
            field, value, f"unknown algorithm; use one of {[a.value for a in Algorithm]}"
        ) from err


def signing_algorithm(value: str | Algorithm, field: str = "algorithm") -> Algorithm:
    alg = parse_algorithm(str(value), field)
    if alg not in SIGNING_ALGORITHMS:
        raise UnknownAlgorithm(field, value, "not a signature algorithm (use ed25519, ml-dsa-87)")
    return alg


def key_id_of(public_key: bytes) -> str:
    """Stable key id: SHA-256 of the raw public key, first 16 bytes in hex."""
    return hashlib.sha256(public_key).digest()[:KEY_ID_BYTES].hex()


@runtime_checkable
class Signer(Protocol):
    """Something that signs bytes with one private key and names that key."""

    @property
    def key_id(self) -> str: ...

    @property
    def algorithm(self) -> Algorithm: ...

    def sign(self, data: bytes) -> bytes: ...

    def public_key_bytes(self) -> bytes: ...


class _KeyPair:
    """One private key, kept as its seed, with its public key and key id.

    Subclasses name the algorithm and how `cryptography` generates and loads the key."""

    algorithm: Algorithm

    def __init__(self, key: Any) -> None:
        self._key = key
        self._public: bytes = key.public_key().public_bytes_raw()
        self.key_id = key_id_of(self._public)

    @staticmethod
    def _generate() -> Any:
        raise NotImplementedError

    @staticmethod
    def _load(seed: bytes, /) -> Any:
        raise NotImplementedError

    @classmethod
    def generate(cls) -> Self:
        return cls(cls._generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> Self:
        return cls(cls._load(_seed(seed, cls.algorithm)))

    def public_key_bytes(self) -> bytes:
        return self._public

    def seed_bytes(self) -> bytes:
        seed: bytes = self._key.private_bytes_raw()
        return seed


class _SigningKeyPair(_KeyPair):
    def sign(self, data: bytes) -> bytes:
        signature: bytes = self._key.sign(data)
        return signature


class Ed25519Signer(_SigningKeyPair):
    """Ed25519 (RFC 8032): deterministic signatures, ~40 µs to sign here."""

    algorithm = Algorithm.ED25519
    _generate = staticmethod(ed25519.Ed25519PrivateKey.generate)
    _load = staticmethod(ed25519.Ed25519PrivateKey.from_private_bytes)


class MLDSA87Signer(_SigningKeyPair):
    """ML-DSA-87 (FIPS 204): post-quantum; OpenSSL's signatures are randomized (hedged)."""

    algorithm = Algorithm.MLDSA87
    _generate = staticmethod(mldsa.MLDSA87PrivateKey.generate)
    _load = staticmethod(mldsa.MLDSA87PrivateKey.from_seed_bytes)


class KemKey(_KeyPair):
    """An ML-KEM-768 (FIPS 203) key pair: others encapsulate a secret to its public key."""

    algorithm = Algorithm.MLKEM768
    _generate = staticmethod(mlkem.MLKEM768PrivateKey.generate)
    _load = staticmethod(mlkem.MLKEM768PrivateKey.from_seed_bytes)

    def decapsulate(self, ciphertext: bytes) -> bytes:
        """The 32-byte shared secret a sender encapsulated to this key."""
        secret: bytes = self._key.decapsulate(ciphertext)
        return secret


def encapsulate(public_key: bytes) -> tuple[bytes, bytes]:
    """Encapsulate a fresh secret to an ML-KEM-768 public key: (shared_secret, ciphertext)."""
    return mlkem.MLKEM768PublicKey.from_public_bytes(public_key).encapsulate()


def signer_from_seed(algorithm: Algorithm, seed: bytes) -> Ed25519Signer | MLDSA87Signer:
    """Rebuild a signer from its stored seed."""
    if algorithm is Algorithm.ED25519:
        return Ed25519Signer.from_seed(seed)
    if algorithm is Algorithm.MLDSA87:
        return MLDSA87Signer.from_seed(seed)
    raise UnknownAlgorithm("algorithm", algorithm, "not a signature algorithm")


def _seed(seed: bytes, algorithm: Algorithm) -> bytes:
    if len(seed) != SEED_BYTES[algorithm]:
        raise ConfigurationError(
            f"{algorithm}.seed", f"{len(seed)} bytes", f"must be {SEED_BYTES[algorithm]} bytes"
        )
    return seed


@functools.lru_cache(maxsize=4096)
def _public_key(
    algorithm: Algorithm, public_key: bytes
) -> ed25519.Ed25519PublicKey | mldsa.MLDSA87PublicKey | None:
    try:
        if algorithm is Algorithm.ED25519:
            return ed25519.Ed25519PublicKey.from_public_bytes(public_key)
        return mldsa.MLDSA87PublicKey.from_public_bytes(public_key)
    except ValueError:
        return None


def verify(algorithm: str | Algorithm, public_key: bytes, signature: bytes, data: bytes) -> bool:
    """True when signature is valid for data under public_key.

    Never raises on a bad signature or a malformed key (both give False); raises
    UnknownAlgorithm for an algorithm that is not a signature algorithm here.
    """
    alg = signing_algorithm(algorithm)
    key = _public_key(alg, bytes(public_key))
    if key is None:
        return False
    try:
        key.verify(bytes(signature), data)
    except InvalidSignature:
        return False
    return True
