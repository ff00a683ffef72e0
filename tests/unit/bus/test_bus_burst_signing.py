"""Burst signatures on the bus: what `BusSigning.sign_many` signs how, and the VerifyingGate
admitting a burst member by member (each root checked once) and refusing every forgery
with its reason, logged."""

from __future__ import annotations

import uuid
from pathlib import Path

import msgspec
import pytest

from burst_kit import ATTACKS, Attack, block_of, risk_scene
from signed_kit import RISK, TRADER, Recorder, keys_for
from tradeswarm.bus.inproc import InProcessBus
from tradeswarm.bus.signed import VerifyingGate
from tradeswarm.bus.signing import BusSigning
from tradeswarm.bus.topics import INTENTS, RISK_DECISIONS
from tradeswarm.core.clock import SimClock
from tradeswarm.core.errors import AccessDenied, ConfigurationError
from tradeswarm.crypto import (
    Algorithm,
    KeyRegistry,
    RejectReason,
    SignatureInvalid,
    SigningPolicy,
    decode_signature,
    sign_envelope,
    verify_envelope,
)
from tradeswarm.crypto.contexts import PER_MESSAGE
from tradeswarm.model.envelope import Envelope, encode_envelope
from tradeswarm.system.config import load_config
from tradeswarm.testkit import T0, make_decision, make_intent

KEYS = keys_for()
RISK_KEYS = KEYS[str(RISK)]


def _versions(envs: list[Envelope]) -> list[int | None]:
    return [None if e.signature is None else decode_signature(e.signature).version for e in envs]


def _decisions(n: int) -> list[Envelope]:
    return risk_scene(RISK_KEYS, KEYS[str(TRADER)]).members(n, 0)


def test_a_burst_of_one_is_signed_exactly_as_alone() -> None:
    signing = BusSigning(SigningPolicy(), [RISK_KEYS])
    [env] = _decisions(1)
    assert signing.sign_many([env], RISK_KEYS) == [signing.sign(env, RISK_KEYS)]
    assert signing.sign_many([env], RISK_KEYS)[0] == sign_envelope(env, RISK_KEYS.ed25519)
    assert _versions(signing.sign_many([env], RISK_KEYS)) == [1]


def test_a_burst_is_signed_by_one_root_per_algorithm() -> None:
    policy = SigningPolicy(algorithms={"OversightRequested": Algorithm.MLDSA87})
    scene = risk_scene(RISK_KEYS, KEYS[str(TRADER)])
    requests = [
        msgspec.structs.replace(scene.other_type(), msg_id=uuid.UUID(int=i)) for i in (1, 2)
    ]
    envs = [*scene.members(3, 0), *requests]
    signed = BusSigning(policy, [RISK_KEYS]).sign_many(envs, RISK_KEYS)
    blocks = [block_of(e) for e in signed]
    assert [(b.alg, b.size, b.index) for b in blocks] == [
        ("ed25519", 3, 0),
        ("ed25519", 3, 1),
        ("ed25519", 3, 2),
        ("ml-dsa-87", 2, 0),
        ("ml-dsa-87", 2, 1),
    ]
    assert len({b.sig for b in blocks}) == 2
    registry = KeyRegistry([RISK_KEYS.public()])
    assert all(verify_envelope(e, registry, policy) for e in signed)


def test_per_message_types_and_unsigned_types_keep_their_own_signing() -> None:
    policy = SigningPolicy(
        signed_types=frozenset({"RiskDecision", "OversightRequested"}),
        per_message_types=frozenset({"OversightRequested"}),
    )
    scene = risk_scene(RISK_KEYS, KEYS[str(TRADER)])
    intent = scene.foreign()  # not a signed type under this policy
    envs = [*scene.members(2, 0), scene.other_type(), intent]
    signed = BusSigning(policy, [RISK_KEYS]).sign_many(envs, RISK_KEYS)
    assert _versions(signed) == [2, 2, 1, None]
    assert signed[3] == intent
    everything_alone = BusSigning(SigningPolicy(per_message_types=PER_MESSAGE), [RISK_KEYS])
    assert _versions(everything_alone.sign_many(envs[:2], RISK_KEYS)) == [1, 1]


def test_a_publisher_without_keys_signs_no_burst() -> None:
    with pytest.raises(AccessDenied, match="no signing key"):
        BusSigning(SigningPolicy()).sign_many(_decisions(3), None)


# -- the receiving gate --------------------------------------------------------------


class Receiver:
    def __init__(self, registry: KeyRegistry, policy: SigningPolicy | None = None) -> None:
        self.clock = SimClock(T0)
        self.sink = Recorder()
        self.bus = InProcessBus(self.clock, sink=self.sink)
        self.gate = VerifyingGate(self.bus, registry, self.clock, policy=policy)


