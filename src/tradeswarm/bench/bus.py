"""Bus benchmark: envelopes through each transport, against the raw client on the same bytes.

Ours, per backend, the path a process really takes: a trader publishes a burst of
TradeIntents (`Publisher.publish_many`: built, burst-signed with Ed25519, snapshotted,
logged, staged), the `Outlet` publishes them as one batch (canonical bytes, through
`Resilient`), and in the same event loop the risk side's `Inlet` fetches, checks the
ledger for duplicates, admits each through its `VerifyingGate` (ACL, times, replay,
signature via the burst root), delivers it to a handler, commits and acks. Latency is
from the start of a burst's publish to the handler seeing each of its envelopes.

Peer, same run, same bytes (the envelopes ours published): the raw client alone —
nats-py JetStream `publish_async` of the batch + a durable pull consumer's `fetch` and
`ack`; redis-py `XADD` in a pipeline + `XREADGROUP` + `XACK`; for memory, our
`MemoryTransport` without the bridge. `ratio` is ours / raw messages per second: what
the envelope, the signatures and exactly-once handling cost on top of the wire.

Servers: the machine's own (NATS on 127.0.0.1:4222 with JetStream, Redis on 6379 by
default), each run in a fresh namespace that is deleted afterwards.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time
import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from tradeswarm.bus.factory import open_transport
from tradeswarm.bus.identity import Identity
from tradeswarm.bus.inproc import InProcessBus
from tradeswarm.bus.remote import ExportSink, Inlet, MemoryLedger, Outlet
from tradeswarm.bus.resilience import Resilient
from tradeswarm.bus.signed import VerifyingGate
from tradeswarm.bus.signing import BusSigning
from tradeswarm.bus.topics import INTENTS, Role
from tradeswarm.bus.transport import Transport, TransportConfig, subject_of
from tradeswarm.core.clock import LiveClock
from tradeswarm.core.percentiles import p50_p99_ms
from tradeswarm.crypto.contexts import SigningPolicy
from tradeswarm.crypto.provision import demo_identities
from tradeswarm.crypto.registry import KeyRegistry
from tradeswarm.model.envelope import Envelope, encode_envelope
from tradeswarm.testkit import make_intent

TRADER = Identity("trading-agent-01", Role.TRADER)
URLS = {"memory": "", "nats": "nats://127.0.0.1:4222", "redis": "redis://127.0.0.1:6379/0"}


class _Ours:
    """A trader's process and a risk process on one transport, in one event loop."""

    def __init__(self, transport: Transport) -> None:
        ids = {i.principal: i for i in demo_identities([(TRADER.name, str(TRADER.role))])}
        registry = KeyRegistry(i.public() for i in ids.values())
        clock = LiveClock()
        self.sink = ExportSink(MemoryLedger(), {INTENTS.name}, max_pending=1_000_000)
        signing = BusSigning(SigningPolicy(), ids.values())
        self.bus = InProcessBus(clock, sink=self.sink, signing=signing, random_nonces=True)
        self.out = self.bus.attach(TRADER)
        self.outlet = Outlet(transport, self.sink, Resilient("bench"))
        self.ledger = MemoryLedger()
        self.risk_bus = InProcessBus(clock, sink=self.ledger, group_log_writes=True)
        self.gate = VerifyingGate(self.risk_bus, registry, clock)
        self.handled: dict[uuid.UUID, float] = {}
        self.risk_bus.subscribe_batch(INTENTS, self._on_intents)
        self.transport = transport

    async def _on_intents(self, envs: list[Envelope]) -> None:
        now = time.perf_counter()
        for env in envs:
            self.handled[env.msg_id] = now

    def burst(self, start: int, size: int) -> list[Envelope]:
        items = [
            (make_intent(intent_id=uuid.uuid4(), quantity=Decimal(1 + i % 7)), f"b{i}", None)
            for i in range(start, start + size)
        ]
        envs = self.out.publish_many(INTENTS, items)
        self.sink.commit()
        return envs


async def _run_ours(config: TransportConfig, messages: int, batch: int) -> dict[str, Any]:
    transport = open_transport(config)
    await transport.connect()
    try:
        ours = _Ours(transport)
        subject = subject_of(config.namespace, INTENTS.name)
        consumer = await transport.consumer([subject], "bench", "risk")
        inlet = Inlet(consumer, ours.gate, ours.risk_bus, ours.ledger)
        sent: dict[uuid.UUID, float] = {}
        wire: list[bytes] = []

        async def produce() -> None:
            for start in range(0, messages, batch):
                began = time.perf_counter()
                envs = ours.burst(start, min(batch, messages - start))
                await ours.outlet.flush()
                sent.update((e.msg_id, began) for e in envs)
                wire.extend(encode_envelope(e) for e in envs)
                await asyncio.sleep(0)

        async def consume() -> None:
            while len(ours.handled) < messages:
                await inlet.pump(batch, 0.2)

        started = time.perf_counter()
        await asyncio.wait_for(asyncio.gather(produce(), consume()), 300)
        elapsed = time.perf_counter() - started
        latencies = [ours.handled[m] - t for m, t in sent.items()]
        return {
            "messages_per_s": round(messages / elapsed, 1),
            **p50_p99_ms(latencies),
            "refused": inlet.stats.refused,
            "wire": wire,
        }
    finally:
        await transport.close()


