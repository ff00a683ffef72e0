"""Agents in processes of their own, on the in-memory wire (the processes' code, the
kernel's gate): the day tells the in-process story; a restarted agent is rebuilt from the
kernel's journal; what a hostile agent process answers is refused and logged."""

from __future__ import annotations

import asyncio
import collections
import functools
import json
import os
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

import msgspec
import pytest
from typer.testing import CliRunner

from tradeswarm.agents.trader import TradingAgent
from tradeswarm.bus import rpc
from tradeswarm.bus.faults import FaultyTransport
from tradeswarm.bus.inproc import InProcessBus
from tradeswarm.bus.memory_transport import MemoryTransport
from tradeswarm.bus.rpc import ANSWER_TYPE, Answer, Call, answer_bytes
from tradeswarm.cli.main import app
from tradeswarm.core.clock import SimClock
from tradeswarm.core.errors import ConfigurationError
from tradeswarm.crypto.keys import Algorithm
from tradeswarm.crypto.provision import demo_identities
from tradeswarm.crypto.reasons import RejectReason
from tradeswarm.crypto.sealing import SealError
from tradeswarm.crypto.signing import sign_bytes, sign_envelope
from tradeswarm.model.envelope import Envelope, decode_envelope, encode_envelope
from tradeswarm.model.messages import EnvelopeRejected, MarketSignal, TradeIntent
from tradeswarm.store import Store
from tradeswarm.system.config import SwarmConfig, load_config
from tradeswarm.system.demo import run_demo
from tradeswarm.system.role_calls import CALL, ENCODER, STRATEGY_INPUTS, RoleAnswer, RoleCall
from tradeswarm.system.role_process import RoleProcess
from tradeswarm.system.swarm import Swarm

SLOTS = ("analyzer", "trader")


def _config(slots: tuple[str, ...] = SLOTS, **bus: object) -> SwarmConfig:
    base = load_config(None)
    fields = {"remote_agents": list(slots), "ack_wait_s": 0.3, "call_retry_s": 0.5, **bus}
    return msgspec.structs.replace(base, bus=msgspec.structs.replace(base.bus, **fields))


async def _day(
    config: SwarmConfig, db: str, roles: Callable[[MemoryTransport], list[RoleProcess]]
) -> list[str]:
    """The demo's story with each role served beside the kernel, on one in-memory wire."""
    wire = MemoryTransport(config.bus.transport())
    stop, out = asyncio.Event(), []
    tasks = [asyncio.create_task(r.server.serve(stop)) for r in roles(wire)]
    try:
        await run_demo(db, config, out.append, wire=wire)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    return [str(line) for line in out]


def _plain(config: SwarmConfig, slots: tuple[str, ...] = SLOTS) -> Callable[..., list[RoleProcess]]:
    return lambda wire: [RoleProcess(config, slot, wire) for slot in slots]


@functools.cache
def _reference() -> tuple[str, ...]:
    out: list[str] = []
    asyncio.run(run_demo(":memory:", load_config(None), out.append))
    return tuple(out)


def _story(lines: list[str] | tuple[str, ...]) -> list[str]:
    """The story and the books, less the per-order audit lines (their signature counts
    grow: an agent in its own process signs every envelope it sends)."""
    return [line for line in lines if not line.startswith("  ✓ order ")]


def _log(db: Path) -> list[Envelope]:
    with Store.open(db) as store:
        return [decode_envelope(r.body) for r in store.iter_events()]


def test_the_day_in_processes_tells_the_in_process_story(tmp_path: Path) -> None:
    config = _config()
    got = asyncio.run(_day(config, str(tmp_path / "s.sqlite"), _plain(config)))
    assert _story(got) == _story(_reference())
    log = _log(tmp_path / "s.sqlite")
    kinds = collections.Counter(e.type for e in log)
    assert kinds["EnvelopeRejected"] == 0 and kinds["MarketSignal"] == 45
    sent = [e for e in log if e.type in ("MarketSignal", "TradeIntent")]
    assert sent and all(e.signature is not None for e in sent)  # signed in their process
    assert "signatures valid" in got[-2] and got[-1].endswith("every table: clean")


