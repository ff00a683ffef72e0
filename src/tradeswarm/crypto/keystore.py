"""Private keys encrypted at rest: one file per identity in a keystore directory.

Envelope encryption: each identity file holds its key seeds encrypted with AES-256-GCM
under a fresh 32-byte data key; the data key is wrapped by a `KeyProvider`. The default
provider derives a key-encryption key from a passphrase with scrypt (parameters and salt
recorded in `keystore.json`, so one scrypt per keystore open, not per identity); a KMS
plugs in as another provider (wrap/unwrap a data key). The AES-GCM associated data binds
each file to its identity's name, role and creation time, so files cannot be swapped.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

import msgspec
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from tradeswarm.core.errors import ConfigurationError
from tradeswarm.crypto.identity import AgentIdentity, check_name
from tradeswarm.crypto.keys import Ed25519Signer, KemKey, MLDSA87Signer

FORMAT = "tradeswarm-keystore/v1"
META_FILE = "keystore.json"
KEY_SUFFIX = ".key"
_CHECK = b"tradeswarm keystore passphrase check"


class KeystoreError(ConfigurationError):
    """The keystore cannot be opened or a key cannot be read; nothing was changed."""


class WrongPassphrase(KeystoreError):
    """The passphrase (or KMS key) does not open this keystore."""


class KeyProvider(Protocol):
    """Wraps and unwraps data keys: a passphrase-derived key, or a KMS."""

    @property
    def provider_id(self) -> str: ...

    def wrap(self, data_key: bytes, aad: bytes) -> bytes: ...

    def unwrap(self, wrapped: bytes, aad: bytes) -> bytes:
        """The data key; raise WrongPassphrase when it cannot be unwrapped."""
        ...


DEFAULT_SCRYPT_N = 2**17
MIN_SCRYPT_N = 2**12


class ScryptParams(msgspec.Struct, frozen=True, kw_only=True):
    """scrypt cost (OWASP minimum: n=2**17, r=8, p=1) and the keystore's salt."""

    salt: bytes
    n: int = DEFAULT_SCRYPT_N
    r: int = 8
    p: int = 1

    def __post_init__(self) -> None:
        if self.n < MIN_SCRYPT_N or self.n & (self.n - 1):
            raise KeystoreError("scrypt.n", self.n, f"must be a power of 2, >= {MIN_SCRYPT_N}")
        if len(self.salt) < 16 or self.r < 1 or self.p < 1:
            raise KeystoreError("scrypt", (len(self.salt), self.r, self.p), "salt>=16 B, r,p>=1")


def _seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(12)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def _open(key: bytes, sealed: bytes, aad: bytes) -> bytes:
    try:
        return AESGCM(key).decrypt(sealed[:12], sealed[12:], aad)
    except InvalidTag as err:
        raise WrongPassphrase("passphrase", "<hidden>", "does not open this keystore") from err


class PassphraseProvider:
    """A key-encryption key derived from a passphrase with scrypt; AES-256-GCM wrapping."""

    provider_id = "scrypt+aes-256-gcm"

    def __init__(self, passphrase: str, params: ScryptParams) -> None:
        if not passphrase:
            raise KeystoreError("passphrase", "", "must not be empty")
        kdf = Scrypt(salt=params.salt, length=32, n=params.n, r=params.r, p=params.p)
        self._kek = kdf.derive(passphrase.encode())

    def wrap(self, data_key: bytes, aad: bytes) -> bytes:
        return _seal(self._kek, data_key, aad)

    def unwrap(self, wrapped: bytes, aad: bytes) -> bytes:
        return _open(self._kek, wrapped, aad)


class _Meta(msgspec.Struct, frozen=True, kw_only=True):
    format: str
    provider: str
    scrypt: ScryptParams | None = None
    check: bytes = b""


class _Seeds(msgspec.Struct, frozen=True, kw_only=True):
    ed25519: bytes
    mldsa87: bytes
    mlkem768: bytes


class _KeyFile(msgspec.Struct, frozen=True, kw_only=True):
    format: str
    name: str
    role: str
    created_ns: int
    provider: str
    wrapped_key: bytes
    ciphertext: bytes


_json = msgspec.json.Encoder(order="sorted")


def _aad(name: str, role: str, created_ns: int) -> bytes:
    return f"{FORMAT}\x00{name}\x00{role}\x00{created_ns}".encode()


def _write_private(path: Path, data: bytes, replace: bool) -> None:
    """Write data to path with mode 0600 (atomically through a temp file)."""
    if path.exists() and not replace:
        raise KeystoreError("name", path.stem, f"already in the keystore ({path})")
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


