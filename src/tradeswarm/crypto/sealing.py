"""Sealed boxes: a confidential payload only its recipients' ML-KEM-768 keys can open.

The box. `seal` encrypts the plaintext once, with AES-256-GCM under a fresh random 32-byte
data key and a fresh random 12-byte nonce, and wraps the data key once per recipient key.
The box is the MessagePack array (`SealedBox`, canonical: `open_sealed` refuses any other
encoding of the same values)

    [1, sender, topic, [[principal, key_id, kem_ct, wrapped_key], ...], nonce, ciphertext]

- `1`: the format version; `sender`: the principal (`role:name`) that sealed it; `topic`:
  the bus topic it is sealed for (`Topic.name`).
- one entry per recipient key, in the order given to `seal`, key ids unique: the key
  owner's principal, the key id (32 lowercase hex digits, `crypto.keys.key_id_of`),
  `kem_ct` the ML-KEM-768 ciphertext (1088 bytes) encapsulating a fresh shared secret to
  that key, and `wrapped_key` (48 bytes) the data key encrypted with AES-256-GCM under
  `KEK = HKDF-SHA256(ikm=shared secret, salt=None, info=b"tradeswarm/v1/seal/" + key_id,
  length=32)`, with a nonce of 12 zero bytes (each KEK comes from its own encapsulation
  and encrypts exactly one thing, so a fixed nonce never repeats under one key) and the
  associated data (every entry but the wrapped keys themselves)

      b"tradeswarm/v1/seal-key\\x00"
        + msgpack([1, sender, topic, [[principal, key_id, kem_ct], ...]])

- `nonce` (12 bytes) and `ciphertext` (plaintext length + 16-byte tag): the plaintext
  under the data key, with the associated data (the box's encoding up to its nonce, as
  an array of four)

      b"tradeswarm/v1/seal\\x00"
        + msgpack([1, sender, topic, [[principal, key_id, kem_ct, wrapped_key], ...]])

`msgpack(...)` is the canonical MessagePack of the array (shortest forms; strings as str,
bytes as bin). So every recipient checks every byte of the box: a box moved to another
topic, re-attributed to another sender, with a recipient stripped, added, reordered or
renamed, or anyone's entry changed, fails to open (`SealError` TAMPERED; a box whose clear
`topic` is not the receiver's is refused first, as WRONG_TOPIC). A changed `kem_ct` in
the receiver's own entry decapsulates (ML-KEM's implicit rejection) to another secret, so
its wrapped key fails too.

What it does not do: ML-KEM does not authenticate the sender (anyone holding the public
keys can seal a box naming any sender); who sent it is the signed envelope's to say, and
a receiver passes the envelope's sender to `open_sealed(sender=...)` so a box lifted into
another's envelope is refused. The ciphertext's length is the plaintext's.

Keys. A receiver's `KemKeyring` holds its current ML-KEM-768 key and every retired one by
key id (a box sealed before a rotation still opens). `rotate_if_due` replaces a key older
than the policy's `rotation_s`; the sender seals to each recipient role's keys valid at the
envelope's time (`recipients_for`, through `KeyRegistry.current_kem_keys`), never a
retired one. `SealingPolicy` says which message types are sealed and for which roles.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from enum import StrEnum
from types import MappingProxyType
from typing import NamedTuple

import msgspec
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from tradeswarm.core.config import ConfigBase
from tradeswarm.core.errors import InvalidInput, TradeswarmError
from tradeswarm.crypto.contexts import MESSAGE_TYPES
from tradeswarm.crypto.identity import AgentIdentity, PublicKey
from tradeswarm.crypto.keys import KEY_ID_BYTES, Algorithm, KemKey, encapsulate
from tradeswarm.crypto.registry import KeyRegistry

SEAL_VERSION = 1
PAYLOAD_AAD_PREFIX = b"tradeswarm/v1/seal\x00"
WRAP_AAD_PREFIX = b"tradeswarm/v1/seal-key\x00"
KEK_INFO_PREFIX = b"tradeswarm/v1/seal/"
NONCE_BYTES = 12
DATA_KEY_BYTES = 32
TAG_BYTES = 16
KEM_CIPHERTEXT_BYTES = 1088
WRAPPED_KEY_BYTES = DATA_KEY_BYTES + TAG_BYTES
WRAP_NONCE = bytes(NONCE_BYTES)
_HEX = frozenset("0123456789abcdef")

AUDIT_LOG_ROLE = "audit-log"  # tradeswarm.bus.topics.Role.AUDIT_LOG (a room above this one)


class SealReason(StrEnum):
    """Why a box could not be sealed or opened."""

    MALFORMED = "malformed box"
    UNSUPPORTED_VERSION = "unsupported box version"
    NOT_RECIPIENT = "not a recipient"
    UNKNOWN_KEY = "sealed to a key the keyring does not hold"
    TAMPERED = "tampered (authentication tag does not verify)"
    WRONG_TOPIC = "sealed for another topic"
    WRONG_SENDER = "sealed by another sender"
    NO_RECIPIENTS = "no recipient key to seal to"
    DUPLICATE_KEY = "a recipient key listed twice"
    BAD_KEY = "not a usable ML-KEM-768 public key"


class SealError(TradeswarmError):
    """A box could not be sealed or opened; reason says why. Nothing else escapes."""

    def __init__(self, reason: SealReason, detail: str) -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}")


class SealedRecipient(msgspec.Struct, frozen=True, array_like=True):
    """One recipient key's entry in a box (see the module docstring)."""

    principal: str
    key_id: str
    kem_ct: bytes
    wrapped_key: bytes


