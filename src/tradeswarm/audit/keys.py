"""Signing keys for checkpoints and cosignatures, as C2SP signed-note keys.

A note key is a *name* (a schema-less URL such as `tradeswarm.local/log`) plus a
signer. Signature types (the byte(s) hashed into the 4-byte key ID):

* Ed25519 log signatures: `0x01` (signed-note).
* Ed25519 witness cosignatures: `0x04` (tlog-cosignature v1, timestamped).
* ML-DSA-87 log signatures: `0xff` followed by the ASCII identifier
  `tradeswarm/ml-dsa-87` (signed-note reserves 0xff for types without an assigned
  byte and recommends a longer identifier after it). The signature is ML-DSA-87
  (FIPS 204, empty context) over the note text.

key ID = SHA-256(name || 0x0A || type bytes || public key)[:4]; a verifier key
(vkey) is `name+hex(key ID)+base64(type bytes || public key)`.
"""

from __future__ import annotations

import base64
import hashlib

from tradeswarm.crypto import Algorithm, Signer, verify
from tradeswarm.crypto.keys import signer_from_seed

ED25519_TYPE = b"\x01"
COSIGNATURE_V1_TYPE = b"\x04"
ML_DSA_87_TYPE = b"\xfftradeswarm/ml-dsa-87"

_TYPES = {ED25519_TYPE: Algorithm.ED25519, ML_DSA_87_TYPE: Algorithm.MLDSA87}
_TYPE_OF = {Algorithm.ED25519: ED25519_TYPE, Algorithm.MLDSA87: ML_DSA_87_TYPE}


def derived_signer(algorithm: Algorithm, *parts: str) -> Signer:
    """A deterministic key from text parts (demo and test keys: reproducible, not secret)."""
    seed = hashlib.sha256("\x00".join((str(algorithm), *parts)).encode()).digest()
    return signer_from_seed(algorithm, seed)


def verify_signature(algorithm: str, public_key: bytes, signature: bytes, data: bytes) -> bool:
    """True when signature is algorithm's valid signature of data under public_key."""
    return verify(algorithm, public_key, signature, data)


def key_id(name: str, type_bytes: bytes, public_key: bytes) -> bytes:
    """The signed-note key ID: SHA-256(name || 0x0A || type || public key)[:4]."""
    return hashlib.sha256(name.encode() + b"\n" + type_bytes + public_key).digest()[:4]


def check_key_name(name: str) -> str:
    if not name or any(c.isspace() or c == "+" for c in name):
        raise ValueError(f"key name {name!r} must be non-empty, without spaces or '+'")
    return name


class VerifierKey:
    """A public note key: name, signature type and public key (parsed from or to a vkey)."""

    def __init__(self, name: str, type_bytes: bytes, public_key: bytes) -> None:
        self.name = check_key_name(name)
        self.type_bytes = type_bytes
        self.public_key = public_key
        self.key_id = key_id(name, type_bytes, public_key)

    @property
    def algorithm(self) -> str:
        if self.type_bytes == COSIGNATURE_V1_TYPE:
            return str(Algorithm.ED25519)
        return str(_TYPES[self.type_bytes])

    @property
    def is_cosigner(self) -> bool:
        return self.type_bytes == COSIGNATURE_V1_TYPE

    def vkey(self) -> str:
        blob = base64.b64encode(self.type_bytes + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{blob}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, VerifierKey) and self.vkey() == other.vkey()

    def __hash__(self) -> int:
        return hash(self.vkey())

    @classmethod
    def for_signer(cls, name: str, signer: Signer, cosigner: bool = False) -> VerifierKey:
        algorithm = Algorithm(signer.algorithm)
        if cosigner and algorithm is not Algorithm.ED25519:
            raise ValueError(f"cosignatures are Ed25519 (tlog-cosignature v1), not {algorithm}")
        type_bytes = COSIGNATURE_V1_TYPE if cosigner else _TYPE_OF[algorithm]
        return cls(name, type_bytes, signer.public_key_bytes())

    @classmethod
    def parse(cls, vkey: str) -> VerifierKey:
        """Parse `name+hexid+base64(type||key)`; ValueError naming the vkey if malformed."""
        try:
            name, hex_id, blob = vkey.split("+", 2)
            raw = base64.b64decode(blob, validate=True)
        except ValueError as err:
            raise ValueError(f"vkey {vkey[:60]!r}: not name+keyid+base64") from err
        for type_bytes in (ML_DSA_87_TYPE, ED25519_TYPE, COSIGNATURE_V1_TYPE):
            if raw.startswith(type_bytes):
                key = cls(name, type_bytes, raw[len(type_bytes) :])
                if key.key_id.hex() != hex_id:
                    raise ValueError(f"vkey {vkey[:60]!r}: key ID does not match the key")
                return key
        raise ValueError(f"vkey {vkey[:60]!r}: unknown signature type {raw[:1].hex()}")