class Keystore:
    """A directory of encrypted identity files opened with one key provider."""

    def __init__(self, directory: Path, provider: KeyProvider) -> None:
        self.directory = directory
        self.provider = provider

    def path_for(self, name: str) -> Path:
        return self.directory / f"{check_name(name)}{KEY_SUFFIX}"

    def save(self, identity: AgentIdentity, replace: bool = False) -> Path:
        """Encrypt identity's private keys into its file (0600); refuse to overwrite
        unless replace (rotation)."""
        aad = _aad(identity.name, identity.role, identity.created_ns)
        data_key = AESGCM.generate_key(bit_length=256)
        seeds = _Seeds(
            ed25519=identity.ed25519.seed_bytes(),
            mldsa87=identity.mldsa87.seed_bytes(),
            mlkem768=identity.mlkem768.seed_bytes(),
        )
        record = _KeyFile(
            format=FORMAT,
            name=identity.name,
            role=identity.role,
            created_ns=identity.created_ns,
            provider=self.provider.provider_id,
            wrapped_key=self.provider.wrap(data_key, aad),
            ciphertext=_seal(data_key, _json.encode(seeds), aad),
        )
        path = self.path_for(identity.name)
        _write_private(path, _json.encode(record), replace)
        return path

    def load(self, name: str) -> AgentIdentity:
        """Decrypt name's keys; WrongPassphrase or KeystoreError name what failed."""
        path = self.path_for(name)
        try:
            record = msgspec.json.decode(path.read_bytes(), type=_KeyFile)
        except FileNotFoundError as err:
            raise KeystoreError("name", name, f"not in the keystore {self.directory}") from err
        except msgspec.DecodeError as err:
            raise KeystoreError(str(path), "<file>", f"not a keystore file: {err}") from err
        if record.name != name or record.format != FORMAT:
            raise KeystoreError(str(path), record.name, f"not {name}'s {FORMAT} file")
        aad = _aad(record.name, record.role, record.created_ns)
        try:
            data_key = self.provider.unwrap(record.wrapped_key, aad)
            seeds = msgspec.json.decode(_open(data_key, record.ciphertext, aad), type=_Seeds)
        except WrongPassphrase as err:
            raise WrongPassphrase(
                str(path), name, "cannot be decrypted: wrong passphrase, or the file was altered"
            ) from err
        return AgentIdentity(
            record.name,
            record.role,
            Ed25519Signer.from_seed(seeds.ed25519),
            MLDSA87Signer.from_seed(seeds.mldsa87),
            KemKey.from_seed(seeds.mlkem768),
            record.created_ns,
        )

    def names(self) -> list[str]:
        return sorted(p.name[: -len(KEY_SUFFIX)] for p in self.directory.glob(f"*{KEY_SUFFIX}"))

    def load_all(self) -> list[AgentIdentity]:
        return [self.load(name) for name in self.names()]


def open_keystore(
    directory: Path, passphrase: str, params: ScryptParams | None = None, create: bool = True
) -> Keystore:
    """Open (or, if create, make with params or the defaults) a passphrase keystore.

    A wrong passphrase raises WrongPassphrase before anything is written.
    """
    meta_path = directory / META_FILE
    if not create and not meta_path.exists():
        raise KeystoreError("keystore", str(directory), f"no keystore here ({META_FILE} missing)")
    if meta_path.exists():
        meta = _read_meta(meta_path)
        assert meta.scrypt is not None
        provider = PassphraseProvider(passphrase, meta.scrypt)
        provider.unwrap(meta.check, _CHECK)
        return Keystore(directory, provider)
    params = params or ScryptParams(salt=os.urandom(16))
    provider = PassphraseProvider(passphrase, params)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    meta = _Meta(
        format=FORMAT,
        provider=provider.provider_id,
        scrypt=params,
        check=provider.wrap(os.urandom(32), _CHECK),
    )
    _write_private(meta_path, _json.encode(meta), replace=False)
    return Keystore(directory, provider)


def _read_meta(path: Path) -> _Meta:
    try:
        meta = msgspec.json.decode(path.read_bytes(), type=_Meta)
    except msgspec.DecodeError as err:
        raise KeystoreError(str(path), "<file>", f"not a keystore: {err}") from err
    if meta.format != FORMAT or meta.scrypt is None:
        raise KeystoreError(str(path), meta.provider, f"not a passphrase {FORMAT} keystore")
    return meta
