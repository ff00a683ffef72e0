"""Burst signatures (crypto.burst): the documented format rebuilt by hand, the round trip
member by member, one root signature checked once, and the policy that governs them."""

from __future__ import annotations

import hashlib

import msgspec
import pytest

from burst_kit import block_of, identity, intents, reblocked
from tradeswarm.core.errors import ConfigurationError, InvalidInput, TradeswarmError
from tradeswarm.crypto import (
    Algorithm,
    EnvelopeVerifier,
    KeyRegistry,
    RejectReason,
    RootCache,
    SignatureInvalid,
    SigningPolicy,
    sign_burst,
    sign_envelope,
    verify,
    verify_envelope,
)
from tradeswarm.crypto.burst import whole_bursts
from tradeswarm.crypto.contexts import PER_MESSAGE
from tradeswarm.model.envelope import Envelope, decode_envelope, encode_envelope, signing_bytes
from tradeswarm.testkit import T0

ALICE = identity()
REGISTRY = KeyRegistry([ALICE.public(), identity("trading-agent-02").public()])


def _mth(leaves: list[bytes]) -> bytes:
    """RFC 9162 MTH over leaf hashes, as the RFC writes it (the test's own oracle)."""
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + _mth(leaves[:k]) + _mth(leaves[k:])).digest()


def test_the_root_signature_is_over_the_documented_statement() -> None:
    envs = intents(5)
    signed = sign_burst(envs, ALICE.ed25519)
    leaves = [
        hashlib.sha256(b"\x00tradeswarm/v1/TradeIntent\x00" + signing_bytes(e)).digest()
        for e in envs
    ]
    root = _mth(leaves)
    raw = msgspec.msgpack.decode(signed[3].signature or b"")
    version, alg, key_id, sig, got_root, size, index, path, types, first, last = raw
    assert (version, alg, key_id, size, index) == (2, "ed25519", ALICE.ed25519.key_id, 5, 3)
    assert (got_root, types, first, last) == (root, ["TradeIntent"], T0, T0)
    statement = msgspec.msgpack.encode(
        [envs[0].sender, alg, key_id, types, size, first, last, root]
    )
    message = b"tradeswarm/v1/burst-root\x00" + statement
    assert verify(Algorithm.ED25519, ALICE.ed25519.public_key_bytes(), sig, message)
    assert len(path) == 3 and all(len(h) == 32 for h in path)


@pytest.mark.parametrize("n", [2, 3, 10, 100])
def test_a_burst_verifies_member_by_member_on_its_own(n: int) -> None:
    signed = sign_burst(intents(n), ALICE.ed25519)
    for env in signed:
        wire = encode_envelope(env)  # what the log stores: nothing else travels with it
        got = verify_envelope(decode_envelope(wire), REGISTRY, SigningPolicy())
        assert (got.principal, got.burst_size, got.algorithm) == (
            ALICE.principal,
            n,
            Algorithm.ED25519,
        )
    assert len({block_of(e).sig for e in signed}) == 1
    assert [block_of(e).index for e in signed] == list(range(n))


def test_the_members_are_the_envelopes_unchanged_but_for_the_signature_slot() -> None:
    envs = intents(4)
    signed = sign_burst(envs, ALICE.ed25519)
    assert [signing_bytes(e) for e in signed] == [signing_bytes(e) for e in envs]


def test_an_ml_dsa_burst_verifies_under_a_policy_that_wants_ml_dsa() -> None:
    policy = SigningPolicy(algorithms={"TradeIntent": Algorithm.MLDSA87})
    signed = sign_burst(intents(3), ALICE.mldsa87)
    assert {verify_envelope(e, REGISTRY, policy).algorithm for e in signed} == {Algorithm.MLDSA87}


def test_a_verifier_checks_each_root_signature_once() -> None:
    first, second = (
        sign_burst(intents(50), ALICE.ed25519),
        sign_burst(intents(30, first=50), ALICE.ed25519),
    )
    verifier = EnvelopeVerifier(REGISTRY, SigningPolicy())
    for env in first + second:
        verifier.verify(env)
    assert (verifier.roots.checked, verifier.roots.hits, len(verifier.roots)) == (2, 78, 2)


def test_a_remembered_root_still_checks_every_envelope() -> None:
    """The memory saves the signature check only: a member whose path is wrong, or whose
    key was revoked before its time, is refused after its root was verified."""
    signed = sign_burst(intents(4), ALICE.ed25519)
    registry = KeyRegistry([ALICE.public()])
    verifier = EnvelopeVerifier(registry)
    verifier.verify(signed[0])
    altered = msgspec.structs.replace(signed[1], idempotency_key="other")
    with pytest.raises(SignatureInvalid) as err:
        verifier.verify(altered)
    assert err.value.reason is RejectReason.BAD_PROOF
    registry.revoke(ALICE.name, at_ns=T0)
    with pytest.raises(SignatureInvalid) as err:
        verifier.verify(signed[2])
    assert err.value.reason is RejectReason.REVOKED


