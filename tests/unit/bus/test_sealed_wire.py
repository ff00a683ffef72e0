"""Confidential types cross the wire sealed (ML-KEM-768 + AES-256-GCM): the servers hold
only ciphertext, the recipient opens and decides, and every way around it is refused and
logged: a process that is no recipient, a sealed type sent in clear, a box moved to
another topic, a box naming another sender than the envelope inside."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from remote_kit import RiskEnd, TraderEnd, clock_at_t0
from server_kit import Server
from signed_kit import RISK, TRADER
from tradeswarm.bus.identity import Identity
from tradeswarm.bus.remote import Inlet
from tradeswarm.bus.sealed_wire import WireCodec
from tradeswarm.bus.topics import INTENTS, OVERSIGHT_DECISIONS, Role
from tradeswarm.bus.transport import subject_of
from tradeswarm.crypto.provision import demo_identities
from tradeswarm.crypto.reasons import RejectReason
from tradeswarm.crypto.registry import KeyRegistry
from tradeswarm.crypto.sealing import KemKeyring, SealingPolicy, recipients_for, seal
from tradeswarm.model.envelope import encode_envelope
from tradeswarm.model.messages import EnvelopeRejected
from transport_kit import BACKENDS, config_for, connected, servers_fixture

AUDIT = Identity("audit-log-01", Role.AUDIT_LOG)
EXECUTION = Identity("order-executor-01", Role.EXECUTION)
PEOPLE = {
    i.principal: i
    for i in demo_identities([(w.name, str(w.role)) for w in (TRADER, RISK, AUDIT, EXECUTION)])
}
REGISTRY = KeyRegistry(i.public() for i in PEOPLE.values())
POLICY = SealingPolicy()


def codec_for(who: Identity | None) -> WireCodec:
    ring = None if who is None else KemKeyring.of(PEOPLE[str(who)], valid_from_ns=0)
    return WireCodec(POLICY, REGISTRY, ring)


@pytest.fixture(scope="module", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Server | None]]:
    for s in servers_fixture(request, tmp_path_factory):
        yield request.param, s


async def _inlet(risk: RiskEnd, codec: WireCodec, member: str) -> Inlet:
    inlet = await risk.inlet(member=member)
    inlet._codec = codec
    return inlet


async def _pump(inlet: Inlet, done, timeout_s: float = 8.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not done() and time.monotonic() < deadline:
        await inlet.pump(100, 0.1)
    assert done(), inlet.stats


def _refusals(risk: RiskEnd) -> list[EnvelopeRejected]:
    return [e.payload for e in risk.ledger.logged if isinstance(e.payload, EnvelopeRejected)]


@pytest.mark.asyncio
async def test_the_wire_holds_ciphertext_and_the_recipient_decides(server) -> None:
    cfg = config_for(*server)
    clock = clock_at_t0()
    async with connected(cfg) as t:
        trader = TraderEnd(t, clock)
        trader.outlet._encode = codec_for(None).encode
        trader.propose(20)
        await trader.outlet.flush()
        spy = await t.consumer([subject_of(cfg.namespace, INTENTS.name)], "spy", "spy")
        seen = await spy.fetch(20, 2.0)
        assert seen and all(
            b"TradeIntent" not in d.data and b"trading-agent" in d.data for d in seen
        )  # fmt: skip  (the sender is in clear, nothing else)
        risk = RiskEnd(t, clock)
        inlet = await _inlet(risk, codec_for(RISK), "risk")
        await _pump(inlet, lambda: len(risk.decisions()) == 20)
        assert _refusals(risk) == []


@pytest.mark.asyncio
async def test_a_process_that_is_no_recipient_cannot_read_it(server) -> None:
    cfg = config_for(*server)
    clock = clock_at_t0()
    async with connected(cfg) as t:
        trader = TraderEnd(t, clock)
        trader.outlet._encode = codec_for(None).encode
        trader.propose(3)
        await trader.outlet.flush()
        nosy = RiskEnd(t, clock)  # an execution process's keys, in the risk group
        inlet = await _inlet(nosy, codec_for(EXECUTION), "nosy")
        await _pump(inlet, lambda: len(_refusals(nosy)) == 3)
        assert nosy.decisions() == [] and nosy.intents() == []
        assert {r.reason for r in _refusals(nosy)} == {RejectReason.SEALING}
        assert all("not a recipient" in r.detail or "NOT_RECIPIENT" in r.detail.upper()
                   for r in _refusals(nosy))  # fmt: skip


@pytest.mark.asyncio
async def test_clear_moved_and_reattributed_boxes_are_refused(server) -> None:
    cfg = config_for(*server)
    clock = clock_at_t0()
    async with connected(cfg) as t:
        trader = TraderEnd(t, clock)
        trader.propose(3)
        clear, other, third = list(trader.sink.queue)
        env = encode_envelope(other)
        intents = subject_of(cfg.namespace, INTENTS.name)
        to_risk = recipients_for(REGISTRY, POLICY.recipients_of("TradeIntent"), other.ts_ns)
        lifted = seal(env, sender=str(RISK), topic=INTENTS.name, recipients=to_risk)
        moved = seal(encode_envelope(third), sender=third.sender, topic=OVERSIGHT_DECISIONS.name,
                     recipients=to_risk)  # fmt: skip
        await t.publish(intents, [encode_envelope(clear), lifted, moved])
        risk = RiskEnd(t, clock)
        inlet = await _inlet(risk, codec_for(RISK), "risk")
        await _pump(inlet, lambda: len(_refusals(risk)) == 3)
        details = sorted(r.detail for r in _refusals(risk))
        assert any("came in clear" in d for d in details)
        assert any("WRONG_TOPIC" in d.upper() or "sealed for" in d for d in details)
        assert any("disagrees" in d or "WRONG_SENDER" in d.upper() for d in details)
        assert risk.decisions() == []