class SealedBox(msgspec.Struct, frozen=True, array_like=True):
    """A sealed payload (see the module docstring for the format)."""

    version: int
    sender: str
    topic: str
    recipients: list[SealedRecipient]
    nonce: bytes
    ciphertext: bytes


class KemRecipient(NamedTuple):
    """A key to seal to: its owner's principal and the registered public key."""

    principal: str
    key: PublicKey


_encoder = msgspec.msgpack.Encoder()
_box_decoder = msgspec.msgpack.Decoder(SealedBox)


class _Encapsulated(NamedTuple):
    principal: str
    key_id: str
    kem_ct: bytes


def wrap_aad(sender: str, topic: str, entries: Iterable[_Encapsulated | SealedRecipient]) -> bytes:
    """What every wrapped key is bound to: version, sender, topic, each (principal, key id,
    KEM ciphertext)."""
    listed = [[e.principal, e.key_id, e.kem_ct] for e in entries]
    return WRAP_AAD_PREFIX + _encoder.encode([SEAL_VERSION, sender, topic, listed])


def payload_aad(sender: str, topic: str, entries: Sequence[SealedRecipient]) -> bytes:
    """What the payload is bound to: the box's fields before its nonce, as encoded."""
    return PAYLOAD_AAD_PREFIX + _encoder.encode([SEAL_VERSION, sender, topic, entries])


def kek(shared_secret: bytes, key_id: str) -> bytes:
    """The key-encryption key for one recipient key: HKDF-SHA256 over the KEM secret."""
    info = KEK_INFO_PREFIX + key_id.encode("ascii")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(shared_secret)


def seal(plaintext: bytes, *, sender: str, topic: str, recipients: Sequence[KemRecipient]) -> bytes:
    """A box only the recipients' ML-KEM-768 private keys open, bound to topic and sender."""
    _check_recipients(recipients)
    encapsulated = [_encapsulate(r) for r in recipients]
    key_aad = wrap_aad(sender, topic, [e for _, e in encapsulated])
    data_key = AESGCM.generate_key(bit_length=256)
    entries = [_wrap(secret, e, data_key, key_aad) for secret, e in encapsulated]
    nonce = os.urandom(NONCE_BYTES)
    aad = payload_aad(sender, topic, entries)
    ciphertext = AESGCM(data_key).encrypt(nonce, bytes(plaintext), aad)
    box = SealedBox(SEAL_VERSION, sender, topic, entries, nonce, ciphertext)
    return _encoder.encode(box)


