"""Is the wire there: a probe through a consumer group, and the dead letters, for
`tradeswarm bus check` and `tradeswarm bus dead-letters`."""

from __future__ import annotations

import os
import time
from typing import Any

from tradeswarm.bus.factory import open_transport
from tradeswarm.bus.transport import DeadLetter, TransportConfig, TransportUnavailable
from tradeswarm.model.envelope import decode_head


async def probe(config: TransportConfig) -> dict[str, Any]:
    """Publish one probe on `<ns>.health.probe`, fetch it in group `health`, ack it."""
    transport = open_transport(config)
    await transport.connect()
    try:
        subject = f"{config.namespace}.health.probe"
        consumer = await transport.consumer([subject], "health", f"probe-{os.getpid()}")
        token = os.urandom(8).hex().encode()
        started = time.perf_counter()
        await transport.publish(subject, [token])
        deadline = time.monotonic() + config.connect_timeout_s
        seen = False
        while not seen and time.monotonic() < deadline:
            for d in await consumer.fetch(100, 0.2):
                seen = seen or d.data == token
                await d.ack()  # earlier probes, never acked by a check that died, too
        rtt = time.perf_counter() - started
        await consumer.close()
        if not seen:
            raise TransportUnavailable(f"bus.url {config.url!r}: the probe never came back")
        dead = await transport.dead_letters()
    finally:
        await transport.close()
    return {
        "backend": config.backend,
        "url": config.url,
        "namespace": config.namespace,
        "round_trip_ms": round(rtt * 1e3, 3),
        "dead_letters": len(dead),
        "ok": True,
    }


async def list_dead(config: TransportConfig, limit: int) -> list[dict[str, Any]]:
    transport = open_transport(config)
    await transport.connect()
    try:
        return [_row(d) for d in await transport.dead_letters(limit)]
    finally:
        await transport.close()


def _row(dead: DeadLetter) -> dict[str, Any]:
    row: dict[str, Any] = {
        "subject": dead.subject,
        "attempts": dead.attempts,
        "reason": dead.reason,
        "ts_ns": dead.ts_ns,
    }
    head = decode_head(dead.data)
    if head is None:
        row.update(sealed=dead.data[:1] != b"{", bytes=len(dead.data))
    else:
        row.update(msg_id=str(head.msg_id), type=head.type, sender=head.sender)
    return row
