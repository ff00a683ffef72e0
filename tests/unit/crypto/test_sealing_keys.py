"""Sealing keys and policy: rotation keeps old boxes readable, senders never pick a retired
key, and the policy refuses bad config naming the field."""

from __future__ import annotations

import msgspec
import pytest

from tradeswarm.bus.topics import ALL_TOPICS, Role
from tradeswarm.core.config import convert_config
from tradeswarm.core.errors import ConfigurationError, InvalidInput
from tradeswarm.crypto.identity import AgentIdentity
from tradeswarm.crypto.keys import KemKey
from tradeswarm.crypto.registry import KeyRegistry
from tradeswarm.crypto.sealing import (
    CONFIDENTIAL,
    DEFAULT_RECIPIENTS,
    KemKeyEntry,
    KemKeyring,
    SealError,
    SealingPolicy,
    SealReason,
    open_sealed,
    read_box,
    recipients_for,
    rotate_if_due,
    seal,
)

S = 1_000_000_000
DAY_NS = 86_400 * S
T0 = 1_000 * S
TOPIC = "trading.execution.fill"
SENDER = "order-executor:order-executor-01"


def _world() -> tuple[KeyRegistry, AgentIdentity, KemKeyring]:
    trader = AgentIdentity.from_seed("trading-agent-01", "trading-agent", b"t" * 16, T0)
    audit = AgentIdentity.from_seed("audit-log-01", "audit-log", b"a" * 16, T0)
    return KeyRegistry([trader.public(), audit.public()]), trader, KemKeyring.of(trader)


def _seal_at(registry: KeyRegistry, at_ns: int, text: bytes) -> bytes:
    roles = DEFAULT_RECIPIENTS["FillReceived"] - {"compliance-agent"}
    recipients = recipients_for(registry, roles, at_ns)
    return seal(text, sender=SENDER, topic=TOPIC, recipients=recipients)


def _sealed_to(box: bytes, principal: str) -> str:
    return next(r.key_id for r in read_box(box).recipients if r.principal == principal)


def test_a_key_is_not_rotated_before_rotation_s_and_is_at_it() -> None:
    _, _, keyring = _world()
    assert rotate_if_due(keyring, T0 + DAY_NS - 1, rotation_s=86_400) is None
    old = keyring.current.key.key_id
    new = rotate_if_due(keyring, T0 + DAY_NS, rotation_s=86_400)
    assert new is not None and new.key_id == keyring.current.key.key_id != old
    assert (new.valid_from_ns, new.retired_at_ns, new.algorithm) == (
        T0 + DAY_NS,
        None,
        "ml-kem-768",
    )
    assert keyring.key_ids() == [old, new.key_id]
    assert [e.retired_at_ns for e in keyring.entries()] == [T0 + DAY_NS, None]
    assert rotate_if_due(keyring, T0 + 2 * DAY_NS - 1, rotation_s=86_400) is None


def test_a_keyring_counts_age_from_the_registered_valid_from() -> None:
    _, trader, _ = _world()
    keyring = KemKeyring.of(trader, valid_from_ns=T0 + DAY_NS)
    assert keyring.public_key().valid_from_ns == T0 + DAY_NS
    assert rotate_if_due(keyring, T0 + DAY_NS + 3_600 * S, rotation_s=7_200) is None
    assert rotate_if_due(keyring, T0 + DAY_NS + 7_200 * S, rotation_s=7_200) is not None


def test_boxes_sealed_before_a_rotation_open_with_the_retired_key_after_it() -> None:
    registry, trader, keyring = _world()
    before = _seal_at(registry, T0 + 5, b"before")
    rotated_at = T0 + DAY_NS
    new = rotate_if_due(keyring, rotated_at, rotation_s=86_400, generate=KemKey.generate)
    assert new is not None
    registry.rotate(trader.name, [new], rotated_at)
    after = _seal_at(registry, rotated_at, b"after")
    assert _sealed_to(before, trader.principal) == trader.mlkem768.key_id
    assert _sealed_to(after, trader.principal) == new.key_id
    assert open_sealed(before, topic=TOPIC, keyring=keyring) == b"before"
    assert open_sealed(after, topic=TOPIC, keyring=keyring) == b"after"
    stale = KemKeyring.of(trader)  # a copy of the keyring from before the rotation
    with pytest.raises(SealError) as err:
        open_sealed(after, topic=TOPIC, keyring=stale)
    assert err.value.reason is SealReason.UNKNOWN_KEY


