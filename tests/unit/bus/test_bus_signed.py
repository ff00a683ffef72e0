"""The receiving gate (bus/signed.py) and the bus's signing hook (bus/inproc.py)."""

from __future__ import annotations

import uuid
from decimal import Decimal

import msgspec
import pytest

from signed_kit import Recorder
from tradeswarm.bus.identity import Identity
from tradeswarm.bus.inproc import InProcessBus
from tradeswarm.bus.signed import VerifyingGate
from tradeswarm.bus.signing import BusSigning
from tradeswarm.bus.topics import INTENTS, KILLSWITCH, REJECTIONS, SIGNALS, Role
from tradeswarm.core.clock import NS_PER_SECOND, SimClock
from tradeswarm.core.errors import AccessDenied
from tradeswarm.crypto import (
    AgentIdentity,
    Algorithm,
    KeyRegistry,
    RejectReason,
    SigningPolicy,
    sign_envelope,
    verify_envelope,
)
from tradeswarm.crypto.contexts import UNSIGNED
from tradeswarm.model.enums import SignalDirection
from tradeswarm.model.envelope import Envelope, decode_envelope, encode_envelope
from tradeswarm.model.messages import (
    EnvelopeRejected,
    KillSwitchActivated,
    MarketSignal,
    TradeIntent,
)
from tradeswarm.store import Store
from tradeswarm.testkit import T0, make_intent

SEED = b"bus-signed-test-seed"
TRADER = Identity("trading-agent-01", Role.TRADER)
ANALYZER = Identity("market-analyzer-01", Role.ANALYZER)
RISK = Identity("risk-manager-01", Role.RISK)


def _keys(who: Identity) -> AgentIdentity:
    return AgentIdentity.from_seed(who.name, str(who.role), SEED, created_ns=0)


def _intent(n: int, ts: int) -> TradeIntent:
    return make_intent(
        intent_id=uuid.UUID(int=n), agent_id=TRADER.name, strategy="s", rationale="r", ts_event=ts
    )


@pytest.fixture
def sender_clock() -> SimClock:
    return SimClock(T0)


@pytest.fixture
def sender(sender_clock: SimClock) -> InProcessBus:
    """The other process: signs what it publishes, random nonces."""
    signing = BusSigning(SigningPolicy(), [_keys(TRADER), _keys(ANALYZER), _keys(RISK)])
    return InProcessBus(sender_clock, signing=signing, random_nonces=True)


def _registry() -> KeyRegistry:
    return KeyRegistry([_keys(w).public() for w in (TRADER, ANALYZER, RISK)])


class Receiver:
    def __init__(self, policy: SigningPolicy | None = None) -> None:
        self.clock = SimClock(T0)
        self.sink = Recorder()
        self.bus = InProcessBus(self.clock, sink=self.sink)
        self.gate = VerifyingGate(
            self.bus, _registry(), self.clock, policy=policy, window_ms=60_000
        )
        self.delivered: list[Envelope] = []

        async def handler(env: Envelope) -> None:
            self.delivered.append(env)

        self.bus.subscribe(INTENTS, handler)

    async def take(self, env: Envelope) -> bool:
        ok = self.gate.receive(env) is not None
        await self.bus.drain()
        return ok

    def reasons(self) -> list[str]:
        return [r.reason for r in self.sink.rejections()]


def _send(bus: InProcessBus, n: int = 1) -> Envelope:
    return bus.attach(TRADER).publish(INTENTS, _intent(n, T0), key=str(n))


@pytest.mark.asyncio
async def test_a_signed_envelope_passes_the_gate_and_is_delivered(sender: InProcessBus) -> None:
    rx = Receiver()
    env = _send(sender)
    assert await rx.take(env)
    assert rx.delivered == [env]
    assert rx.gate.stats.accepted == 1 and not rx.sink.rejections()


@pytest.mark.asyncio
async def test_what_the_gate_admits_is_appended_to_the_sink_as_received(
    sender: InProcessBus,
) -> None:
    rx = Receiver()
    env = _send(sender)
    assert await rx.take(env)
    assert rx.sink.logged == [env]
    assert encode_envelope(rx.sink.logged[0]) == encode_envelope(env)  # signature and all


