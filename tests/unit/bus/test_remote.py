"""The bridge over each transport (in memory, and real NATS and Redis servers): effects
exactly once over at-least-once delivery, poison messages to the dead-letter stream with
their error, forgeries refused and logged, nothing lost while the server is away."""

from __future__ import annotations

import time
from collections.abc import Iterator

import msgspec
import pytest

from remote_kit import RiskEnd, TraderEnd, clock_at_t0
from server_kit import Server
from tradeswarm.bus.faults import FaultyTransport
from tradeswarm.bus.remote import Inlet
from tradeswarm.bus.topics import INTENTS
from tradeswarm.bus.transport import subject_of
from tradeswarm.crypto.reasons import RejectReason
from tradeswarm.model.envelope import decode_envelope, encode_envelope
from tradeswarm.model.messages import EnvelopeRejected
from transport_kit import BACKENDS, config_for, connected, servers_fixture


@pytest.fixture(scope="module", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Server | None]]:
    for s in servers_fixture(request, tmp_path_factory):
        yield request.param, s


async def pump_until(inlet: Inlet, done, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not done() and time.monotonic() < deadline:
        await inlet.pump(256, 0.1)
    assert done(), f"not done after {timeout_s} s: {inlet.stats}"


@pytest.mark.asyncio
async def test_effects_happen_once_however_often_the_wire_delivers(server) -> None:
    cfg = config_for(*server)
    clock = clock_at_t0()
    async with connected(cfg) as raw:
        wire = FaultyTransport(raw, seed=7, duplicate=0.3, reorder=0.5, drop=0.3)
        trader, risk = TraderEnd(wire, clock), RiskEnd(raw, clock)
        trader.propose(200)
        for _ in range(30):  # the fault layer fails a third of the publishes part-way
            try:
                await trader.outlet.flush()
                break
            except Exception:
                time.sleep(0.25)  # let the breaker half-open
        assert not trader.sink.queue, "the outlet kept retrying until all went out"
        assert wire.injected["drop"] and wire.injected["duplicate"]
        inlet = await risk.inlet()
        await pump_until(inlet, lambda: len(risk.decisions()) >= 200)
        await inlet.pump(256, 1.5)  # whatever else is on the wire: duplicates only
        ids = [d.intent.intent_id for d in risk.decisions()]
        assert len(ids) == len(set(ids)) == 200
        assert len(risk.intents()) == 200
        assert inlet.stats.dead == 0
        if server[0] != "nats":  # NATS drops a duplicate publish itself (Nats-Msg-Id)
            assert inlet.stats.duplicates > 0
        assert [e.msg_id for e in risk.ledger.logged] == list(risk.ledger.digests)


@pytest.mark.asyncio
async def test_a_poison_message_goes_to_the_dlq_with_its_error_after_max_deliver(server):
    cfg = config_for(*server, ack_wait_s=2.0)
    clock = clock_at_t0()
    async with connected(cfg) as t:
        trader, risk = TraderEnd(t, clock), RiskEnd(t, clock)
        trader.propose(20, poison=frozenset({7}))
        await trader.outlet.flush()
        inlet = await risk.inlet(max_deliver=3)
        await pump_until(inlet, lambda: inlet.stats.dead == 1 and len(risk.decisions()) == 19)
        (dead,) = await t.dead_letters()
        env = decode_envelope(dead.data)
        assert env.payload.symbol == "POISON" and dead.attempts == 3
        assert "ValueError: cannot size" in dead.reason and "attempt 3" in dead.reason
        assert inlet.stats.retried == 2
        assert all(i.symbol == "ES" for i in risk.intents())  # its admission rolled back
        await inlet.pump(10, 1.0)
        assert len(await t.dead_letters()) == 1


@pytest.mark.asyncio
async def test_a_forged_envelope_is_refused_logged_and_not_retried(server) -> None:
    cfg = config_for(*server)
    clock = clock_at_t0()
    async with connected(cfg) as t:
        trader, risk = TraderEnd(t, clock), RiskEnd(t, clock)
        trader.propose(2)
        genuine = trader.sink.queue.popleft()
        await trader.outlet.flush()
        forged = msgspec.structs.replace(
            genuine,
            payload=msgspec.structs.replace(
                genuine.payload, quantity=genuine.payload.quantity * 100
            ),
        )
        subject = subject_of(cfg.namespace, INTENTS.name)
        await t.publish(subject, [encode_envelope(forged), b"{not an envelope"])
        inlet = await risk.inlet()
        await pump_until(inlet, lambda: inlet.stats.refused == 2 and len(risk.decisions()) == 1)
        refusals = [
            e.payload for e in risk.ledger.logged if isinstance(e.payload, EnvelopeRejected)
        ]
        assert {r.reason for r in refusals} == {RejectReason.BAD_PROOF, RejectReason.MALFORMED}
        await inlet.pump(10, 1.5)
        assert inlet.stats.refused == 2 and inlet.stats.dead == 0
        assert await t.dead_letters() == []


@pytest.mark.asyncio
async def test_a_consumer_that_dies_mid_batch_loses_and_repeats_nothing(server) -> None:
    cfg = config_for(*server, ack_wait_s=0.8)
    clock = clock_at_t0()
    async with connected(cfg) as t:
        trader = TraderEnd(t, clock)
        trader.propose(60)
        await trader.outlet.flush()
        first = RiskEnd(t, clock)
        doomed = await first.inlet(member="doomed")
        taken = await doomed._consumer.fetch(25, 2.0)
        assert taken  # fetched, never handled nor acked: the process died here
        await doomed._consumer.close()
        survivor = RiskEnd(t, clock, ledger=first.ledger)  # a fresh process, same store
        inlet = await survivor.inlet(member="survivor")
        await pump_until(inlet, lambda: len(survivor.decisions()) == 60, timeout_s=15)
        ids = [d.intent.intent_id for d in survivor.decisions()]
        assert len(set(ids)) == 60 == len(ids)
