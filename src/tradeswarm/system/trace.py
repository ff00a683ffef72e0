"""A day's trace off the wire, and its replay through a fresh kernel.

What the agents in processes of their own answered is everything the kernel took from
outside but the bars and the humans: `record` reads it back from the server (every call
and answer the streams still hold, of each agent's latest kernel run), and `replay`
runs a fresh kernel on a new store with each agent's answers served from the trace, in
order. The kernel is deterministic, so it makes the same calls: each call's bytes are
checked against the trace's (a kernel that diverges, a changed policy or config, stops
at the first call it makes differently, naming it), and the answers pass the kernel's
VerifyingGate as they did the first time (a trace edited after the fact is refused
there). Same calls and answers, same decisions and books."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import msgspec

from tradeswarm.bus.memory_transport import MemoryTransport
from tradeswarm.bus.rpc import Answer, Call, RpcServer, subjects
from tradeswarm.bus.transport import Transport
from tradeswarm.core.errors import InvalidInput, TradeswarmError
from tradeswarm.crypto.provision import demo_identities
from tradeswarm.crypto.sealing import AUDIT_LOG_ROLE, KemKeyring, SealError, open_sealed, read_box
from tradeswarm.model.messages import DailySummary
from tradeswarm.system.config import SwarmConfig
from tradeswarm.system.demo import run_demo
from tradeswarm.system.identities import load_identities
from tradeswarm.system.role_calls import agent_name, channel_of, role_of
from tradeswarm.system.role_seal import KERNEL

VERSION = 1


class TraceStep(msgspec.Struct, frozen=True):
    call_sha256: bytes
    answer: bytes


class Trace(msgspec.Struct, frozen=True):
    version: int
    namespace: str
    channels: dict[str, list[TraceStep]]
    """Per agent channel, its calls 1, 2, 3 ... of one kernel run (the latest)."""


class TraceDiverged(TradeswarmError):
    """The replaying kernel made a call the traced one did not make."""


async def record(
    transport: Transport,
    slots: Iterable[str],
    keyrings: Sequence[KemKeyring] = (),
    idle_s: float = 1.0,
) -> Trace:
    """Every call and answer of the slots' channels the server holds; of each channel,
    its latest kernel run (epoch), which must be whole (calls 1..n, each answered ok).
    Sealed bodies are opened with whichever of keyrings they were sealed to (the ends'
    or the audit log's: `keyrings_for`); one that opens with none is no part of a run."""
    opener = _Opener(keyrings)
    ns = transport.config.namespace
    channels = {channel_of(slot): subjects(ns, channel_of(slot)) for slot in slots}
    wanted = [subject for pair in channels.values() for subject in pair]
    consumer = await transport.consumer(wanted, f"trace-{time.time_ns()}", "r")
    calls: dict[str, dict[tuple[int, int], bytes]] = {c: {} for c in channels}
    answers: dict[str, dict[tuple[int, int], bytes]] = {c: {} for c in channels}
    by_subject = {s: (c, s == pair[0]) for c, pair in channels.items() for s in pair}
    try:
        while got := await consumer.fetch(1_000, idle_s):
            for d in got:
                channel, is_call = by_subject[d.subject]
                _take(d.data, calls[channel] if is_call else answers[channel], is_call, opener)
            await consumer.ack_many(got)
    finally:
        await consumer.close()
    steps = {c: _latest_run(c, calls[c], answers[c]) for c in channels}
    return Trace(VERSION, ns, steps)


def _take(data: bytes, into: dict[tuple[int, int], bytes], is_call: bool, opener: _Opener) -> None:
    try:
        if is_call:
            call = msgspec.msgpack.decode(data, type=Call)
            if (call.epoch, call.seq) not in into and (body := opener(call.body)) is not None:
                into[(call.epoch, call.seq)] = body
        else:
            answer = msgspec.msgpack.decode(data, type=Answer)
            key = (answer.epoch, answer.seq)
            fresh = answer.status == "ok" and key not in into
            if fresh and (body := opener(answer.body)) is not None:
                into[key] = body
    except msgspec.DecodeError:
        return  # junk on the wire is no part of any run


class _Opener:
    """A body as its ends see it: opened when sealed (to a key of ours), else as is."""

    def __init__(self, keyrings: Sequence[KemKeyring]) -> None:
        self.by_principal = {k.principal: k for k in keyrings}

    def __call__(self, body: bytes) -> bytes | None:
        if not self.by_principal:
            return body
        try:
            box = read_box(body)
        except SealError:
            return None  # a clear body where the ends seal: not theirs
        for entry in box.recipients:
            keyring = self.by_principal.get(entry.principal)
            if keyring is not None:
                try:
                    return open_sealed(body, topic=box.topic, keyring=keyring, sender=box.sender)
                except SealError:
                    return None
        return None


def keyrings_for(config: SwarmConfig) -> list[KemKeyring]:
    """The KEM keys that open a swarm's calls and answers: the keystore's audit-log
    identity's, or (the demo's public-seed keys) the kernel's and each agent's."""
    loaded = load_identities(config.identities)
    if loaded is not None:
        audit = [i for i in loaded[0] if i.role == AUDIT_LOG_ROLE]
        ends = audit or loaded[0]
        return [KemKeyring.of(i) for i in ends]
    names = [KERNEL, *((agent_name(slot), str(role_of(slot))) for slot in config.bus.remote_agents)]
    return [KemKeyring.of(i) for i in demo_identities(names)]


def _latest_run(
    channel: str, calls: dict[tuple[int, int], bytes], answers: dict[tuple[int, int], bytes]
) -> list[TraceStep]:
    if not answers:
        raise InvalidInput("trace", channel, "the server holds no answered call of this agent")
    epoch = max(e for e, _ in answers)
    n = max(s for e, s in answers if e == epoch)
    missing = [s for s in range(1, n + 1) if (epoch, s) not in answers or (epoch, s) not in calls]
    if missing:
        raise InvalidInput("trace", channel, f"calls {missing[:5]} of its latest run are gone")
    return [
        TraceStep(hashlib.sha256(calls[(epoch, s)]).digest(), answers[(epoch, s)])
        for s in range(1, n + 1)
    ]


def save(trace: Trace, path: Path) -> None:
    path.write_bytes(msgspec.msgpack.encode(trace))


def load(path: Path) -> Trace:
    try:
        trace = msgspec.msgpack.decode(path.read_bytes(), type=Trace)
    except (OSError, msgspec.DecodeError, msgspec.ValidationError) as err:
        raise InvalidInput("trace", str(path), f"not a tradeswarm trace: {err}") from err
    if trace.version != VERSION:
        raise InvalidInput("trace", str(path), f"version {trace.version}, expected {VERSION}")
    return trace


class TracePlayer:
    """Serves one channel's traced answers, in order, to a replaying kernel."""

    def __init__(self, transport: Transport, channel: str, steps: list[TraceStep]) -> None:
        self.channel, self.steps, self.played = channel, steps, 0
        self.server = RpcServer(transport, channel, self.apply, self.reset)

    async def apply(self, body: bytes) -> bytes:
        k = self.played
        if k >= len(self.steps):
            raise TraceDiverged(
                f"{self.channel}: call {k + 1} is past the trace's {len(self.steps)}"
            )
        if hashlib.sha256(body).digest() != self.steps[k].call_sha256:
            raise TraceDiverged(f"{self.channel}: call {k + 1} differs from the trace's")
        self.played += 1
        return self.steps[k].answer

    def reset(self) -> None:
        self.played = 0


async def replay(
    trace: Trace, config: SwarmConfig, db: str | Path, emit: Callable[[str], None]
) -> DailySummary | None:
    """The demo's day on a fresh store db, each of config's remote agents served from the
    trace (no server, no agent process); TraceDiverged (as the kernel's RemoteError) at
    the first call the kernel makes differently, or when it makes fewer."""
    traced = set(trace.channels)
    configured = {channel_of(slot) for slot in config.bus.remote_agents}
    if traced != configured:
        raise InvalidInput(
            "bus.remote_agents", config.bus.remote_agents, f"the trace holds {sorted(traced)}"
        )
    wire = MemoryTransport(msgspec.structs.replace(config.bus, backend="memory").transport())
    players = [TracePlayer(wire, c, steps) for c, steps in trace.channels.items()]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(p.server.serve(stop)) for p in players]
    try:
        # the answers' own signatures bound them to the traced run's calls; here each
        # call is checked against the trace's hash, and every envelope passes the gate
        summary = await run_demo(db, config, emit, wire=wire, trace_replay=True)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    for player in players:
        if summary is not None and player.played != len(player.steps):
            raise TraceDiverged(
                f"{player.channel}: the kernel made {player.played} calls, the trace holds "
                f"{len(player.steps)}"
            )
    return summary
