"""bus.rpc over the in-memory transport: calls applied once each and in order, however
often they are resent; a restarted callee rebuilt from the caller's journal; a newer
epoch resets the callee, an older one is dropped; the callee's failure reported and its
state forgotten; no callee, or junk on the wire, handled."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence

import msgspec
import pytest

from tradeswarm.bus import rpc
from tradeswarm.bus.memory_transport import MemoryTransport
from tradeswarm.bus.rpc import RemoteError, RpcClient, RpcServer
from tradeswarm.bus.transport import TransportConfig, TransportUnavailable
from tradeswarm.core.errors import InvalidInput

CH = "agent_x"


class Machine:
    """The state machine under test: its state is the list of bodies applied."""

    def __init__(self, delay_s: float = 0.0, fail_on: bytes | None = None) -> None:
        self.state: list[bytes] = []
        self.applies = 0
        self.delay_s, self.fail_on = delay_s, fail_on

    async def apply(self, body: bytes) -> bytes:
        self.applies += 1
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if body == self.fail_on:
            raise ValueError("boom")
        self.state.append(body)
        return b"%d" % len(self.state)

    def reset(self) -> None:
        self.state.clear()


def wire() -> MemoryTransport:
    return MemoryTransport(TransportConfig(ack_wait_s=0.3))


@contextlib.asynccontextmanager
async def serving(
    transport: MemoryTransport, machine: Machine
) -> AsyncIterator[asyncio.Task[None]]:
    """A server beside the test; leaving the block kills it without a goodbye (a crash)."""
    server = RpcServer(transport, CH, machine.apply, machine.reset)
    stop = asyncio.Event()
    task = asyncio.create_task(server.serve(stop))
    try:
        yield task
    finally:
        stop.set()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def bodies(n: int, tag: str = "b") -> list[bytes]:
    return [f"{tag}{i}".encode() for i in range(1, n + 1)]


@pytest.mark.asyncio
async def test_fifty_calls_are_applied_once_each_in_order() -> None:
    transport, machine, sent = wire(), Machine(), bodies(50)
    async with serving(transport, machine):
        client = RpcClient(transport, CH, retry_s=1.0, timeout_s=5.0)
        answers = [await client.call(b) for b in sent]
    assert answers == [b"%d" % i for i in range(1, 51)]
    assert machine.state == sent
    assert machine.applies == 50


@pytest.mark.asyncio
async def test_resent_calls_are_not_applied_twice() -> None:
    transport, machine, sent = wire(), Machine(delay_s=0.05), bodies(12)
    async with serving(transport, machine):
        client = RpcClient(transport, CH, retry_s=0.02, timeout_s=5.0)
        answers = [await client.call(b) for b in sent]
    call_subject, answer_subject = rpc.subjects("ts", CH)
    assert len(transport.log[call_subject]) > 2 * len(sent), "the client did resend"
    given = [msgspec.msgpack.decode(d, type=rpc.Answer) for d in transport.log[answer_subject]]
    assert len(given) > len(sent), "copies were answered too"
    assert {(a.status, a.seq, a.body) for a in given} == {
        ("ok", i, b"%d" % i) for i in range(1, 13)
    }, "a copy of an applied call gets the answer it gave"
    assert answers == [b"%d" % i for i in range(1, 13)]
    assert machine.state == sent
    assert machine.applies == len(sent)


@pytest.mark.asyncio
async def test_a_restarted_server_is_rebuilt_from_the_journal() -> None:
    transport, first, sent = wire(), Machine(), bodies(11)
    client = RpcClient(transport, CH, retry_s=0.2, timeout_s=5.0)
    async with serving(transport, first):
        assert [await client.call(b) for b in sent[:10]][-1] == b"10"
    fresh = Machine()  # a new process: nothing of the first one's state
    async with serving(transport, fresh):
        assert await client.call(sent[10]) == b"11"
        assert client.catch_ups >= 1
        assert fresh.state == sent
        assert await client.call(b"b12") == b"12"
    assert fresh.state == [*sent, b"b12"]


@pytest.mark.asyncio
async def test_a_newer_epoch_resets_the_server() -> None:
    transport, machine = wire(), Machine()
    async with serving(transport, machine):
        old = RpcClient(transport, CH, retry_s=0.2, timeout_s=5.0)
        for b in bodies(5, "old"):
            await old.call(b)
        new = RpcClient(transport, CH, retry_s=0.2, timeout_s=5.0, epoch=old.epoch + 1)
        assert await new.call(b"new1") == b"1"
        assert machine.state == [b"new1"]
        assert await new.call(b"new2") == b"2"
    assert machine.state == [b"new1", b"new2"]


@pytest.mark.asyncio
async def test_a_call_from_an_older_epoch_gets_no_answer() -> None:
    transport, machine = wire(), Machine()
    async with serving(transport, machine) as task:
        old = RpcClient(transport, CH, retry_s=0.1, timeout_s=0.3, epoch=100)
        assert await old.call(b"old1") == b"1"
        new = RpcClient(transport, CH, retry_s=0.1, timeout_s=5.0, epoch=200)
        assert await new.call(b"new1") == b"1"
        with pytest.raises(TransportUnavailable, match=rf"{CH}.*call 2"):
            await old.call(b"old2")
        assert machine.state == [b"new1"]
        assert await new.call(b"new2") == b"2"
        assert not task.done()
    assert machine.state == [b"new1", b"new2"]


@pytest.mark.asyncio
async def test_apply_raising_is_a_remote_error_and_resets_the_server() -> None:
    transport, machine = wire(), Machine(fail_on=b"b3")
    async with serving(transport, machine) as task:
        client = RpcClient(transport, CH, retry_s=1.0, timeout_s=5.0)
        assert await client.call(b"b1") == b"1"
        assert await client.call(b"b2") == b"2"
        with pytest.raises(RemoteError, match=rf"{CH}.*call 3.*boom") as err:
            await client.call(b"b3")
        assert "ValueError" in str(err.value)
        assert machine.state == []
        again = RpcClient(transport, CH, retry_s=1.0, timeout_s=5.0, epoch=client.epoch + 1)
        assert await again.call(b"c1") == b"1"
        assert machine.state == [b"c1"]
        assert not task.done()


@pytest.mark.asyncio
async def test_no_server_is_transport_unavailable_naming_the_channel_and_call() -> None:
    client = RpcClient(wire(), CH, retry_s=0.1, timeout_s=0.3)
    with pytest.raises(TransportUnavailable, match=rf"{CH}.*call 1\b"):
        await client.call(b"b1")
    await client.close()


@pytest.mark.parametrize(("retry_s", "timeout_s"), [(0.0, 1.0), (-1.0, 1.0), (2.0, 1.0)])
def test_retry_s_must_be_positive_and_within_the_timeout(retry_s: float, timeout_s: float) -> None:
    with pytest.raises(InvalidInput, match="retry_s") as err:
        RpcClient(wire(), CH, retry_s=retry_s, timeout_s=timeout_s)
    assert err.value.field == "retry_s"


JUNK: Sequence[bytes] = [b"\xc1", b"not msgpack", msgspec.msgpack.encode({"seq": "x"})]


@pytest.mark.asyncio
async def test_undecodable_bytes_on_either_subject_are_dropped() -> None:
    transport, machine = wire(), Machine()
    call_subject, answer_subject = rpc.subjects(transport.config.namespace, CH)
    async with serving(transport, machine) as task:
        client = RpcClient(transport, CH, retry_s=0.2, timeout_s=5.0)
        await transport.publish(call_subject, JUNK)
        await transport.publish(answer_subject, JUNK)
        assert await client.call(b"b1") == b"1"
        await transport.publish(call_subject, JUNK)
        await asyncio.sleep(0.1)  # the server reads the junk
        assert not task.done()
        await transport.publish(answer_subject, JUNK)
        assert await client.call(b"b2") == b"2"
        assert not task.done()
    assert machine.state == [b"b1", b"b2"]


class LateBehind(MemoryTransport):
    """A `behind` answer handed out a second time, after the server moved on (its ack
    was lost: at-least-once), just before the answer that follows it for that call."""

    def __init__(self) -> None:
        super().__init__(TransportConfig(ack_wait_s=0.3))
        self.held: dict[tuple[int, int], bytes] = {}

    async def publish(self, subject: str, batch: Sequence[bytes]) -> None:
        if subject.endswith(".answer"):
            for data in batch:
                answer = msgspec.msgpack.decode(data, type=rpc.Answer)
                key = (answer.epoch, answer.seq)
                if answer.status == "behind":
                    self.held.setdefault(key, data)
                elif key in self.held:
                    await super().publish(subject, [self.held.pop(key)])
        await super().publish(subject, batch)


@pytest.mark.asyncio
async def test_a_redelivered_behind_answer_does_not_wedge_the_client() -> None:
    transport, sent = LateBehind(), bodies(4)
    client = RpcClient(transport, CH, retry_s=0.1, timeout_s=1.0)
    async with serving(transport, Machine()):
        for b in sent[:3]:
            await client.call(b)
    fresh = Machine()
    async with serving(transport, fresh):
        assert await client.call(sent[3]) == b"4"
    assert fresh.state == sent
