"""Every transport keeps one contract (bus/transport.py): the in-memory reference, and real
NATS JetStream and Redis servers started for the test (tests/server_kit.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from server_kit import Server
from tradeswarm.bus.factory import open_transport
from tradeswarm.bus.transport import TransportConfig, TransportUnavailable, subject_of
from tradeswarm.core.errors import InvalidInput
from transport_kit import BACKENDS, config_for, connected, servers_fixture


@pytest.fixture(scope="module", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Server | None]]:
    for s in servers_fixture(request, tmp_path_factory):
        yield request.param, s


def _cfg(server: tuple[str, Server | None], **kw: object) -> TransportConfig:
    return config_for(server[0], server[1], **kw)


async def _drain(consumer, want: int, timeout_s: float = 5.0) -> list:
    got: list = []
    deadline = time.monotonic() + timeout_s
    while len(got) < want and time.monotonic() < deadline:
        got += await consumer.fetch(want - len(got), 0.2)
    return got


@pytest.mark.asyncio
async def test_a_batch_arrives_whole_in_order_and_an_ack_is_final(server) -> None:
    cfg = _cfg(server)
    subject = subject_of(cfg.namespace, "trading.intent.created")
    async with connected(cfg) as t:
        consumer = await t.consumer([subject], "risk", "risk-1")
        await t.publish(subject, [b"m%d" % i for i in range(50)])
        got = await _drain(consumer, 50)
        assert [d.data for d in got] == [b"m%d" % i for i in range(50)]
        assert {d.attempt for d in got} == {1} and {d.subject for d in got} == {subject}
        for d in got:
            await d.ack()
        assert await consumer.fetch(10, 1.5) == []  # past ack_wait: nothing comes back
        await consumer.close()


@pytest.mark.asyncio
async def test_what_is_not_acked_comes_back_after_ack_wait_counting_attempts(server) -> None:
    cfg = _cfg(server, ack_wait_s=0.6)
    subject = subject_of(cfg.namespace, "trading.risk.decision")
    async with connected(cfg) as t:
        consumer = await t.consumer([subject], "exec", "exec-1")
        await t.publish(subject, [b"once"])
        first = await _drain(consumer, 1)
        assert [d.attempt for d in first] == [1]
        assert await consumer.fetch(1, 0.2) == []  # not before ack_wait
        again = await _drain(consumer, 1, timeout_s=5)
        assert [(d.data, d.attempt) for d in again] == [(b"once", 2)]
        await again[0].ack()
        await consumer.close()


@pytest.mark.asyncio
async def test_a_nak_comes_back_after_its_delay_not_before(server) -> None:
    cfg = _cfg(server, ack_wait_s=5.0)
    subject = subject_of(cfg.namespace, "trading.execution.order")
    async with connected(cfg) as t:
        consumer = await t.consumer([subject], "audit", "audit-1")
        await t.publish(subject, [b"retry-me"])
        (first,) = await _drain(consumer, 1)
        naked = time.monotonic()
        await first.nak(0.8)
        assert await consumer.fetch(1, 0.3) == []
        (again,) = await _drain(consumer, 1, timeout_s=4)
        assert again.attempt == 2 and again.data == b"retry-me"
        assert time.monotonic() - naked >= 0.7
        await again.ack()
        await consumer.close()


@pytest.mark.asyncio
async def test_a_dead_letter_keeps_its_reason_and_never_comes_back(server) -> None:
    cfg = _cfg(server, ack_wait_s=0.5)
    subject = subject_of(cfg.namespace, "trading.execution.fill")
    async with connected(cfg) as t:
        consumer = await t.consumer([subject], "compliance", "c-1")
        await t.publish(subject, [b"poison", b"fine"])
        got = {d.data: d for d in await _drain(consumer, 2)}
        await got[b"poison"].dead_letter("ValueError: bad fill")
        await got[b"fine"].ack()
        assert await consumer.fetch(5, 1.2) == []
        (dead,) = await t.dead_letters()
        assert (dead.subject, dead.data, dead.reason, dead.attempts) == (
            subject,
            b"poison",
            "ValueError: bad fill",
            1,
        )
        await consumer.close()


@pytest.mark.asyncio
async def test_a_group_shares_its_messages_and_each_group_gets_all(server) -> None:
    cfg = _cfg(server, ack_wait_s=10.0)
    subject = subject_of(cfg.namespace, "trading.signal.market")
    async with connected(cfg) as t:
        a = await t.consumer([subject], "traders", "a")
        b = await t.consumer([subject], "traders", "b")
        other = await t.consumer([subject], "auditors", "x")
        await t.publish(subject, [b"s%d" % i for i in range(40)])
        got: list = []
        deadline = time.monotonic() + 5
        while len(got) < 40 and time.monotonic() < deadline:
            for member in (a, b):
                got += await member.fetch(40, 0.1)
        assert sorted(d.data for d in got) == sorted(b"s%d" % i for i in range(40))  # once each
        for d in got:
            await d.ack()
        assert len(await _drain(other, 40)) == 40
        for c in (a, b, other):
            await c.close()


@pytest.mark.asyncio
async def test_a_crashed_members_messages_go_to_another_member(server) -> None:
    cfg = _cfg(server, ack_wait_s=0.6)
    subject = subject_of(cfg.namespace, "oversight.requested")
    async with connected(cfg) as t:
        crashed = await t.consumer([subject], "desk", "dead-one")
        await t.publish(subject, [b"r1", b"r2", b"r3"])
        assert len(await _drain(crashed, 3)) == 3  # taken, never acked: the member died
        t2 = t
        if server[0] != "memory":  # a server outlives its client; memory lives in t
            await t.close()
            t2 = open_transport(cfg)
            await t2.connect()
        alive = await t2.consumer([subject], "desk", "alive")
        back = await _drain(alive, 3, timeout_s=6)
        assert sorted(d.data for d in back) == [b"r1", b"r2", b"r3"]
        assert {d.attempt for d in back} == {2}
        for d in back:
            await d.ack()
        await alive.close()
        await t2.close()


@pytest.mark.asyncio
async def test_a_consumer_never_holds_more_than_max_in_flight(server) -> None:
    cfg = _cfg(server, max_in_flight=5, ack_wait_s=30.0)
    subject = subject_of(cfg.namespace, "compliance.flag")
    async with connected(cfg) as t:
        consumer = await t.consumer([subject], "slow", "s-1")
        await t.publish(subject, [b"f%d" % i for i in range(30)])
        await asyncio.sleep(0.3)
        held = await _drain(consumer, 30, timeout_s=1.5)
        assert 1 <= len(held) <= 5
        for d in held:
            await d.ack()
        more = await _drain(consumer, 30, timeout_s=1.5)
        assert 1 <= len(more) <= 5
        await consumer.close()


@pytest.mark.asyncio
async def test_a_group_that_joins_late_reads_from_the_start(server) -> None:
    cfg = _cfg(server)
    subject = subject_of(cfg.namespace, "system.killswitch.activated")
    async with connected(cfg) as t:
        await t.publish(subject, [b"halt"])
        late = await t.consumer([subject], "execution", "e-1")
        (got,) = await _drain(late, 1)
        assert got.data == b"halt"
        await got.ack()
        await late.close()


@pytest.mark.asyncio
@pytest.mark.parametrize("backend", ["nats", "redis"])
async def test_an_unreachable_server_is_a_clear_error(backend: str) -> None:
    from server_kit import free_port

    url = f"{backend}://127.0.0.1:{free_port()}"
    cfg = TransportConfig(backend=backend, url=url, connect_timeout_s=0.5)
    with pytest.raises(TransportUnavailable, match=r"bus\.url"):
        async with connected(cfg):
            pass


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("backend", "kafka2"),
        ("namespace", "Bad-NS"),
        ("ack_wait_s", 0),
        ("max_deliver", 0),
        ("max_in_flight", 0),
    ],
)
def test_bad_bus_config_names_the_field(field: str, value: object) -> None:
    kw: dict[str, object] = {"backend": "memory", field: value}
    with pytest.raises(InvalidInput, match=f"bus.{field}"):
        TransportConfig(**kw)  # type: ignore[arg-type]


def test_a_server_backend_needs_a_url() -> None:
    with pytest.raises(InvalidInput, match=r"bus\.url"):
        TransportConfig(backend="nats")