@pytest.mark.asyncio
async def test_a_fresh_gate_refuses_an_envelope_the_log_already_holds(
    sender: InProcessBus,
) -> None:
    clock = SimClock(T0)
    with Store.open(":memory:") as store:
        bus = InProcessBus(clock, sink=store)
        first = VerifyingGate(bus, _registry(), clock, logged=store.has_event)
        env = _send(sender)
        assert first.receive(env) is not None
        await bus.drain()
        assert [decode_envelope(r.body) for r in store.iter_events()] == [env]
        # a restart: the new gate remembers nothing, the log does
        restarted = VerifyingGate(bus, _registry(), clock, logged=store.has_event)
        assert restarted.receive(env) is None
        assert restarted.stats.rejected[RejectReason.REPLAYED] == 1
        logged = [decode_envelope(r.body) for r in store.iter_events()]
        assert [e.type for e in logged] == ["TradeIntent", "EnvelopeRejected"]
        refusal = logged[1].payload
        assert isinstance(refusal, EnvelopeRejected)
        assert refusal.reason == RejectReason.REPLAYED.value and refusal.msg_id == env.msg_id
        assert "in the log" in refusal.detail
        # without the log to ask, a fresh gate would have let the replay in
        forgetful = VerifyingGate(InProcessBus(clock), _registry(), clock)
        assert forgetful.check(env) is not None


@pytest.mark.asyncio
async def test_unsigned_envelope_is_rejected_and_the_rejection_logged(
    sender_clock: SimClock,
) -> None:
    plain = InProcessBus(sender_clock)  # no signing hook: behaves as before
    env = plain.attach(TRADER).publish(INTENTS, _intent(1, T0), key="1")
    assert env.signature is None
    rx = Receiver()
    assert not await rx.take(env)
    assert rx.delivered == []
    (rejected,) = rx.sink.rejections()
    assert rejected.reason == RejectReason.UNSIGNED.value
    assert rejected.msg_id == env.msg_id and rejected.sender == str(TRADER)
    logged = next(e for e in rx.sink.logged if isinstance(e.payload, EnvelopeRejected))
    assert logged.topic == REJECTIONS.name and logged.sender == "system:bus-gate"


@pytest.mark.asyncio
async def test_wrongly_signed_and_tampered_envelopes_are_rejected(sender: InProcessBus) -> None:
    rx = Receiver()
    env = _send(sender)
    stranger = AgentIdentity.from_seed(TRADER.name, str(TRADER.role), b"other-seed-123456", 0)
    forged = sign_envelope(env, stranger.ed25519)
    tampered = msgspec.structs.replace(
        env, payload=msgspec.structs.replace(env.payload, quantity=Decimal(1000))
    )
    analyst = sign_envelope(
        msgspec.structs.replace(env, msg_id=uuid.uuid4()), _keys(ANALYZER).ed25519
    )
    for bad in (forged, tampered, analyst):
        assert not await rx.take(bad)
    assert rx.reasons() == [
        RejectReason.UNKNOWN_KEY.value,
        RejectReason.BAD_SIGNATURE.value,
        RejectReason.WRONG_SENDER.value,
    ]
    assert rx.delivered == []


@pytest.mark.asyncio
async def test_replayed_envelope_is_rejected_by_msg_id_and_by_nonce(
    sender: InProcessBus,
) -> None:
    rx = Receiver()
    env = _send(sender)
    assert await rx.take(env)
    assert not await rx.take(env)
    same_nonce = _send(sender, 2)
    same_nonce = sign_envelope(
        msgspec.structs.replace(same_nonce, nonce=env.nonce), _keys(TRADER).ed25519
    )
    assert not await rx.take(same_nonce)
    assert rx.reasons() == [RejectReason.REPLAYED.value] * 2
    assert rx.delivered == [env]


@pytest.mark.asyncio
async def test_expired_stale_and_future_envelopes_are_rejected(
    sender: InProcessBus, sender_clock: SimClock
) -> None:
    rx = Receiver()
    env = _send(sender)  # INTENTS carry a 60 s ttl
    rx.clock.set(T0 + 61 * NS_PER_SECOND)
    assert not await rx.take(env)
    kill = sender.attach(ANALYZER)  # analyzers may not publish kill switches: ACL
    with pytest.raises(AccessDenied):
        kill.publish(
            KILLSWITCH, KillSwitchActivated(reason="x", triggered_by="a", ts_event=0), key="k"
        )
    sender_clock.set(T0 + 10 * 60 * NS_PER_SECOND)
    future = _send(sender, 3)
    assert not await rx.take(future)
    rx.clock.set(T0 + 20 * 60 * NS_PER_SECOND)
    halt = KillSwitchActivated(reason="drawdown", triggered_by="risk", ts_event=0)
    old = sender.attach(RISK).publish(KILLSWITCH, halt, key="k")  # no ttl on this topic
    assert verify_envelope(old, KeyRegistry([_keys(RISK).public()])).principal == str(RISK)
    assert not await rx.take(old)  # ten minutes old: outside the 60 s replay window
    assert rx.reasons() == [
        RejectReason.EXPIRED.value,
        RejectReason.FUTURE.value,
        RejectReason.STALE.value,
    ]