def _check_recipients(recipients: Sequence[KemRecipient]) -> None:
    if not recipients:
        raise SealError(SealReason.NO_RECIPIENTS, "a box needs one recipient key or more")
    seen: set[str] = set()
    for r in recipients:
        if r.key.algorithm is not Algorithm.MLKEM768:
            raise SealError(
                SealReason.BAD_KEY, f"{r.key.key_id} of {r.principal}: {r.key.algorithm}"
            )
        if r.key.key_id in seen:
            raise SealError(SealReason.DUPLICATE_KEY, f"{r.key.key_id} of {r.principal}")
        seen.add(r.key.key_id)


def _encapsulate(recipient: KemRecipient) -> tuple[bytes, _Encapsulated]:
    key = recipient.key
    try:
        secret, kem_ct = encapsulate(key.public_key)
    except ValueError as err:
        raise SealError(SealReason.BAD_KEY, f"{key.key_id} of {recipient.principal}") from err
    return secret, _Encapsulated(recipient.principal, key.key_id, kem_ct)


def _wrap(secret: bytes, e: _Encapsulated, data_key: bytes, aad: bytes) -> SealedRecipient:
    wrapped = AESGCM(kek(secret, e.key_id)).encrypt(WRAP_NONCE, data_key, aad)
    return SealedRecipient(e.principal, e.key_id, e.kem_ct, wrapped)


def read_box(box: bytes) -> SealedBox:
    """The box's fields, checked for shape and canonical encoding (nothing decrypted)."""
    try:
        parsed = _box_decoder.decode(box)
    except msgspec.DecodeError as err:
        raise SealError(SealReason.MALFORMED, str(err)) from None
    if parsed.version != SEAL_VERSION:
        raise SealError(SealReason.UNSUPPORTED_VERSION, f"version {parsed.version}")
    _check_shape(parsed)
    if _encoder.encode(parsed) != bytes(box):
        raise SealError(SealReason.MALFORMED, "not the canonical encoding of its fields")
    return parsed


def _check_shape(box: SealedBox) -> None:
    if len(box.nonce) != NONCE_BYTES or len(box.ciphertext) < TAG_BYTES:
        raise SealError(SealReason.MALFORMED, "nonce must be 12 bytes, ciphertext >= 16")
    if not box.recipients:
        raise SealError(SealReason.MALFORMED, "no recipients")
    if len({r.key_id for r in box.recipients}) != len(box.recipients):
        raise SealError(SealReason.MALFORMED, "a key id listed twice")
    for r in box.recipients:
        if len(r.key_id) != 2 * KEY_ID_BYTES or not set(r.key_id) <= _HEX:
            raise SealError(SealReason.MALFORMED, f"key id {r.key_id!r}")
        if len(r.kem_ct) != KEM_CIPHERTEXT_BYTES or len(r.wrapped_key) != WRAPPED_KEY_BYTES:
            raise SealError(SealReason.MALFORMED, f"entry for {r.key_id}: wrong lengths")


def open_sealed(box: bytes, *, topic: str, keyring: KemKeyring, sender: str | None = None) -> bytes:
    """The plaintext of a box sealed for topic to a key in keyring (and by sender, if given)."""
    parsed = read_box(box)
    if parsed.topic != topic:
        raise SealError(SealReason.WRONG_TOPIC, f"sealed for {parsed.topic!r}, not {topic!r}")
    if sender is not None and parsed.sender != sender:
        raise SealError(SealReason.WRONG_SENDER, f"sealed by {parsed.sender!r}, not {sender!r}")
    entry, private = _entry_for(parsed, keyring)
    key_aad = wrap_aad(parsed.sender, topic, parsed.recipients)
    aad = payload_aad(parsed.sender, topic, parsed.recipients)
    try:
        secret = private.decapsulate(entry.kem_ct)
    except ValueError:
        raise SealError(SealReason.MALFORMED, f"KEM ciphertext for {entry.key_id}") from None
    wrapping = AESGCM(kek(secret, entry.key_id))
    try:
        data_key = wrapping.decrypt(WRAP_NONCE, entry.wrapped_key, key_aad)
        return AESGCM(data_key).decrypt(parsed.nonce, parsed.ciphertext, aad)
    except InvalidTag:
        raise SealError(SealReason.TAMPERED, f"box for {entry.key_id}") from None


