"""Keys and raw sign/verify, checked against RFC 8032 and cryptography's own verifiers."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519, mldsa, mlkem

from tradeswarm.core.errors import ConfigurationError
from tradeswarm.crypto.keys import (
    Algorithm,
    Ed25519Signer,
    KemKey,
    MLDSA87Signer,
    Signer,
    UnknownAlgorithm,
    encapsulate,
    key_id_of,
    signer_from_seed,
    verify,
)

# RFC 8032, section 7.1, TEST 1 (empty message).
RFC8032_SECRET = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC8032_PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
RFC8032_SIGNATURE = bytes.fromhex(
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
    "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
)


def test_ed25519_signer_reproduces_rfc8032_test_vector_1() -> None:
    signer = Ed25519Signer.from_seed(RFC8032_SECRET)
    assert signer.public_key_bytes() == RFC8032_PUBLIC
    assert signer.sign(b"") == RFC8032_SIGNATURE
    assert verify(Algorithm.ED25519, RFC8032_PUBLIC, RFC8032_SIGNATURE, b"")
    assert not verify(Algorithm.ED25519, RFC8032_PUBLIC, RFC8032_SIGNATURE, b"\x00")


@pytest.mark.parametrize("make", [Ed25519Signer.generate, MLDSA87Signer.generate])
def test_signatures_verify_with_cryptography_on_a_key_loaded_from_raw_bytes(make) -> None:  # type: ignore[no-untyped-def]
    signer: Signer = make()
    data = b"tradeswarm round trip"
    sig = signer.sign(data)
    raw = signer.public_key_bytes()
    if signer.algorithm is Algorithm.ED25519:
        ed25519.Ed25519PublicKey.from_public_bytes(raw).verify(sig, data)  # raises if bad
    else:
        mldsa.MLDSA87PublicKey.from_public_bytes(raw).verify(sig, data)
    assert verify(signer.algorithm, raw, sig, data)
    assert not verify(signer.algorithm, raw, sig, data + b"!")


@pytest.mark.parametrize("alg", [Algorithm.ED25519, Algorithm.MLDSA87])
def test_a_foreign_keys_signature_does_not_verify(alg: Algorithm) -> None:
    mine, theirs = signer_from_seed(alg, b"\x01" * 32), signer_from_seed(alg, b"\x02" * 32)
    sig = theirs.sign(b"order")
    assert not verify(alg, mine.public_key_bytes(), sig, b"order")


def test_cryptography_rejects_what_our_verify_rejects() -> None:
    signer = MLDSA87Signer.generate()
    sig = bytearray(signer.sign(b"m"))
    sig[100] ^= 1
    assert not verify(Algorithm.MLDSA87, signer.public_key_bytes(), bytes(sig), b"m")
    with pytest.raises(InvalidSignature):
        mldsa.MLDSA87PublicKey.from_public_bytes(signer.public_key_bytes()).verify(bytes(sig), b"m")


def test_verify_never_raises_on_garbage_but_does_on_an_unknown_algorithm() -> None:
    assert not verify(Algorithm.ED25519, b"short key", b"sig", b"data")
    assert not verify(Algorithm.MLDSA87, b"\x00" * 2592, b"\x00" * 4627, b"data")
    assert not verify("ed25519", RFC8032_PUBLIC, b"", b"")
    with pytest.raises(UnknownAlgorithm, match="rsa"):
        verify("rsa-2048", RFC8032_PUBLIC, RFC8032_SIGNATURE, b"")
    with pytest.raises(UnknownAlgorithm, match="not a signature algorithm"):
        verify(Algorithm.MLKEM768, RFC8032_PUBLIC, RFC8032_SIGNATURE, b"")


def test_key_id_is_the_sha256_prefix_of_the_raw_public_key() -> None:
    signer = Ed25519Signer.from_seed(RFC8032_SECRET)
    assert signer.key_id == hashlib.sha256(RFC8032_PUBLIC).hexdigest()[:32]
    assert key_id_of(RFC8032_PUBLIC) == signer.key_id


def test_signers_reload_from_their_seeds() -> None:
    for alg in (Algorithm.ED25519, Algorithm.MLDSA87):
        signer = signer_from_seed(alg, bytes(range(32)))
        again = signer_from_seed(alg, signer.seed_bytes())
        assert again.public_key_bytes() == signer.public_key_bytes()
    with pytest.raises(ConfigurationError, match="must be 32 bytes"):
        Ed25519Signer.from_seed(b"\x00" * 31)


def test_ml_kem_768_secret_encapsulated_to_the_public_key_decapsulates() -> None:
    kem = KemKey.generate()
    secret, ciphertext = encapsulate(kem.public_key_bytes())
    assert len(secret) == 32
    assert kem.decapsulate(ciphertext) == secret
    # oracle: cryptography's own encapsulation to the raw public key
    pub = mlkem.MLKEM768PublicKey.from_public_bytes(kem.public_key_bytes())
    other_secret, other_ct = pub.encapsulate()
    assert kem.decapsulate(other_ct) == other_secret
    assert KemKey.from_seed(kem.seed_bytes()).public_key_bytes() == kem.public_key_bytes()