def test_a_restarted_agent_is_rebuilt_from_the_kernels_journal(tmp_path: Path) -> None:
    """The trader's process hangs at its 40th call, holding it; a second one joins: it
    answers `behind`, the kernel sends it the day so far, and the day goes on as it would."""
    config = _config()

    async def day() -> tuple[list[str], RoleProcess]:
        wire = MemoryTransport(config.bus.transport())
        first, later = RoleProcess(config, "trader", wire), RoleProcess(config, "trader", wire)
        analyzer = RoleProcess(config, "analyzer", wire)

        async def hang_at_40(body: bytes) -> bytes:
            if first.server.applied >= 40:
                await asyncio.Event().wait()
            return await RoleProcess.apply(first, body)

        first.server._apply = hang_at_40
        stop, out = asyncio.Event(), []
        tasks = [asyncio.create_task(r.server.serve(stop)) for r in (analyzer, first)]

        async def join_later() -> None:
            while first.server.applied < 40:
                await asyncio.sleep(0.02)
            await later.server.serve(stop)

        tasks.append(asyncio.create_task(join_later()))
        await run_demo(str(tmp_path / "r.sqlite"), config, out.append, wire=wire)
        stop.set()
        tasks[1].cancel()  # the hung process, killed
        await asyncio.gather(*tasks, return_exceptions=True)
        return [str(line) for line in out], later

    got, later = asyncio.run(day())
    assert _story(got) == _story(_reference())
    assert later.server.behinds >= 1 and later.server.applied > 40
    result = CliRunner().invoke(app, ["health", "--db", str(tmp_path / "r.sqlite"), "--json"])
    assert result.exit_code == 0, result.output
    agents = {a["channel"]: a for a in json.loads(result.output)["agents"]}
    assert agents["trader"]["processes_seen"] == 2 and agents["trader"]["catch_ups"] >= 1
    assert agents["analyzer"]["processes_seen"] == 1 and agents["analyzer"]["calls"] > 700
    text = CliRunner().invoke(app, ["health", "--db", str(tmp_path / "r.sqlite")])
    assert "trading-agent:trading-agent-01" in text.output and "catch-ups" in text.output


def test_health_of_a_swarm_that_ran_every_agent_in_the_kernel(tmp_path: Path) -> None:
    asyncio.run(run_demo(str(tmp_path / "k.sqlite"), load_config(None), lambda _: None))
    result = CliRunner().invoke(app, ["health", "--db", str(tmp_path / "k.sqlite")])
    assert result.exit_code == 0 and "the kernel ran them all" in result.output
    missing = CliRunner().invoke(app, ["health", "--db", str(tmp_path / "absent.sqlite")])
    assert missing.exit_code == 2 and "no such file" in missing.output


class _HostileTrader(RoleProcess):
    """Answers its first intent with a tampered copy and a replay of it, too."""

    tampered = False

    async def respond(self, call: RoleCall) -> RoleAnswer:
        answer = await super().respond(call)
        intents = [w for w in answer.envelopes if decode_envelope(w).type == "TradeIntent"]
        if not intents or self.tampered:
            return answer
        self.tampered = True
        genuine = decode_envelope(intents[0])
        assert isinstance(genuine.payload, TradeIntent)
        bigger = msgspec.structs.replace(genuine.payload, quantity=genuine.payload.quantity * 100)
        forged = msgspec.structs.replace(  # a new message under the genuine's signature
            genuine, msg_id=uuid.uuid4(), nonce=os.urandom(16), payload=bigger
        )
        extra = [encode_envelope(forged), intents[0]]
        return RoleAnswer([*answer.envelopes, *extra])


class _HostileAnalyzer(RoleProcess):
    """Sends an intent as the trader, signed with the trader's (public-seed) key."""

    sent = False

    async def respond(self, call: RoleCall) -> RoleAnswer:
        answer = await super().respond(call)
        signals = [decode_envelope(w) for w in answer.envelopes]
        if self.sent or not signals:
            return answer
        trader = RoleProcess(self.config, "trader", self.server.transport)
        assert isinstance(signals[0].payload, MarketSignal)
        intent = trader.agent.intent_for_signal(signals[0].payload)  # type: ignore[union-attr]
        if intent is None:  # the trader would not trade on this one
            return answer
        self.sent = True
        (keys,) = demo_identities([("trading-agent-01", "trading-agent")])
        stolen = _as(
            signals[0], intent, "trading-agent:trading-agent-01", keys.signer(Algorithm.ED25519)
        )
        return RoleAnswer([*answer.envelopes, encode_envelope(stolen)])