def _entry_for(box: SealedBox, keyring: KemKeyring) -> tuple[SealedRecipient, KemKey]:
    for entry in box.recipients:
        private = keyring.get(entry.key_id)
        if private is not None:
            return entry, private
    if any(entry.principal == keyring.principal for entry in box.recipients):
        held = ", ".join(keyring.key_ids())
        raise SealError(SealReason.UNKNOWN_KEY, f"{keyring.principal} holds {held}")
    raise SealError(SealReason.NOT_RECIPIENT, f"{keyring.principal} is not among the recipients")


class KemKeyEntry(NamedTuple):
    """One ML-KEM-768 private key of a keyring and when it was current."""

    key: KemKey
    valid_from_ns: int
    retired_at_ns: int | None = None


class KemKeyring:
    """An identity's ML-KEM-768 private keys by key id: the current one and every retired
    one, kept to open what was sealed to them before a rotation."""

    def __init__(self, principal: str, entries: Iterable[KemKeyEntry]) -> None:
        self.principal = principal
        self._entries: dict[str, KemKeyEntry] = {}
        for entry in entries:
            if entry.key.key_id in self._entries:
                raise InvalidInput("keyring.key_id", entry.key.key_id, "listed twice")
            self._entries[entry.key.key_id] = entry
        current = [e for e in self._entries.values() if e.retired_at_ns is None]
        if len(current) != 1:
            raise InvalidInput("keyring", principal, f"needs one current key, has {len(current)}")
        self._current = current[0]

    @classmethod
    def of(cls, identity: AgentIdentity, valid_from_ns: int | None = None) -> KemKeyring:
        """A keyring of the identity's ML-KEM-768 key, current since valid_from_ns (by
        default its creation; pass the registry's `valid_from_ns` when it differs)."""
        since = identity.created_ns if valid_from_ns is None else valid_from_ns
        return cls(identity.principal, [KemKeyEntry(identity.mlkem768, since)])

    @property
    def current(self) -> KemKeyEntry:
        return self._current

    def get(self, key_id: str) -> KemKey | None:
        entry = self._entries.get(key_id)
        return None if entry is None else entry.key

    def key_ids(self) -> list[str]:
        return list(self._entries)

    def entries(self) -> list[KemKeyEntry]:
        return list(self._entries.values())

    def rotate(self, new_key: KemKey, at_ns: int) -> PublicKey:
        """Make new_key current from at_ns, retire the old one at at_ns (kept); the public
        key to register (`KeyRegistry.rotate(name, [key], at_ns)`)."""
        old = self._current
        if at_ns < old.valid_from_ns:
            raise InvalidInput("at_ns", at_ns, f"before the current key ({old.valid_from_ns})")
        if new_key.key_id in self._entries:
            raise InvalidInput("keyring.key_id", new_key.key_id, "already in the keyring")
        self._entries[old.key.key_id] = old._replace(retired_at_ns=at_ns)
        self._current = self._entries[new_key.key_id] = KemKeyEntry(new_key, at_ns)
        return _public(self._current)

    def public_key(self) -> PublicKey:
        """The current key as the registry holds it."""
        return _public(self._current)

    def __repr__(self) -> str:  # never print key material
        current = self._current.key.key_id
        return f"KemKeyring({self.principal}, current={current}, keys={len(self._entries)})"


def _public(entry: KemKeyEntry) -> PublicKey:
    return PublicKey(
        key_id=entry.key.key_id,
        algorithm=Algorithm.MLKEM768,
        public_key=entry.key.public_key_bytes(),
        valid_from_ns=entry.valid_from_ns,
        retired_at_ns=entry.retired_at_ns,
    )


