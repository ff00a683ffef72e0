"""Key registry: rotation keeps old signatures valid, revocation rejects later ones."""

from __future__ import annotations

import json
import uuid

import msgspec
import pytest

from tradeswarm.core.errors import ConfigurationError, InvalidInput
from tradeswarm.crypto import (
    AgentIdentity,
    KeyRegistry,
    KeyState,
    RejectReason,
    SignatureInvalid,
    sign_envelope,
    verify_envelope,
)
from tradeswarm.crypto.keys import Algorithm
from tradeswarm.model.envelope import Envelope
from tradeswarm.model.messages import KillSwitchActivated
from tradeswarm.testkit import make_envelope

NAME, ROLE = "risk-manager-01", "risk-manager"


def _env(ts: int) -> Envelope:
    return make_envelope(
        KillSwitchActivated(reason="drawdown", triggered_by=NAME, ts_event=ts),
        topic="system.killswitch.activated",
        sender=f"{ROLE}:{NAME}",
        ts_ns=ts,
        msg_id=uuid.UUID(int=ts),
        ttl_ms=0,
        idempotency_key=str(ts),
    )


def _reason(env: Envelope, registry: KeyRegistry) -> RejectReason:
    with pytest.raises(SignatureInvalid) as err:
        verify_envelope(env, registry)
    return err.value.reason


@pytest.fixture
def first() -> AgentIdentity:
    return AgentIdentity.from_seed(NAME, ROLE, b"first-generation-seed", created_ns=100)


def test_rotation_keeps_signatures_made_before_it_valid(first: AgentIdentity) -> None:
    registry = KeyRegistry([first.public()])
    before = sign_envelope(_env(500), first.ed25519)
    second = AgentIdentity.from_seed(NAME, ROLE, b"second-generation-seed", created_ns=1_000)
    registry.rotate(NAME, second.public_keys(1_000), at_ns=1_000)
    assert verify_envelope(before, registry).key_id == first.ed25519.key_id
    late_old_key = sign_envelope(_env(1_500), first.ed25519)
    assert _reason(late_old_key, registry) is RejectReason.RETIRED
    assert verify_envelope(sign_envelope(_env(1_500), second.ed25519), registry).key_id == (
        second.ed25519.key_id
    )
    early_new_key = sign_envelope(_env(900), second.ed25519)
    assert _reason(early_new_key, registry) is RejectReason.NOT_YET_VALID
    current = registry.get(NAME).current(Algorithm.MLDSA87)
    assert current is not None and current.key_id == second.mldsa87.key_id


def test_revocation_rejects_later_signatures_only(first: AgentIdentity) -> None:
    registry = KeyRegistry([first.public()])
    before = sign_envelope(_env(1_999), first.mldsa87)
    after = sign_envelope(_env(2_000), first.ed25519)
    registry.revoke(NAME, at_ns=2_000)
    assert verify_envelope(before, registry).algorithm is Algorithm.MLDSA87
    assert _reason(after, registry) is RejectReason.REVOKED
    with pytest.raises(InvalidInput, match="already revoked"):
        registry.revoke(NAME, 3_000)
    with pytest.raises(InvalidInput, match="is revoked"):
        registry.rotate(NAME, first.public_keys(3_000), 3_000)


def test_registry_json_round_trip_keeps_every_state(first: AgentIdentity) -> None:
    registry = KeyRegistry([first.public()])
    second = AgentIdentity.from_seed(NAME, ROLE, b"second-generation-seed", created_ns=1_000)
    registry.rotate(NAME, second.public_keys(1_000), 1_000)
    registry.revoke(NAME, 5_000)
    again = KeyRegistry.from_json(registry.to_json())
    assert again.to_json() == registry.to_json()
    for ts, key, state in [
        (500, first.ed25519.key_id, KeyState.VALID),
        (1_000, first.ed25519.key_id, KeyState.RETIRED),
        (1_000, second.ed25519.key_id, KeyState.VALID),
        (5_000, second.ed25519.key_id, KeyState.REVOKED),
        (1, "00" * 16, KeyState.UNKNOWN),
    ]:
        assert again.state_at(key, ts)[0] is state


def test_a_registry_file_with_a_swapped_public_key_is_refused(first: AgentIdentity) -> None:
    doc = json.loads(KeyRegistry([first.public()]).to_json())
    other = AgentIdentity.from_seed(NAME, ROLE, b"attacker-seed-xxxxx", created_ns=100)
    forged = msgspec.json.decode(msgspec.json.encode(other.public()))
    doc["identities"][0]["keys"][0]["public_key"] = forged["keys"][0]["public_key"]
    with pytest.raises(InvalidInput, match="does not match its public key"):
        KeyRegistry.from_json(json.dumps(doc))
    with pytest.raises(ConfigurationError, match="not a key registry"):
        KeyRegistry.from_json(b"[1, 2]")


def test_names_and_key_ids_are_unique(first: AgentIdentity) -> None:
    registry = KeyRegistry([first.public()])
    with pytest.raises(InvalidInput, match="already registered"):
        registry.register(first.public())
    with pytest.raises(InvalidInput, match="no such identity"):
        registry.revoke("nobody", 1)
    with pytest.raises(InvalidInput, match="already registered"):
        registry.rotate(NAME, first.public_keys(200), 200)