def _sender_bus() -> InProcessBus:
    signing = BusSigning(SigningPolicy(), KEYS.values())
    return InProcessBus(SimClock(T0), signing=signing, random_nonces=True)


def test_a_published_burst_passes_the_gate_member_by_member_one_root_check() -> None:
    sender = _sender_bus()
    intents = [
        (make_intent(intent_id=uuid.UUID(int=i), ts_event=T0), f"k{i}", None) for i in range(20)
    ]
    decisions = [
        (make_decision(decision_id=uuid.UUID(int=i), intent=p), k, c)
        for i, (p, k, c) in enumerate(intents)
    ]
    published = sender.attach(RISK).publish_many(RISK_DECISIONS, decisions)
    assert {block_of(e).size for e in published} == {20}
    rx = Receiver(KeyRegistry(k.public() for k in KEYS.values()), SigningPolicy())
    for env in published:
        assert rx.gate.receive_bytes(encode_envelope(env)) is not None
    assert rx.gate.stats.accepted == 20 and not rx.sink.rejections()
    assert (rx.gate.verifier.roots.checked, rx.gate.verifier.roots.hits) == (1, 19)
    assert rx.sink.logged == published  # logged exactly as received, burst blocks and all
    trader_burst = sender.attach(TRADER).publish_many(INTENTS, intents[:3])
    assert all(rx.gate.receive(e) is not None for e in trader_burst)


@pytest.mark.parametrize("attack", ATTACKS, ids=str)
def test_the_gate_refuses_the_attack_with_its_reason_and_logs_it(attack: Attack) -> None:
    scene = risk_scene(RISK_KEYS, KEYS[str(TRADER)])
    rx = Receiver(scene.registry, attack.policy)
    for env in scene.burst(4, first=200):  # a genuine burst first (a root the gate trusts,
        rx.gate.receive(env)  # unless the attack's policy refuses bursts of its kind)
    before = sum(rx.gate.stats.rejected.values())
    forged = attack.forge(scene)
    if attack.change is not None:
        attack.change(scene)
    assert rx.gate.receive_bytes(encode_envelope(forged)) is None
    assert sum(rx.gate.stats.rejected.values()) == before + 1
    refusal = rx.sink.rejections()[-1]
    assert (refusal.reason, refusal.msg_id) == (attack.reason.value, forged.msg_id)


def test_a_replayed_burst_member_is_refused_though_its_root_is_remembered() -> None:
    scene = risk_scene(RISK_KEYS, KEYS[str(TRADER)])
    rx = Receiver(scene.registry, SigningPolicy())
    burst = scene.burst(4)
    assert all(rx.gate.receive(env) is not None for env in burst)
    assert rx.gate.receive_bytes(encode_envelope(burst[2])) is None  # the same bytes again
    assert rx.gate.stats.rejected[RejectReason.REPLAYED] == 1
    assert rx.sink.rejections()[-1].msg_id == burst[2].msg_id
    logged = {e.msg_id for e in rx.sink.logged}
    restarted = VerifyingGate(rx.bus, scene.registry, rx.clock, logged=logged.__contains__)
    with pytest.raises(SignatureInvalid) as err:  # after a restart, the log remembers
        restarted.check(burst[0])
    assert err.value.reason is RejectReason.REPLAYED and "in the log" in err.value.detail
    assert restarted.verifier.roots.checked == 0  # refused before any signature is checked


def _config(tmp_path: Path, signing: str) -> Path:
    path = tmp_path / "swarm.toml"
    path.write_text(f"[signing]\n{signing}\n", encoding="utf-8")
    return path


def test_the_config_files_per_message_types_keep_a_signature_each(tmp_path: Path) -> None:
    path = _config(tmp_path, 'per_message_types = ["OversightRequested"]')
    policy = load_config(path).signing.policy()
    assert policy.per_message_types == {"OversightRequested"}
    assert load_config(None).signing.policy().per_message_types == frozenset()
    scene = risk_scene(RISK_KEYS, KEYS[str(TRADER)])
    requests = [
        msgspec.structs.replace(
            scene.other_type(), msg_id=uuid.UUID(int=i), nonce=bytes(15) + bytes([i])
        )
        for i in (1, 2)
    ]
    signed = BusSigning(policy, [RISK_KEYS]).sign_many([*scene.members(2, 0), *requests], RISK_KEYS)
    assert _versions(signed) == [2, 2, 1, 1]
    rx = Receiver(scene.registry, policy)
    assert all(rx.gate.receive(env) is not None for env in signed)


def test_an_unknown_per_message_type_in_the_config_file_is_refused_by_name(
    tmp_path: Path,
) -> None:
    path = _config(tmp_path, 'per_message_types = ["Fills"]')
    with pytest.raises(ConfigurationError, match=r"signing\.per_message_types.*Fills"):
        load_config(path)