def rotate_if_due(
    keyring: KemKeyring,
    now_ns: int,
    *,
    rotation_s: int,
    generate: Callable[[], KemKey] = KemKey.generate,
) -> PublicKey | None:
    """Rotate keyring's ML-KEM-768 key when it has been current rotation_s or longer: the
    new public key to register (valid from now_ns), or None when not yet due."""
    if now_ns - keyring.current.valid_from_ns < rotation_s * 1_000_000_000:
        return None
    return keyring.rotate(generate(), now_ns)


def recipients_for(registry: KeyRegistry, roles: Iterable[str], at_ns: int) -> list[KemRecipient]:
    """The ML-KEM-768 keys valid at at_ns of every identity of each role, roles in sorted
    order; SealError NO_RECIPIENTS when a role has none (so nothing is sealed it cannot read)."""
    found: list[KemRecipient] = []
    for role in sorted(set(roles)):
        keys = registry.current_kem_keys(role, at_ns)
        if not keys:
            raise SealError(SealReason.NO_RECIPIENTS, f"no {role} holds a KEM key valid at {at_ns}")
        found += [KemRecipient(owner.principal, key) for owner, key in keys]
    return found


def _roles(*roles: str) -> frozenset[str]:
    return frozenset((AUDIT_LOG_ROLE, *roles))


#: Who reads each confidential type: its subscribers (risk/, execution/, oversight/,
#: compliance/, agents/strategy_host.py) and the audit log, which records every message.
DEFAULT_RECIPIENTS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "TradeIntent": _roles("risk-manager"),
        "RiskDecision": _roles("order-executor", "trading-agent"),
        "OversightRequested": _roles("oversight-desk"),
        "OversightDecided": _roles("risk-manager"),
        "OrderUpdated": _roles("risk-manager", "trading-agent"),
        "FillReceived": _roles("trading-agent", "compliance-agent"),
        "ExecutionRejected": _roles(),
    }
)
CONFIDENTIAL: frozenset[str] = frozenset(DEFAULT_RECIPIENTS)


class SealingPolicy(ConfigBase, frozen=True):
    """Which message types are sealed, for which roles, and how often KEM keys rotate.

    `recipients` overrides the default roles per type, e.g. {"FillReceived":
    ["trading-agent", "audit-log"]}; every confidential type's roles must include the
    audit log. `rotation_s`: a key this many seconds old is replaced (24 h by default).
    """

    types: frozenset[str] = CONFIDENTIAL
    recipients: dict[str, frozenset[str]] = msgspec.field(default_factory=dict)
    rotation_s: int = 86_400

    def __post_init__(self) -> None:
        for name in self.types:
            if name not in MESSAGE_TYPES:
                raise InvalidInput(
                    "sealing.types", name, f"unknown message type; use {sorted(MESSAGE_TYPES)}"
                )
        for name in self.recipients:
            if name not in self.types:
                raise InvalidInput(
                    "sealing.recipients", name, "not a sealed type; add it to sealing.types"
                )
        for name in sorted(self.types):
            _check_roles(f"sealing.recipients.{name}", self.recipients_of(name))
        if isinstance(self.rotation_s, bool) or self.rotation_s <= 0:
            raise InvalidInput("sealing.rotation_s", self.rotation_s, "must be a whole number > 0")

    def seals(self, type_name: str) -> bool:
        return type_name in self.types

    def recipients_of(self, type_name: str) -> frozenset[str]:
        """The roles a sealed type is sealed to (empty for a type not sealed)."""
        if type_name not in self.types:
            return frozenset()
        return self.recipients.get(type_name, DEFAULT_RECIPIENTS.get(type_name, frozenset()))


def _check_roles(field: str, roles: frozenset[str]) -> None:
    if not roles:
        raise InvalidInput(field, sorted(roles), "a sealed type needs its recipient roles")
    for role in roles:
        if not role or ":" in role or role != role.strip():
            raise InvalidInput(field, role, "a role name: non-empty, no ':' or spaces around")
    if AUDIT_LOG_ROLE not in roles:
        raise InvalidInput(
            field, sorted(roles), f"must include {AUDIT_LOG_ROLE}: the log records every message"
        )