def _as(template: Envelope, payload: object, sender: str, signer: object) -> Envelope:
    env = msgspec.structs.replace(
        template,
        type="TradeIntent",
        topic="trading.intent.created",
        sender=sender,
        payload=payload,
        signature=None,
        ttl_ms=60_000,
    )
    return sign_envelope(env, signer)  # type: ignore[arg-type]


@pytest.mark.parametrize("hostile", ["trader", "analyzer"])
def test_what_a_hostile_agent_process_answers_is_refused_and_logged(
    tmp_path: Path, hostile: str
) -> None:
    config = _config()

    def roles(wire: MemoryTransport) -> list[RoleProcess]:
        if hostile == "trader":
            return [RoleProcess(config, "analyzer", wire), _HostileTrader(config, "trader", wire)]
        return [_HostileAnalyzer(config, "analyzer", wire), RoleProcess(config, "trader", wire)]

    got = asyncio.run(_day(config, str(tmp_path / "h.sqlite"), roles))
    refusals = [e.payload for e in _log(tmp_path / "h.sqlite") if e.type == "EnvelopeRejected"]
    assert all(isinstance(r, EnvelopeRejected) for r in refusals)
    reasons = sorted(r.reason for r in refusals)  # type: ignore[union-attr]
    if hostile == "trader":
        assert reasons == sorted([RejectReason.BAD_SIGNATURE, RejectReason.REPLAYED]), refusals
    else:
        assert reasons == [RejectReason.ACL] and "channel" in refusals[0].detail, refusals  # type: ignore[union-attr]
    books = [line for line in got if line.startswith("books:")]
    assert books == [line for line in _reference() if line.startswith("books:")]


def test_strategy_inputs_are_what_a_strategy_agent_subscribes_to() -> None:
    bus = InProcessBus(SimClock())
    TradingAgent("t", bus, SimClock(), load_config(None).trader)
    assert list(bus._subs) == [t.name for t in STRATEGY_INPUTS]


@pytest.mark.parametrize(
    ("slots", "field", "words"),
    [
        (("risk",), "bus.remote_agents", "kernel process"),
        (("execution",), "bus.remote_agents", "kernel process"),
        (("nobody",), "bus.remote_agents", "no agent that can run"),
        (("strategy:absent",), "bus.remote_agents", "no agent that can run"),
    ],
)
def test_agents_that_cannot_run_alone_are_refused(
    tmp_path: Path, slots: tuple[str, ...], field: str, words: str
) -> None:
    config = _config(slots)
    with pytest.raises(ConfigurationError) as err:
        Swarm(config, tmp_path / "x.sqlite", SimClock(), None, wire=MemoryTransport())  # type: ignore[arg-type]
    assert field in str(err.value) and words in str(err.value)
    with pytest.raises(ConfigurationError):
        RoleProcess(config, slots[0], MemoryTransport())
    assert not list(tmp_path.iterdir())  # nothing created


def test_remote_agents_without_a_wire_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"bus\.remote_agents"):
        Swarm(_config(), tmp_path / "x.sqlite", SimClock(), None)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="names one twice"):
        _config(("trader", "trader"))
    with pytest.raises(ConfigurationError, match=r"bus\.call_retry_s"):
        _config(call_retry_s=90.0)
    assert not list(tmp_path.iterdir())