def test_a_failed_root_signature_is_not_remembered() -> None:
    signed = sign_burst(intents(3), ALICE.ed25519)
    cache = RootCache(8)
    key = ALICE.ed25519.public_key_bytes()
    assert not cache.verify(Algorithm.ED25519, key, b"statement", bytes(64))
    assert not cache.verify(Algorithm.ED25519, key, b"statement", bytes(64))
    assert (cache.checked, cache.hits, len(cache)) == (0, 0, 0)
    verify_envelope(signed[0], REGISTRY, roots=cache)
    assert (cache.checked, len(cache)) == (1, 1)


def test_the_root_memory_is_bounded_least_recently_used_first() -> None:
    bursts = [sign_burst(intents(2, first=10 * i), ALICE.ed25519) for i in range(3)]
    verifier = EnvelopeVerifier(REGISTRY, max_roots=2)
    verifier.verify(bursts[0][0])
    verifier.verify(bursts[1][0])
    verifier.verify(bursts[0][1])  # burst 0 used again: burst 1 is now the oldest
    verifier.verify(bursts[2][0])  # evicts burst 1
    assert (verifier.roots.checked, verifier.roots.hits, len(verifier.roots)) == (3, 1, 2)
    verifier.verify(bursts[0][0])
    verifier.verify(bursts[1][1])
    assert (verifier.roots.checked, verifier.roots.hits) == (4, 2)


@pytest.mark.parametrize("bad", [0, -1, 2.5, "10"])
def test_a_root_memory_of_no_size_is_refused_naming_the_value(bad: object) -> None:
    with pytest.raises(InvalidInput, match="max_roots") as err:
        RootCache(bad)  # type: ignore[arg-type]
    assert repr(bad) in str(err.value) or str(bad) in str(err.value)


def test_a_burst_needs_two_envelopes_of_one_sender() -> None:
    with pytest.raises(InvalidInput, match="two envelopes or more"):
        sign_burst(intents(1), ALICE.ed25519)
    mixed = intents(2) + intents(1, sender="trading-agent:trading-agent-02", first=5)
    with pytest.raises(InvalidInput, match="trading-agent:trading-agent-02"):
        sign_burst(mixed, ALICE.ed25519)


def test_a_burst_spans_the_times_and_types_of_its_members() -> None:
    envs = intents(2, ts=T0) + intents(2, ts=T0 + 7, first=2)
    block = block_of(sign_burst(envs, ALICE.ed25519)[0])
    assert (block.first_ns, block.last_ns, block.types) == (T0, T0 + 7, ["TradeIntent"])


def test_the_per_message_policy_names_unknown_types() -> None:
    with pytest.raises(ConfigurationError, match=r"signing\.per_message_types") as err:
        SigningPolicy(per_message_types=frozenset({"OversightDecidd"}))
    assert "OversightDecidd" in str(err.value)
    with pytest.raises(ConfigurationError, match=r"signing\.algorithms"):
        SigningPolicy(algorithms={"Nope": Algorithm.ED25519})
    policy = SigningPolicy(per_message_types=frozenset({"OversightDecided"}))
    assert not policy.may_burst("OversightDecided") and policy.may_burst("TradeIntent")
    assert not any(SigningPolicy(per_message_types=PER_MESSAGE).may_burst(t) for t in PER_MESSAGE)


def test_a_per_message_signature_still_verifies_under_a_burst_policy() -> None:
    env = sign_envelope(intents(1)[0], ALICE.ed25519)
    assert verify_envelope(env, REGISTRY, SigningPolicy()).burst_size is None


def test_every_flipped_byte_of_a_burst_signed_envelope_is_detected() -> None:
    original = sign_burst(intents(8), ALICE.ed25519)[5]
    wire = encode_envelope(original)
    detected = harmless = 0
    for i in range(len(wire)):
        tampered = bytearray(wire)
        tampered[i] ^= 0x01
        try:
            verify_envelope(decode_envelope(bytes(tampered)), REGISTRY, SigningPolicy())
        except (msgspec.DecodeError, msgspec.ValidationError, TradeswarmError, ValueError):
            detected += 1
            continue
        env = decode_envelope(bytes(tampered))
        assert env == original, f"byte {i} changed the envelope and still verified"
        harmless += 1
    assert detected + harmless == len(wire)
    assert detected > 0.9 * len(wire)


def _whole(envs: list[Envelope]) -> list[bytes | None]:
    return whole_bursts([(e, block_of(e)) for e in envs])


def test_a_whole_burst_is_placed_in_its_tree_at_once_and_only_then() -> None:
    signed = sign_burst(intents(6), ALICE.ed25519)
    root = block_of(signed[0]).root
    assert _whole(signed[::-1]) == [root] * 6  # any order
    assert _whole(signed[:5]) == [None] * 5  # one missing: each member checked alone
    assert _whole([*signed, signed[2]]) == [None] * 7  # one twice
    altered = msgspec.structs.replace(signed[4], idempotency_key="forged")
    assert _whole([*signed[:4], altered, signed[5]]) == [None] * 6  # not what was signed
    bent = reblocked(signed[1], path=[bytes(32), *block_of(signed[1]).path[1:]])
    assert _whole([signed[0], bent, *signed[2:]]) == [root, None, root, root, root, root]
