"""`VerifyingGate.receive_many_bytes` says of every envelope exactly what `receive_bytes`
one at a time would: the same admitted, the same refused for the same reasons, in order;
over generated mixes of genuine bursts, copies, forgeries sharing a genuine msg_id, unsigned copies,
wrong senders, stale and undecodable bytes."""

from __future__ import annotations

import uuid
from decimal import Decimal

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from remote_kit import IDENTITIES, REGISTRY
from signed_kit import RISK, TRADER, Recorder
from tradeswarm.bus.inproc import InProcessBus
from tradeswarm.bus.signed import VerifyingGate
from tradeswarm.bus.signing import BusSigning
from tradeswarm.bus.topics import INTENTS
from tradeswarm.core.clock import NS_PER_SECOND, SimClock
from tradeswarm.crypto.contexts import SigningPolicy
from tradeswarm.model.envelope import encode_envelope
from tradeswarm.model.messages import EnvelopeRejected
from tradeswarm.testkit import T0, make_intent


def _wires(n: int, seed: int) -> list[bytes]:
    clock = SimClock(T0)
    signing = BusSigning(SigningPolicy(), IDENTITIES.values())
    bus = InProcessBus(clock, signing=signing, random_nonces=True)
    items = [
        (
            make_intent(intent_id=uuid.UUID(int=seed * 1000 + i), quantity=Decimal(1 + i)),
            f"k{i}",
            None,
        )
        for i in range(n)
    ]
    envs = bus.attach(TRADER).publish_many(INTENTS, items)
    return [encode_envelope(e) for e in envs]


def _forge(wire: bytes, how: str) -> bytes:
    env = msgspec.json.decode(wire)
    if how == "quantity":
        env["payload"]["quantity"] = "999"
    elif how == "sender":
        env["sender"] = str(RISK)
    elif how == "stale":
        env["ts_ns"] = T0 - 10 * 60 * NS_PER_SECOND
    elif how == "unsigned":
        env["signature"] = None
    elif how == "garbage":
        return b"\x00" + wire[:20]
    return msgspec.json.encode(env, order="sorted")


@st.composite
def mixes(draw: st.DrawFn) -> list[bytes]:
    genuine = _wires(draw(st.integers(1, 12)), draw(st.integers(0, 99)))
    pool = list(genuine)
    for _ in range(draw(st.integers(0, 10))):
        base = draw(st.sampled_from(genuine))
        how = draw(st.sampled_from(["copy", "quantity", "sender", "stale", "unsigned", "garbage"]))
        pool.append(base if how == "copy" else _forge(base, how))
    return draw(st.permutations(pool))


def _gate() -> tuple[VerifyingGate, Recorder]:
    clock, log = SimClock(T0), Recorder()
    bus = InProcessBus(clock, sink=log)
    return VerifyingGate(bus, REGISTRY, clock), log


@settings(max_examples=60, deadline=None)
@given(mixes())
def test_a_batch_is_judged_exactly_as_one_at_a_time(wires: list[bytes]) -> None:
    one, one_log = _gate()
    alone = [one.receive_bytes(w) is not None for w in wires]
    many, many_log = _gate()
    batch = [env is not None for env in many.receive_many_bytes(wires)]
    assert batch == alone
    reasons = lambda log: [
        (e.payload.reason, e.payload.msg_id)
        for e in log.logged
        if isinstance(e.payload, EnvelopeRejected)
    ]
    assert reasons(many_log) == reasons(one_log)
    assert [e.msg_id for e in many_log.logged] == [e.msg_id for e in one_log.logged]