async def _raw_memory(config: TransportConfig, wire: list[bytes], batch: int) -> list[float]:
    transport = open_transport(config)
    subject = subject_of(config.namespace, INTENTS.name)
    consumer = await transport.consumer([subject], "raw", "raw")
    return await _pipe(
        wire, batch, lambda b: transport.publish(subject, b), lambda: _memory_take(consumer, batch)
    )


async def _memory_take(consumer: Any, batch: int) -> int:
    got = await consumer.fetch(batch, 0.2)
    for d in got:
        await d.ack()
    return len(got)


async def _pipe(wire: list[bytes], batch: int, publish: Any, take: Any) -> list[float]:
    """Publish wire in batches while taking in the same loop; (elapsed, latencies...)."""
    began: list[float] = []
    handled: list[float] = []

    async def produce() -> None:
        for start in range(0, len(wire), batch):
            t = time.perf_counter()
            chunk = wire[start : start + batch]
            await publish(chunk)
            began.extend([t] * len(chunk))
            await asyncio.sleep(0)

    async def consume() -> None:
        while len(handled) < len(wire):
            n = await take()
            handled.extend([time.perf_counter()] * n)

    started = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(produce(), consume()), 300)
    elapsed = time.perf_counter() - started
    return [elapsed, *(h - b for h, b in zip(handled, began, strict=False))]


async def _raw_nats(config: TransportConfig, wire: list[bytes], batch: int) -> list[float]:
    import nats
    from nats.js import api

    nc = await nats.connect(config.url)
    js = nc.jetstream()
    stream, subject = f"{config.namespace}_RAW".upper(), f"{config.namespace}.raw.intents"
    await js.add_stream(name=stream, subjects=[subject], storage=api.StorageType.FILE)
    sub = await js.pull_subscribe(subject, durable="raw", stream=stream)

    async def publish(chunk: list[bytes]) -> None:
        futures = [await js.publish_async(subject, data) for data in chunk]
        await asyncio.gather(*futures)

    async def take() -> int:
        try:
            msgs = await sub.fetch(batch, timeout=0.2)
        except nats.errors.TimeoutError:
            return 0
        for m in msgs:
            await m.ack()
        return len(msgs)

    try:
        return await _pipe(wire, batch, publish, take)
    finally:
        await js.delete_stream(stream)
        await nc.close()


async def _raw_redis(config: TransportConfig, wire: list[bytes], batch: int) -> list[float]:
    import redis.asyncio as aioredis

    r = aioredis.from_url(config.url)
    key = f"{config.namespace}.raw.intents"
    await r.xgroup_create(key, "raw", id="0", mkstream=True)

    async def publish(chunk: list[bytes]) -> None:
        async with r.pipeline(transaction=False) as pipe:
            for data in chunk:
                pipe.xadd(key, {"d": data})
            await pipe.execute()

    async def take() -> int:
        reply: Any = await r.xreadgroup("raw", "raw", {key: ">"}, count=batch, block=200)
        ids = [i for _, entries in reply or [] for i, _ in entries]
        if ids:
            await r.xack(key, "raw", *ids)
        return len(ids)

    try:
        return await _pipe(wire, batch, publish, take)
    finally:
        await r.delete(key)
        await r.aclose()


RAW = {"memory": _raw_memory, "nats": _raw_nats, "redis": _raw_redis}


async def _cleanup(config: TransportConfig) -> None:
    """Delete what ours left on the server under the run's namespace."""
    if config.backend == "nats":
        import nats

        nc = await nats.connect(config.url)
        js = nc.jetstream()
        for info in await js.streams_info():
            name = info.config.name or ""
            if name.startswith(config.namespace.upper() + "_"):
                await js.delete_stream(name)
        await nc.close()
    elif config.backend == "redis":
        import redis.asyncio as aioredis

        r = aioredis.from_url(config.url)
        keys = [k async for k in r.scan_iter(match=f"{config.namespace}.*")]
        if keys:
            await r.delete(*keys)
        await r.aclose()


async def _one_backend(backend: str, url: str, messages: int, batch: int) -> dict[str, Any]:
    config = TransportConfig(backend=backend, url=url, namespace="b" + secrets.token_hex(4))
    try:
        ours = await _run_ours(config, messages, batch)
        raw = await RAW[backend](config, ours.pop("wire"), batch)
    finally:
        await _cleanup(config)
    raw_rate = messages / raw[0]
    return {
        "backend": backend,
        "ours": ours,
        "raw": {"messages_per_s": round(raw_rate, 1), **p50_p99_ms(raw[1:])},
        "ratio": round(ours["messages_per_s"] / raw_rate, 3),
    }


def run_bus_bench(
    messages: int = 5_000,
    batch: int = 500,
    backends: Sequence[str] = ("memory", "nats", "redis"),
    urls: dict[str, str] | None = None,
) -> dict[str, Any]:
    """See the module docstring; one dict per backend."""
    where = {**URLS, **(urls or {})}
    load_start = os.getloadavg()
    results = [asyncio.run(_one_backend(b, where[b], messages, batch)) for b in backends]
    return {
        "benchmark": "bus",
        "messages": messages,
        "batch": batch,
        "signing": "ed25519 burst per publish",
        "backends": results,
        "load_average_start": [round(x, 2) for x in load_start],
        "load_average_end": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
    }
