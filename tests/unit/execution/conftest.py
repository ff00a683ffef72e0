from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from exec_kit import COLLAR, SESSION, T0, Rig, exec_bar, exec_instruments

from tradeswarm.brokers.paper import PaperBroker
from tradeswarm.brokers.paper_config import PaperBrokerConfig
from tradeswarm.bus.inproc import InProcessBus
from tradeswarm.core.clock import SimClock, SimSleeper
from tradeswarm.data.view import MarketView
from tradeswarm.execution.agent import ExecutionAgent
from tradeswarm.store import Store
from tradeswarm.system.killswitch import KillSwitchState


@pytest.fixture
def rig() -> Iterator[Rig]:
    clock = SimClock(T0)
    store = Store.open(":memory:")
    store.set_initial_cash(Decimal(1_000_000))
    broker = PaperBroker(
        clock, PaperBrokerConfig(initial_cash=Decimal(1_000_000), symbols=["ES"]), ":memory:"
    )
    broker.open_session(SESSION)
    broker.on_bar(exec_bar(T0))
    market = MarketView()
    market.open_session(SESSION)
    market.on_bar(exec_bar(T0))
    bus = InProcessBus(clock, sink=store)
    KillSwitchState(bus, store)  # the flag's projector, subscribed first as in a swarm
    agent = ExecutionAgent(
        "order-executor-01",
        bus,
        clock,
        broker=broker,
        store=store,
        market=market,
        sleeper=SimSleeper(clock),
        instruments=exec_instruments(),
        collar=COLLAR,
    )
    yield Rig(clock=clock, store=store, broker=broker, bus=bus, market=market, agent=agent)
    broker.close()
    store.close()
