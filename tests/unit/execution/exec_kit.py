"""A real execution rig: PaperBroker (in memory), Store, InProcessBus, MarketView."""

from __future__ import annotations

import uuid
from decimal import Decimal

from signed_kit import signed_bus
from tradeswarm.brokers.paper import PaperBroker
from tradeswarm.brokers.paper_config import PaperBrokerConfig
from tradeswarm.bus.identity import Identity
from tradeswarm.bus.inproc import InProcessBus
from tradeswarm.bus.topics import RISK_DECISIONS, Role
from tradeswarm.core.clock import NS_PER_SECOND, SimClock, SimSleeper
from tradeswarm.data.view import MarketView
from tradeswarm.execution.agent import ExecutionAgent
from tradeswarm.execution.pretrade import Collar
from tradeswarm.instruments import InstrumentMaster, load_master
from tradeswarm.model.enums import OrderType, Side, Verdict
from tradeswarm.model.envelope import Envelope
from tradeswarm.model.market import Bar, Instrument, Session
from tradeswarm.model.messages import RiskDecision
from tradeswarm.store import Store
from tradeswarm.system.killswitch import KillSwitchState
from tradeswarm.testkit import T0, make_decision, make_intent

MIN = 60 * NS_PER_SECOND
SESSION = Session(day="2024-01-02", open_ns=T0 - MIN, close_ns=T0 + 390 * MIN)
RISK = Identity("risk-manager-01", Role.RISK)
#: The desk's collar: within 5% of the reference, no tick allowance.
COLLAR = Collar(Decimal("0.05"), Decimal(0))
#: A symbol the instrument master knows but the paper broker does not list.
NOT_AT_BROKER = Instrument(symbol="ZZ", asset_class="equity", tick_size=Decimal("0.01"))


def exec_instruments() -> InstrumentMaster:
    """The bundled master (ES: tick 0.25, multiplier 50) plus ZZ."""
    return load_master().with_instruments(NOT_AT_BROKER)


def exec_bar(ts: int, price: str = "100", symbol: str = "ES") -> Bar:
    p = Decimal(price)
    return Bar(symbol=symbol, ts_event=ts, open=p, high=p, low=p, close=p, volume=Decimal(10_000))


def permit(
    clock: SimClock,
    n: int = 1,
    *,
    qty: str = "5",
    symbol: str = "ES",
    side: Side = Side.BUY,
    verdict: Verdict = Verdict.PERMIT,
    limit: str | None = None,
    reference_price: str | None = "100",
) -> RiskDecision:
    """A decision on a MARKET intent, or a LIMIT one at `limit`; reference_price is the
    quote mid the gate valued the trade at (its metrics["reference_price"]; None: a
    decision without it, which execution refuses)."""
    now = clock.now_ns()
    i = make_intent(
        intent_id=uuid.UUID(int=1000 + n),
        symbol=symbol,
        side=side,
        quantity=Decimal(qty),
        order_type=OrderType.MARKET if limit is None else OrderType.LIMIT,
        limit_price=limit,
        ts_event=now,
    )
    metrics = {} if reference_price is None else {"reference_price": reference_price}
    return make_decision(
        decision_id=uuid.UUID(int=2000 + n),
        intent=i,
        verdict=verdict,
        reasons=["all rules passed"],
        metrics=metrics,
        ts_event=now,
    )


class Rig:
    def __init__(
        self,
        *,
        clock: SimClock,
        store: Store,
        broker: PaperBroker,
        bus: InProcessBus,
        market: MarketView,
        agent: ExecutionAgent,
    ) -> None:
        self.clock = clock
        self.store = store
        self.broker = broker
        self.bus = bus
        self.market = market
        self.agent = agent
        self.risk = bus.attach(RISK)

    async def send(self, decision: RiskDecision, key: str | None = None) -> Envelope:
        env = self.risk.publish(RISK_DECISIONS, decision, key=key or str(decision.decision_id))
        await self.bus.drain()
        return env

    def close(self) -> None:
        self.broker.close()
        self.store.close()

    def tick(self, price: str = "100", symbol: str = "ES") -> None:
        """Move time to now and give both the broker and the view a fresh bar."""
        b = exec_bar(self.clock.now_ns(), price, symbol)
        self.market.on_bar(b)
        if symbol == "ES":
            self.broker.on_bar(b)


def build_rig(burst: bool = True, symbols: tuple[str, ...] = ("ES",), signed: bool = False) -> Rig:
    """A rig at T0 with a session open and one bar seen; burst: the agent's path;
    signed: the bus signs every non-repudiable type (`signed_kit.signed_bus`)."""
    clock = SimClock(T0)
    store = Store.open(":memory:")
    store.set_initial_cash(Decimal(1_000_000))
    config = PaperBrokerConfig(initial_cash=Decimal(1_000_000), symbols=list(symbols))
    broker = PaperBroker(clock, config, ":memory:")
    broker.open_session(SESSION)
    market = MarketView()
    market.open_session(SESSION)
    for symbol in symbols:
        broker.on_bar(exec_bar(T0, symbol=symbol))
        market.on_bar(exec_bar(T0, symbol=symbol))
    bus = signed_bus(clock, sink=store)[0] if signed else InProcessBus(clock, sink=store)
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
        burst=burst,
    )
    return Rig(clock=clock, store=store, broker=broker, bus=bus, market=market, agent=agent)