def _signal(ts: int) -> MarketSignal:
    return MarketSignal(
        signal_id=uuid.UUID(int=9),
        symbol="ES",
        direction=SignalDirection.BUY,
        strength=0.5,
        confidence=0.5,
        price=Decimal(100),
        ts_event=ts,
        expiry_ns=ts + NS_PER_SECOND,
    )


@pytest.mark.asyncio
async def test_a_role_the_topic_does_not_allow_is_rejected(sender: InProcessBus) -> None:
    rx = Receiver()
    env = _send(sender)
    as_analyzer = msgspec.structs.replace(env, sender=str(ANALYZER))
    as_analyzer = sign_envelope(as_analyzer, _keys(ANALYZER).ed25519)
    assert not await rx.take(as_analyzer)
    assert rx.reasons() == [RejectReason.ACL.value]


@pytest.mark.asyncio
async def test_replay_memory_is_bounded_by_the_window(
    sender: InProcessBus, sender_clock: SimClock
) -> None:
    rx = Receiver()
    for n in range(5):
        assert await rx.take(_send(sender, n))
    assert rx.gate.remembered == 10
    sender_clock.set(T0 + 2 * 60 * NS_PER_SECOND)
    rx.clock.set(T0 + 2 * 60 * NS_PER_SECOND)
    assert await rx.take(_send(sender, 99))
    assert rx.gate.remembered == 2


@pytest.mark.asyncio
async def test_only_canonical_bytes_pass_receive_bytes(sender: InProcessBus) -> None:
    rx = Receiver()
    env = _send(sender)
    wire = encode_envelope(env)
    renamed = wire.replace(b'"version":1', b'"versioo":1')  # decodes to the same envelope
    assert rx.gate.receive_bytes(renamed) is None
    assert rx.gate.receive_bytes(b"{not json") is None
    assert rx.gate.receive_bytes(wire) is not None
    assert rx.reasons() == [RejectReason.MALFORMED.value] * 2


@pytest.mark.asyncio
async def test_policy_at_the_gate_refuses_a_downgraded_algorithm(sender: InProcessBus) -> None:
    rx = Receiver(SigningPolicy(algorithms={"TradeIntent": Algorithm.MLDSA87}))
    assert not await rx.take(_send(sender))
    assert rx.reasons() == [RejectReason.WRONG_ALGORITHM.value]


def test_signing_hook_signs_policy_types_only_and_refuses_a_keyless_publisher() -> None:
    clock = SimClock(T0)
    trader = _keys(TRADER)
    bus = InProcessBus(clock, signing=BusSigning(SigningPolicy(), [trader]))
    env = bus.attach(TRADER).publish(INTENTS, _intent(1, T0), key="1")
    registry = KeyRegistry([trader.public()])
    assert verify_envelope(env, registry).key_id == trader.ed25519.key_id
    assert env.nonce == _unsigned_twin(clock).nonce  # in process: derived nonce, replayable
    signal = bus.attach(ANALYZER).publish(SIGNALS, _signal(T0), key="s")
    assert signal.signature is None  # MarketSignal is not in the policy
    with pytest.raises(AccessDenied, match="no signing key"):
        bus.attach(Identity("other-trader", Role.TRADER)).publish(INTENTS, _intent(2, T0), key="2")
    with pytest.raises(AccessDenied, match="cannot sign for"):
        bus.attach(ANALYZER, keys=trader)


def _unsigned_twin(clock: SimClock) -> Envelope:
    return (
        InProcessBus(clock, signing=BusSigning(UNSIGNED))
        .attach(TRADER)
        .publish(INTENTS, _intent(1, T0), key="1")
    )


def test_without_a_signer_the_bus_publishes_exactly_as_before() -> None:
    clock = SimClock(T0)
    plain = InProcessBus(clock).attach(TRADER).publish(INTENTS, _intent(1, T0), key="1")
    assert plain == _unsigned_twin(clock)
    assert plain.signature is None


def test_random_nonces_differ_derived_nonces_repeat() -> None:
    clock = SimClock(T0)
    derived = [
        InProcessBus(clock).attach(TRADER).publish(INTENTS, _intent(1, T0), key="1").nonce
        for _ in range(2)
    ]
    rand = [
        InProcessBus(clock, random_nonces=True)
        .attach(TRADER)
        .publish(INTENTS, _intent(1, T0), key="1")
        .nonce
        for _ in range(2)
    ]
    assert derived[0] == derived[1] and rand[0] != rand[1] and len(rand[0]) == 16
