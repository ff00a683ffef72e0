"""Every way to get a burst-signed envelope past `verify_envelope` that we could think of,
each refused with its own reason, whether or not the verifier already trusts the root."""

from __future__ import annotations

import hashlib
import random

import pytest

from burst_kit import ATTACKS, Attack, block_of, risk_scene
from signed_kit import RISK, TRADER, keys_for
from tradeswarm.crypto import (
    EnvelopeVerifier,
    RejectReason,
    SignatureInvalid,
    SigningPolicy,
    verify_envelope,
)
from tradeswarm.crypto.merkle import hash_leaf, hash_node, root_from_inclusion_proof, tree_paths
from tradeswarm.model.envelope import Envelope

KEYS = keys_for()


def _scene():  # type: ignore[no-untyped-def]
    return risk_scene(KEYS[str(RISK)], KEYS[str(TRADER)])


def _refusal(attack: Attack, verifier: EnvelopeVerifier | None = None) -> RejectReason:
    scene = _scene()
    forged = attack.forge(scene)
    if attack.change is not None:
        attack.change(scene)
    with pytest.raises(SignatureInvalid) as err:
        if verifier is None:
            verify_envelope(forged, scene.registry, attack.policy)
        else:
            verifier.registry, verifier.policy = scene.registry, attack.policy
            verifier.verify(forged)
    return err.value.reason


@pytest.mark.parametrize("attack", ATTACKS, ids=str)
def test_the_attack_is_refused_with_its_reason(attack: Attack) -> None:
    assert _refusal(attack) is attack.reason


@pytest.mark.parametrize("attack", ATTACKS, ids=str)
def test_the_attack_is_refused_by_a_verifier_that_already_trusts_the_root(
    attack: Attack,
) -> None:
    """The genuine bursts the attacks start from were verified first: their roots are
    remembered, and still nothing forged gets through."""
    scene = _scene()
    verifier = EnvelopeVerifier(scene.registry, SigningPolicy())
    for env in [*scene.burst(), *scene.burst(5), *scene.burst(4, first=100)]:
        verifier.verify(env)
    assert verifier.roots.checked == 3
    assert _refusal(attack, verifier) is attack.reason


def test_the_genuine_bursts_behind_the_attacks_verify() -> None:
    """The attacks differ from these only in what they forge."""
    scene = _scene()
    for env in [*scene.burst(), *scene.burst(5), *scene.burst(4, first=100)]:
        assert verify_envelope(env, scene.registry, SigningPolicy()).burst_size in (4, 5)


def test_an_interior_node_cannot_pass_for_a_leaf() -> None:
    """The second-preimage attack RFC 9162's prefixes stop: the two children of a node,
    presented as one entry of a smaller tree, hash to another leaf."""
    leaves = [hash_leaf(bytes([i])) for i in range(4)]
    root, _ = tree_paths(leaves)
    left, right = hash_node(leaves[0], leaves[1]), hash_node(leaves[2], leaves[3])
    assert hash_node(left, right) == root
    as_leaf = hash_leaf(leaves[0] + leaves[1])
    assert as_leaf != left
    assert root_from_inclusion_proof(as_leaf, 0, 2, [right]) != root
    assert hashlib.sha256(b"\x01" + leaves[0] + leaves[1]).digest() == left


def test_the_attacks_cover_what_the_format_binds() -> None:
    """Each field of the block, and the verifier's every refusal of a burst, is attacked."""
    reasons = {a.reason for a in ATTACKS}
    assert reasons >= {
        RejectReason.BAD_PROOF,
        RejectReason.BAD_SIGNATURE,
        RejectReason.WRONG_SENDER,
        RejectReason.WRONG_CONTEXT,
        RejectReason.WRONG_ALGORITHM,
        RejectReason.RETIRED,
        RejectReason.REVOKED,
        RejectReason.NOT_BURSTABLE,
        RejectReason.MALFORMED,
    }
    block = block_of(_scene().burst()[0])
    assert set(block.__struct_fields__) == {
        "version",
        "alg",
        "key_id",
        "sig",
        "root",
        "size",
        "index",
        "path",
        "types",
        "first_ns",
        "last_ns",
    }


def _verdicts(results: list[object]) -> list[object]:
    return [r.reason if isinstance(r, SignatureInvalid) else r for r in results]


def _one_by_one(verifier: EnvelopeVerifier, envs: list[Envelope]) -> list[object]:
    out: list[object] = []
    for env in envs:
        try:
            out.append(verifier.verify(env))
        except SignatureInvalid as err:
            out.append(err.reason)
    return out


@pytest.mark.parametrize("attack", ATTACKS, ids=str)
def test_verify_many_says_what_verify_says_of_a_forgery_among_whole_bursts(
    attack: Attack,
) -> None:
    """A whole burst is placed in its tree at once; a forgery beside it, or in place of
    one of its members, changes the verdict of no genuine member."""
    scene = _scene()
    forged = attack.forge(scene)
    if attack.change is not None:
        attack.change(scene)
    genuine = scene.burst()
    for i in range(len(genuine)):
        batch = [*genuine[:i], forged, *genuine[i + 1 :], *scene.burst(5), forged]
        many = EnvelopeVerifier(scene.registry, attack.policy).verify_many(batch)
        alone = _one_by_one(EnvelopeVerifier(scene.registry, attack.policy), batch)
        assert _verdicts(many) == alone
        assert alone[i] is attack.reason


def test_verify_many_of_shuffled_partial_and_repeated_bursts_says_what_verify_says() -> None:
    scene = _scene()
    bursts = [scene.burst(n, first=100 * n) for n in (2, 3, 7, 16)]
    rng = random.Random(9162)
    for _ in range(40):
        batch = [e for b in bursts for e in b if rng.random() < 0.8]
        batch += rng.sample(batch, k=min(3, len(batch)))  # a few twice
        if rng.random() < 0.5:
            batch.append(scene.alter(rng.choice(batch)))
        rng.shuffle(batch)
        many = EnvelopeVerifier(scene.registry).verify_many(batch)
        assert _verdicts(many) == _one_by_one(EnvelopeVerifier(scene.registry), batch)


def test_a_verifier_is_the_risk_managers_burst_verifier() -> None:
    """`RiskManager(verifier=...)` calls it with a burst and takes a verdict per envelope."""
    scene = _scene()
    verifier = EnvelopeVerifier(scene.registry, SigningPolicy())
    burst = scene.burst(8)
    results = verifier(burst)
    assert [r.burst_size for r in results if not isinstance(r, SignatureInvalid)] == [8] * 8
    assert (verifier.roots.checked, verifier.roots.hits) == (1, 7)
