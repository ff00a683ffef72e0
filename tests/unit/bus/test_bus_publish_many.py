"""A burst published in one call (``Publisher.publish_many``) is the same envelopes, in the
same order, as publishing them one by one; a burst that fails a check publishes nothing."""

from __future__ import annotations

import uuid
from decimal import Decimal

import msgspec
import pytest

from signed_kit import Recorder
from tradeswarm.bus.identity import Identity
from tradeswarm.bus.inproc import InProcessBus
from tradeswarm.bus.signing import BusSigning
from tradeswarm.bus.topics import INTENTS, REJECTIONS, SIGNALS, Role
from tradeswarm.core.clock import SimClock
from tradeswarm.core.errors import AccessDenied, InvalidInput
from tradeswarm.crypto import (
    AgentIdentity,
    KeyRegistry,
    SigningPolicy,
    decode_signature,
    verify_envelope,
)
from tradeswarm.crypto.contexts import PER_MESSAGE
from tradeswarm.model.envelope import Envelope, encode_envelope, signing_bytes
from tradeswarm.model.messages import EnvelopeRejected, TradeIntent
from tradeswarm.testkit import T0, make_intent

TRADER = Identity("trading-agent-01", Role.TRADER)


def _keys() -> AgentIdentity:
    return AgentIdentity.from_seed(
        TRADER.name, str(TRADER.role), b"bus-burst-test-seed", created_ns=0
    )


def _bus(policy: SigningPolicy | None = None) -> tuple[InProcessBus, Recorder]:
    sink = Recorder()
    signing = BusSigning(policy or SigningPolicy(), [_keys()])
    return InProcessBus(SimClock(T0), sink, signing=signing), sink


PER_MESSAGE_POLICY = SigningPolicy(per_message_types=PER_MESSAGE)


def _intent(n: int) -> TradeIntent:
    return make_intent(
        intent_id=uuid.UUID(int=n), agent_id=TRADER.name, strategy="s", rationale="r", ts_event=T0
    )


def _items(n: int) -> list[tuple[TradeIntent, str, Envelope | None]]:
    return [(_intent(i), f"k{i}", None) for i in range(n)]


@pytest.mark.asyncio
async def test_a_burst_signed_per_message_is_the_envelopes_one_by_one_would_be() -> None:
    one_bus, one_sink = _bus(PER_MESSAGE_POLICY)
    many_bus, many_sink = _bus(PER_MESSAGE_POLICY)
    seen: list[Envelope] = []

    async def record(env: Envelope) -> None:
        seen.append(env)

    many_bus.subscribe(INTENTS, record)
    singles = [one_bus.attach(TRADER).publish(INTENTS, p, key=k, cause=c) for p, k, c in _items(5)]
    burst = many_bus.attach(TRADER).publish_many(INTENTS, _items(5))
    assert [encode_envelope(e) for e in burst] == [encode_envelope(e) for e in singles]
    assert [encode_envelope(e) for e in many_sink.logged] == [
        encode_envelope(e) for e in one_sink.logged
    ]
    assert all(e.signature is not None for e in burst)
    await many_bus.drain()
    assert seen == burst
    assert many_bus.stats.published == 5


def test_a_burst_signed_by_its_root_differs_from_one_by_one_only_in_the_signatures() -> None:
    one_bus, _ = _bus()
    many_bus, many_sink = _bus()
    singles = [one_bus.attach(TRADER).publish(INTENTS, p, key=k, cause=c) for p, k, c in _items(5)]
    burst = many_bus.attach(TRADER).publish_many(INTENTS, _items(5))
    assert [signing_bytes(e) for e in burst] == [signing_bytes(e) for e in singles]
    assert [encode_envelope(e) for e in many_sink.logged] == [encode_envelope(e) for e in burst]
    registry = KeyRegistry([_keys().public()])
    blocks = [decode_signature(e.signature or b"") for e in burst]
    assert [b.version for b in blocks] == [2] * 5
    assert {b.sig for b in blocks} == {blocks[0].sig}  # one root signature for the burst
    assert [verify_envelope(e, registry, SigningPolicy()).burst_size for e in burst] == [5] * 5


def test_an_empty_burst_publishes_nothing() -> None:
    bus, sink = _bus()
    assert bus.attach(TRADER).publish_many(INTENTS, []) == []
    assert sink.logged == [] and bus.stats.published == 0


def test_a_burst_on_a_topic_the_role_may_not_use_publishes_nothing_but_the_refusal() -> None:
    bus, sink = _bus()
    with pytest.raises(AccessDenied, match="may not publish on"):
        bus.attach(TRADER).publish_many(SIGNALS, _items(3))
    assert [type(e.payload) for e in sink.logged] == [EnvelopeRejected]
    assert sink.logged[0].topic == REJECTIONS.name


def test_a_burst_with_a_message_of_the_wrong_type_publishes_nothing() -> None:
    bus, sink = _bus()
    items: list[tuple[object, str, None]] = [(_intent(0), "a", None), ("not a message", "b", None)]
    with pytest.raises(TypeError, match="carries TradeIntent"):
        bus.attach(TRADER).publish_many(INTENTS, items)  # type: ignore[arg-type]
    assert sink.logged == [] and bus.stats.published == 0


def test_a_burst_with_one_invalid_message_publishes_only_its_refusal() -> None:
    bus, sink = _bus()
    items = _items(3)
    broken = _intent(9)
    msgspec.structs.force_setattr(broken, "quantity", Decimal(-1))  # altered after it was built
    items.insert(1, (broken, "bad", None))
    with pytest.raises(InvalidInput):
        bus.attach(TRADER).publish_many(INTENTS, items)
    assert [type(e.payload) for e in sink.logged] == [EnvelopeRejected]
    assert bus.stats.published == 1  # the refusal, from the bus itself
