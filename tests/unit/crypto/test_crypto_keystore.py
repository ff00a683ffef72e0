"""Keystore: keys encrypted at rest, scrypt parameters recorded, wrong passphrase: no change."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from tradeswarm.crypto.identity import AgentIdentity
from tradeswarm.crypto.keystore import (
    Keystore,
    KeystoreError,
    ScryptParams,
    WrongPassphrase,
    open_keystore,
)

FAST = ScryptParams(salt=b"0123456789abcdef", n=2**12, r=8, p=1)  # tests only: cheap
PASS = "correct horse battery staple"


def _agent(name: str = "trading-agent-01") -> AgentIdentity:
    return AgentIdentity.generate(name, "trading-agent", created_ns=42)


def _secrets(identity: AgentIdentity) -> list[bytes]:
    seeds = [
        identity.ed25519.seed_bytes(),
        identity.mldsa87.seed_bytes(),
        identity.mlkem768.seed_bytes(),
    ]
    forms = []
    for seed in seeds:
        forms += [seed, seed.hex().encode(), base64.b64encode(seed), base64.b64encode(seed[:24])]
    return forms


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_keys_round_trip_and_never_appear_in_the_files(tmp_path: Path) -> None:
    store = open_keystore(tmp_path / "ks", PASS, FAST)
    agent = _agent()
    path = store.save(agent)
    loaded = open_keystore(tmp_path / "ks", PASS).load(agent.name)
    assert loaded.public() == agent.public()
    assert loaded.ed25519.sign(b"m") == agent.ed25519.sign(b"m")
    for file in (tmp_path / "ks").iterdir():
        content = file.read_bytes()
        assert not any(secret in content for secret in _secrets(agent)), file.name
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "ks" / "keystore.json").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "ks").stat().st_mode) == 0o700


def test_files_decrypt_independently_with_the_recorded_scrypt_parameters(tmp_path: Path) -> None:
    agent = _agent()
    open_keystore(tmp_path, PASS, FAST).save(agent)
    meta = json.loads((tmp_path / "keystore.json").read_text())
    params = meta["scrypt"]
    assert (params["n"], params["r"], params["p"]) == (2**12, 8, 1)
    kek = Scrypt(
        salt=base64.b64decode(params["salt"]),
        length=32,
        n=params["n"],
        r=params["r"],
        p=params["p"],
    ).derive(PASS.encode())
    record = json.loads((tmp_path / f"{agent.name}.key").read_text())
    aad = f"tradeswarm-keystore/v1\x00{agent.name}\x00trading-agent\x0042".encode()
    wrapped = base64.b64decode(record["wrapped_key"])
    data_key = AESGCM(kek).decrypt(wrapped[:12], wrapped[12:], aad)
    sealed = base64.b64decode(record["ciphertext"])
    seeds = json.loads(AESGCM(data_key).decrypt(sealed[:12], sealed[12:], aad))
    assert base64.b64decode(seeds["ed25519"]) == agent.ed25519.seed_bytes()


def test_wrong_passphrase_fails_cleanly_and_changes_nothing(tmp_path: Path) -> None:
    open_keystore(tmp_path, PASS, FAST).save(_agent())
    before = _snapshot(tmp_path)
    with pytest.raises(WrongPassphrase, match="does not open this keystore"):
        open_keystore(tmp_path, "Tr0ub4dor&3")
    assert _snapshot(tmp_path) == before


def test_a_file_copied_onto_another_name_does_not_open(tmp_path: Path) -> None:
    store = open_keystore(tmp_path, PASS, FAST)
    store.save(_agent("agent-a"))
    store.save(_agent("agent-b"))
    record = json.loads((tmp_path / "agent-a.key").read_text())
    record["name"] = "agent-b"
    (tmp_path / "agent-b.key").write_text(json.dumps(record))
    with pytest.raises(WrongPassphrase, match="the file was altered"):
        store.load("agent-b")


def test_save_refuses_to_overwrite_unless_rotating(tmp_path: Path) -> None:
    store = open_keystore(tmp_path, PASS, FAST)
    agent = _agent()
    store.save(agent)
    with pytest.raises(KeystoreError, match="already in the keystore"):
        store.save(agent)
    newer = AgentIdentity.generate(agent.name, agent.role, 99)
    store.save(newer, replace=True)
    assert store.load(agent.name).ed25519.key_id == newer.ed25519.key_id
    with pytest.raises(KeystoreError, match="not in the keystore"):
        store.load("nobody")
    with pytest.raises(KeystoreError, match="no keystore here"):
        open_keystore(tmp_path / "missing", PASS, create=False)


class InMemoryKms:
    """A stand-in KMS: a key the keystore never sees, wrapping data keys."""

    provider_id = "test-kms"

    def __init__(self) -> None:
        self._key = AESGCM.generate_key(bit_length=256)

    def wrap(self, data_key: bytes, aad: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + AESGCM(self._key).encrypt(nonce, data_key, aad)

    def unwrap(self, wrapped: bytes, aad: bytes) -> bytes:
        return AESGCM(self._key).decrypt(wrapped[:12], wrapped[12:], aad)


def test_a_kms_key_provider_plugs_in(tmp_path: Path) -> None:
    kms = InMemoryKms()
    store = Keystore(tmp_path, kms)
    agent = _agent()
    store.save(agent)
    assert json.loads((tmp_path / f"{agent.name}.key").read_text())["provider"] == "test-kms"
    assert store.load(agent.name).public() == agent.public()