def test_a_wire_that_drops_duplicates_and_delays_changes_nothing(tmp_path: Path) -> None:
    """Every end on its own fault layer (seeded): lost publishes, copies, delays; each
    call still applied once, in order, and the day is the in-process day."""
    config = _config(call_retry_s=0.1)

    async def day() -> tuple[list[str], list[FaultyTransport]]:
        inner = MemoryTransport(config.bus.transport())
        ends = [
            FaultyTransport(inner, seed=k, drop=0.02, duplicate=0.05, delay_s=0.001)
            for k in range(3)
        ]
        roles = [RoleProcess(config, slot, end) for slot, end in zip(SLOTS, ends[1:], strict=True)]
        stop, out = asyncio.Event(), []
        tasks = [asyncio.create_task(r.server.serve(stop)) for r in roles]
        await run_demo(str(tmp_path / "f.sqlite"), config, out.append, wire=ends[0])
        stop.set()
        await asyncio.gather(*tasks)
        return [str(x) for x in out], ends

    got, ends = asyncio.run(day())
    assert _story(got) == _story(_reference())
    for end in ends:  # every end met both faults
        assert end.injected["drop"] > 0 and end.injected["duplicate"] > 0, end.injected


class _ManOnTheWire(MemoryTransport):
    """A server anyone can publish to: before the trader's 30th call reaches it, a forged
    call under the same number (an empty one); before each of its first answers, a forged
    `ok` answer (unsigned, then signed with another agent's key)."""

    def __init__(self, config: object) -> None:
        super().__init__(config)  # type: ignore[arg-type]
        self.forged_calls = self.forged_answers = 0

    async def publish(self, subject: str, batch: Sequence[bytes]) -> None:
        for data in batch:
            if subject.endswith("trader.call") and not self.forged_calls:
                call = msgspec.msgpack.decode(data, type=Call)
                if call.seq == 30:
                    empty = ENCODER.encode(RoleCall(0, []))
                    self.forged_calls += 1
                    fake = msgspec.structs.replace(call, body=empty)
                    await super().publish(subject, [msgspec.msgpack.encode(fake)])
            if subject.endswith("trader.answer") and self.forged_answers < 2:
                await super().publish(subject, [self._forge(data)])
        await super().publish(subject, batch)

    def _forge(self, data: bytes) -> bytes:
        real = msgspec.msgpack.decode(data, type=Answer)
        body = ENCODER.encode(RoleAnswer([b"{}"]))  # not what the agent answered
        fake = msgspec.structs.replace(real, status="ok", body=body, signature=b"")
        if self.forged_answers:  # the analyzer's key, for the trader's channel
            (keys,) = demo_identities([("market-analyzer-01", "market-analyzer")])
            signer = keys.signer(Algorithm.ED25519)
            block = sign_bytes(ANSWER_TYPE, answer_bytes("trader", fake), signer)
            fake = msgspec.structs.replace(fake, signature=block)
        self.forged_answers += 1
        return msgspec.msgpack.encode(fake)


def test_forged_calls_and_answers_on_the_wire_change_nothing(tmp_path: Path) -> None:
    """Whoever can publish to the server can forge calls and answers: a forged answer
    has no valid signature of the channel's agent and is dropped; a forged call the agent
    applied shows in its signed answer (another call's hash) and the kernel rebuilds the
    agent in a new epoch. The day is the in-process day."""
    config = _config()

    async def day() -> tuple[list[str], list[Swarm]]:
        wire = _ManOnTheWire(config.bus.transport())
        roles = [RoleProcess(config, slot, wire) for slot in SLOTS]
        stop, out, seen = asyncio.Event(), [], []
        tasks = [asyncio.create_task(r.server.serve(stop)) for r in roles]
        await run_demo(str(tmp_path / "m.sqlite"), config, out.append, wire=wire, seen=seen)
        stop.set()
        await asyncio.gather(*tasks)
        assert wire.forged_calls == 1 and wire.forged_answers == 2
        return [str(x) for x in out], seen

    got, (swarm,) = asyncio.run(day())
    assert _story(got) == _story(_reference())
    trader = next(a.client for a in swarm.remote if a.client.channel == "trader")
    assert trader.forged == 2 and trader.resets >= 1, (
        trader.forged,
        trader.resets,
        trader.catch_ups,
    )


class _Spy(MemoryTransport):
    """Keeps every call and answer published, as the server would hold them."""

    def __init__(self, config: object) -> None:
        super().__init__(config)  # type: ignore[arg-type]
        self.bodies: list[tuple[str, bytes]] = []

    async def publish(self, subject: str, batch: Sequence[bytes]) -> None:
        if ".rpc." in subject:
            for data in batch:
                kind = Call if subject.endswith(".call") else Answer
                self.bodies.append((subject, msgspec.msgpack.decode(data, type=kind).body))
        await super().publish(subject, batch)