def test_the_sender_never_picks_a_retired_not_yet_valid_or_revoked_key() -> None:
    registry, trader, keyring = _world()
    at = T0 + DAY_NS
    new = keyring.rotate(KemKey.generate(), at)
    registry.rotate(trader.name, [new], at)
    kem = {
        t: [k.key.key_id for k in registry.current_kem_keys("trading-agent", t)]
        for t in (T0 - 1, T0, at - 1, at, at + 10 * DAY_NS)
    }
    old = trader.mlkem768.key_id
    assert kem == {
        T0 - 1: [],
        T0: [old],
        at - 1: [old],
        at: [new.key_id],
        at + 10 * DAY_NS: [new.key_id],
    }
    registry.revoke(trader.name, at + 5)
    assert registry.current_kem_keys("trading-agent", at + 5) == []
    with pytest.raises(SealError) as err:
        recipients_for(registry, ["trading-agent", "audit-log"], at + 5)
    assert err.value.reason is SealReason.NO_RECIPIENTS


def test_every_identity_of_a_role_is_sealed_to_and_only_kem_keys() -> None:
    registry, _, _ = _world()
    second = AgentIdentity.from_seed("trading-agent-02", "trading-agent", b"u" * 16, T0)
    registry.register(second.public())
    found = registry.current_kem_keys("trading-agent", T0)
    assert [(o.name, k.algorithm) for o, k in found] == [
        ("trading-agent-01", "ml-kem-768"),
        ("trading-agent-02", "ml-kem-768"),
    ]
    assert registry.current_kem_keys("risk-manager", T0) == []
    assert [r.principal for r in recipients_for(registry, ["trading-agent", "audit-log"], T0)] == [
        "audit-log:audit-log-01",
        "trading-agent:trading-agent-01",
        "trading-agent:trading-agent-02",
    ]


def test_a_keyring_refuses_going_back_in_time_a_repeated_key_and_two_current_keys() -> None:
    _, trader, keyring = _world()
    with pytest.raises(InvalidInput, match="at_ns"):
        keyring.rotate(KemKey.generate(), T0 - 1)
    with pytest.raises(InvalidInput, match="already in the keyring"):
        keyring.rotate(trader.mlkem768, T0 + 1)
    two = [KemKeyEntry(KemKey.generate(), T0), KemKeyEntry(KemKey.generate(), T0)]
    with pytest.raises(InvalidInput, match="one current key"):
        KemKeyring(trader.principal, two)
    assert "seed" not in repr(keyring) and trader.mlkem768.seed_bytes().hex() not in repr(keyring)


# -- the policy


def test_the_default_policy_seals_the_confidential_types_for_their_subscribers_and_the_log() -> (
    None
):
    policy = SealingPolicy()
    assert policy.rotation_s == 86_400
    assert (
        policy.types
        == CONFIDENTIAL
        == {
            "TradeIntent",
            "RiskDecision",
            "OversightRequested",
            "OversightDecided",
            "OrderUpdated",
            "FillReceived",
            "ExecutionRejected",
        }
    )
    assert policy.recipients_of("TradeIntent") == {"risk-manager", "audit-log"}
    assert policy.recipients_of("RiskDecision") == {"order-executor", "trading-agent", "audit-log"}
    assert policy.recipients_of("MarketSignal") == frozenset() and not policy.seals("MarketSignal")
    roles = {r.value for r in Role}
    for name in CONFIDENTIAL:
        assert Role.AUDIT_LOG in policy.recipients_of(name) <= roles
    assert {t.message_type.__name__ for t in ALL_TOPICS} >= CONFIDENTIAL


def test_the_policy_takes_overrides_from_config() -> None:
    raw = {"types": ["FillReceived"], "recipients": {"FillReceived": ["audit-log"]}}
    policy = convert_config(raw, SealingPolicy, "sealing")
    assert policy.recipients_of("FillReceived") == {"audit-log"}
    assert not policy.seals("TradeIntent")


@pytest.mark.parametrize(
    ("raw", "field", "value"),
    [
        ({"types": ["TradeIntnet"]}, "sealing.types", "TradeIntnet"),
        ({"types": ["MarketSignal"]}, "sealing.recipients.MarketSignal", []),
        (
            {"types": ["FillReceived"], "recipients": {"TradeIntent": ["audit-log"]}},
            "sealing.recipients",
            "TradeIntent",
        ),
        (
            {"recipients": {"TradeIntent": ["risk-manager"]}},
            "sealing.recipients.TradeIntent",
            ["risk-manager"],
        ),
        ({"recipients": {"TradeIntent": []}}, "sealing.recipients.TradeIntent", []),
        (
            {"recipients": {"TradeIntent": ["audit-log", "risk:x"]}},
            "sealing.recipients.TradeIntent",
            "risk:x",
        ),
        ({"rotation_s": 0}, "sealing.rotation_s", 0),
    ],
)
def test_bad_policy_values_are_refused_naming_field_and_value(
    raw: dict[str, object], field: str, value: object
) -> None:
    with pytest.raises(InvalidInput) as err:
        convert_config(raw, SealingPolicy, "sealing")
    assert (err.value.field, err.value.value) == (field, value)


def test_unknown_policy_keys_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="rotation_secs"):
        convert_config({"rotation_secs": 5}, SealingPolicy, "sealing")
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"rotation_secs": 5}, SealingPolicy)
