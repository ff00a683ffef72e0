"""A risk process for the chaos tests, run as its own OS process (and killed -9 at random):
it consumes intents from the wire, admits them through its VerifyingGate and answers each
with a decision, every fetched batch one unit of work in a real SQLite store.

    python risk_consumer.py BACKEND URL NAMESPACE DB [DELAY_S]

DELAY_S: how long the handler takes per intent, so that a kill lands inside a unit of
work rather than between two.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' kits

from remote_kit import RiskEnd, clock_at_t0
from tradeswarm.bus.factory import open_transport
from tradeswarm.bus.transport import TransportConfig
from tradeswarm.store import Store
from tradeswarm.system.wire import StoreLedger


async def main(backend: str, url: str, namespace: str, db: str, delay: str = "0") -> None:
    config = TransportConfig(backend=backend, url=url, namespace=namespace, ack_wait_s=1.0)
    transport = open_transport(config)
    while True:  # the server may be restarting
        try:
            await transport.connect()
            break
        except Exception:
            await asyncio.sleep(0.2)
    store = Store.open(db, writer=True)
    risk = RiskEnd(transport, clock_at_t0(), ledger=StoreLedger(store), delay_s=float(delay))
    inlet = None
    print("ready", flush=True)
    while True:
        try:
            inlet = inlet or await risk.inlet(member="risk", max_deliver=5)
            await inlet.pump(64, 0.2)
        except Exception as err:  # the server went away: wait, go on
            print(f"pump: {type(err).__name__}: {err}", flush=True)
            await asyncio.sleep(0.2)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:6]))