def test_what_the_server_holds_of_calls_and_answers_is_sealed(tmp_path: Path) -> None:
    """The bars, the envelopes delivered and the intents answered cross the server only
    as ML-KEM-768 boxes: nothing of them in clear; a box opens only on its own channel
    and direction, with its own end's key."""
    config = _config()

    async def day() -> _Spy:
        wire = _Spy(config.bus.transport())
        roles = [RoleProcess(config, slot, wire) for slot in SLOTS]
        stop = asyncio.Event()
        tasks = [asyncio.create_task(r.server.serve(stop)) for r in roles]
        await run_demo(str(tmp_path / "s.sqlite"), config, lambda _: None, wire=wire)
        stop.set()
        await asyncio.gather(*tasks)
        return wire

    wire = asyncio.run(day())
    assert len(wire.bodies) > 1_000
    for _, body in wire.bodies:
        for clear in (b"TradeIntent", b"MarketSignal", b"RiskDecision", b"IDXF", b"3655"):
            assert clear not in body
    trader_call = next(b for s, b in wire.bodies if s.endswith("trader.call"))
    trader = RoleProcess(config, "trader", MemoryTransport())
    analyzer = RoleProcess(config, "analyzer", MemoryTransport())
    assert CALL.decode(trader.sealing.open(trader_call, "call")).now_ns > 0
    for opens in (
        lambda: analyzer.sealing.open(trader_call, "call"),  # another agent's key
        lambda: trader.sealing.open(trader_call, "answer"),  # the other direction
    ):
        with pytest.raises(SealError):
            opens()


def test_agent_processes_outlive_a_kernel_whose_clock_went_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same agent processes serve two kernel runs on one store (stopped at 10:00,
    resumed); the second kernel's wall clock is an hour behind the first's. Its epoch
    still follows the first run's (the store remembers it), so the agents take its
    calls: the resumed day is the in-process resume's."""
    config = _config()
    db = str(tmp_path / "k.sqlite")
    wire = MemoryTransport(config.bus.transport())
    roles = [RoleProcess(config, slot, wire) for slot in SLOTS]

    async def both_runs() -> list[str]:
        stop, out = asyncio.Event(), []
        tasks = [asyncio.create_task(r.server.serve(stop)) for r in roles]
        await run_demo(db, config, lambda _: None, until="10:00", wire=wire)
        behind = time.time_ns() - 3_600 * 10**9
        monkeypatch.setattr(rpc.time, "time_ns", lambda: behind)
        await run_demo(db, config, out.append, wire=wire)
        stop.set()
        await asyncio.gather(*tasks)
        return [str(x) for x in out]

    got = asyncio.run(both_runs())
    ref_db = str(tmp_path / "ref.sqlite")
    asyncio.run(run_demo(ref_db, load_config(None), lambda _: None, until="10:00"))
    ref: list[str] = []
    asyncio.run(run_demo(ref_db, load_config(None), ref.append))
    assert _story(got) == _story(ref)


class _GarbageTrader(RoleProcess):
    """Answers its 50th call with a properly sealed, signed box holding no answer."""

    async def apply(self, body: bytes) -> bytes:
        real = await super().apply(body)
        if self.server.applied + 1 != 50:
            return real
        return self.sealing.seal(b"\xc1 not an answer", "answer")


def test_an_agent_answering_garbage_is_refused_and_logged_and_the_day_goes_on(
    tmp_path: Path,
) -> None:
    """A hostile agent's answer that opens but holds no answer (undecodable) would have
    raised in the kernel; it is refused and logged, and the day ends."""
    config = _config()

    def roles(wire: MemoryTransport) -> list[RoleProcess]:
        return [RoleProcess(config, "analyzer", wire), _GarbageTrader(config, "trader", wire)]

    got = asyncio.run(_day(config, str(tmp_path / "g.sqlite"), roles))
    assert got[-1].endswith("every table: clean")
    refusals = [e.payload for e in _log(tmp_path / "g.sqlite") if e.type == "EnvelopeRejected"]
    assert len(refusals) == 1 and "trading-agent-01's answer" in refusals[0].detail  # type: ignore[union-attr]
