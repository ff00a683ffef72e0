"""A burst of intents decided in one call is exactly the intents decided one at a time.

Two risk managers on identical buses, stores and markets get the same envelopes: one
takes each run of intents as a burst (`on_intents`: speculative contexts, one call of the
gate's batch path), the other one intent at a time (`on_intent`, the reference path).
For random bursts (sizes, prices, symbols, agents, bad signatures, replays and reused
intent ids, duplicates, floods over the throttle, open-order and credit limits near the
edge, REVIEWs and DENYs), over several bursts a second apart with order updates in
between, every published envelope (byte for byte, signatures included), every stored
decision and oversight request, and the books the managers keep afterwards are the same.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import msgspec
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from signed_kit import Recorder as BaseRecorder
from signed_kit import keys_for
from tradeswarm.bus.identity import Identity
from tradeswarm.bus.inproc import InProcessBus
from tradeswarm.bus.signing import BusSigning
from tradeswarm.bus.topics import INTENTS, ORDERS, RISK_DECISIONS, Role
from tradeswarm.core.clock import NS_PER_SECOND, SimClock
from tradeswarm.crypto import verify_envelope
from tradeswarm.crypto.contexts import SigningPolicy
from tradeswarm.crypto.registry import KeyRegistry
from tradeswarm.data.view import MarketView
from tradeswarm.execution.agent import order_for
from tradeswarm.instruments import InstrumentMaster
from tradeswarm.model.enums import OrderType, Side, TimeInForce, Verdict
from tradeswarm.model.envelope import Envelope, signing_bytes
from tradeswarm.model.market import Bar, Instrument, Session
from tradeswarm.model.messages import OrderUpdated, RiskDecision, TradeIntent
from tradeswarm.model.order import OrderTrigger
from tradeswarm.risk.engines import make_engine
from tradeswarm.risk.gate import PolicyGate
from tradeswarm.risk.limits import EngineKind, RiskLimits
from tradeswarm.risk.manager import RiskManager
from tradeswarm.risk.policyset import load_bundle
from tradeswarm.store import Store
from tradeswarm.testkit import T0, make_intent

MINUTE = 60 * NS_PER_SECOND
BUNDLE = load_bundle()
ENGINE = make_engine(EngineKind.COMPILED, BUNDLE)
CENT = Decimal("0.01")
MASTER = InstrumentMaster(
    [
        Instrument(symbol="ES", asset_class="equity_index_future", tick_size=CENT),
        Instrument(symbol="NQ", asset_class="equity_index_future", tick_size=CENT),
        Instrument(
            symbol="FUT50",
            asset_class="equity_index_future",
            multiplier=Decimal(50),
            tick_size=Decimal("0.25"),
        ),
        Instrument(symbol="BTCUSD", asset_class="crypto", tick_size=CENT),
        Instrument(symbol="DELISTED", asset_class="equity", tick_size=CENT, tradable=False),
        Instrument(symbol="NOQUOTE", asset_class="equity_index_future", tick_size=CENT),
    ],
    "the burst test",
)
PRICES = {"ES": 100, "NQ": 2_500, "FUT50": 400, "BTCUSD": 30_000, "DELISTED": 10}
SYMBOLS = ["ES"] * 5 + ["NQ", "FUT50"] * 2 + ["BTCUSD", "DELISTED", "UNKNOWN", "NOQUOTE"]
SESSION = Session(day="2024-01-02", open_ns=T0 - 60 * MINUTE, close_ns=T0 + 390 * MINUTE)
TRADERS = [Identity(f"trading-agent-0{n}", Role.TRADER) for n in (1, 2, 3)]
RISK = Identity("risk-manager-01", Role.RISK)
EXECUTION = Identity("order-executor-01", Role.EXECUTION)
IDENTITIES = keys_for([*TRADERS, RISK, EXECUTION])
# trading-agent-03 signs with keys the registry does not hold: its intents name no principal
REGISTRY = KeyRegistry(i.public() for p, i in IDENTITIES.items() if "agent-03" not in p)


class Recorder(BaseRecorder):
    def unsigned(self) -> list[bytes]:
        """What was logged, each envelope with its signature slot empty (a burst is
        signed once by the root over it, so the blocks differ from one at a time)."""
        return [signing_bytes(e) for e in self.logged]

    def verify(self) -> None:
        """Every signature verifies: the risk manager's, and the traders' the registry holds."""
        for env in self.logged:
            if "agent-03" not in env.sender:
                verify_envelope(env, REGISTRY, SigningPolicy())


def _market() -> MarketView:
    view = MarketView()
    view.open_session(SESSION)
    for symbol, price in PRICES.items():
        for k in range(32, -1, -1):
            wiggle = Decimal((k * 7919 + len(symbol)) % 11 - 5) / 20_000  # a tail, low vol
            close = Decimal(price) * (1 + wiggle)
            view.on_bar(
                Bar(
                    symbol=symbol,
                    ts_event=T0 - k * MINUTE,
                    open=close,
                    high=close,
                    low=close,
                    close=close,
                    volume=Decimal(1),
                )
            )
    return view


class World:
    """A store, market and signing bus with one risk manager on it."""

    def __init__(self, limits: RiskLimits, burst: bool, halted: frozenset[str]) -> None:
        self.clock = SimClock(T0)
        self.sink = Recorder()
        signing = BusSigning(SigningPolicy(), IDENTITIES.values())
        self.bus = InProcessBus(self.clock, sink=self.sink, signing=signing)
        self.store = Store.open(":memory:")
        self.store.set_initial_cash(Decimal(5_000_000))
        self.market = _market()
        self.market.halted.update(halted)
        self.manager = RiskManager(
            "risk-manager-01",
            self.bus,
            self.clock,
            store=self.store,
            market=self.market,
            limits=limits,
            instruments=MASTER,
            registry=REGISTRY,
            gate=PolicyGate(BUNDLE, ENGINE[0], limits, ENGINE[1]),
            burst=burst,
        )
        self.decisions: list[RiskDecision] = []

        async def seen(env: Envelope) -> None:
            assert isinstance(env.payload, RiskDecision)
            self.decisions.append(env.payload)

        self.bus.subscribe(RISK_DECISIONS, seen)

    async def burst(self, specs: list[tuple[int, TradeIntent]], at: int) -> None:
        self.clock.set(at)
        for n, (who, intent) in enumerate(specs):
            self.bus.attach(TRADERS[who]).publish(INTENTS, intent, key=f"{at}:{n}")
        await self.bus.drain()

    async def fill_some(self, every: int) -> None:
        """Orders for some PERMITs (a fill ends them), as the execution agent would."""
        out = self.bus.attach(EXECUTION)
        for n, d in enumerate(list(self.decisions)):
            if d.verdict is not Verdict.PERMIT or n % every:
                continue
            i = d.intent
            order = order_for(d, self.clock.now_ns())
            now = self.clock.now_ns()
            order = order.transition(OrderTrigger.SUBMIT, now).transition(OrderTrigger.ACK, now)
            order = order.apply_fill(i.quantity / 2, Decimal(100), now)
            out.publish(ORDERS, OrderUpdated(order=order, ts_event=now), key=str(order.order_id))
        await self.bus.drain()

    def state(self) -> dict[str, Any]:
        book = self.manager.measure.open_orders
        marks = self.market.marks()
        mults = self.manager.measure.multipliers
        return {
            "decisions": [encode_envelope_like(d) for d in self.store.list_decisions()],
            "oversight": [r.request for r in self.store.list_oversight()],
            "open": {t.name: book.count(t.name) for t in TRADERS},
            "exposure": str(book.exposure(marks, mults)),
        }


def encode_envelope_like(d: RiskDecision) -> tuple[object, ...]:
    return (d.decision_id, d.verdict, tuple(d.reasons), tuple(sorted(d.metrics.items())), d.phase)


qty = st.sampled_from([Decimal(1)] * 3 + [Decimal(2), Decimal(5), Decimal("0.5"), Decimal(40)])


@st.composite
def intent_spec(draw: st.DrawFn, n: int) -> tuple[int, TradeIntent]:
    who = draw(st.sampled_from([0, 0, 0, 0, 1, 1, 1, 1, 1, 2]))
    symbol = draw(st.sampled_from(SYMBOLS))
    price = Decimal(PRICES.get(symbol, 100))
    kind = draw(st.sampled_from([OrderType.MARKET, OrderType.MARKET, OrderType.LIMIT]))
    limit = None
    if kind is OrderType.LIMIT:
        limit = price * draw(st.sampled_from([Decimal("0.99"), Decimal(1), Decimal("1.2")]))
    name = TRADERS[who].name if draw(st.integers(0, 9)) else TRADERS[(who + 1) % 3].name
    intent = make_intent(
        intent_id=uuid.UUID(int=draw(st.integers(0, 2**64))),
        agent_id=name,
        symbol=symbol,
        side=draw(st.sampled_from([Side.BUY] * 5 + [Side.SELL])),
        quantity=draw(qty) * draw(st.sampled_from([1] * 6 + [10, 30])),
        order_type=kind,
        limit_price=limit,
        time_in_force=TimeInForce.DAY,
        reference_price=price,
        ts_event=T0,
    )
    return who, intent


@st.composite
def bursts(draw: st.DrawFn) -> list[list[tuple[int, TradeIntent]]]:
    out = []
    for _ in range(draw(st.integers(1, 3))):
        size = draw(st.integers(1, 24))
        specs = [draw(intent_spec(size)) for _ in range(size)]
        for _ in range(draw(st.integers(0, 2))):  # an intent id seen before, in this burst
            seen = [s for b in out for s in b] + specs  # or an earlier one
            who, again = seen[draw(st.integers(0, len(seen) - 1))]
            if draw(st.booleans()):  # another body under the same id: a conflict
                again = msgspec.structs.replace(again, quantity=again.quantity + 1)
            specs.insert(draw(st.integers(0, len(specs))), (who, again))
        out.append(specs)
    return out


limits_st = st.builds(
    RiskLimits,
    agent_tiers=st.just({"trading-agent-01": "professional", "trading-agent-02": "enterprise"}),
    position_limit=st.sampled_from([Decimal(100), Decimal(10_000)]),
    max_concentration=st.sampled_from([0.2, 5.0]),
    max_intents_per_second=st.integers(1, 12),
    max_intents_per_minute=st.integers(2, 40),
    duplicate_window_s=st.sampled_from([0, 10]),
    max_open_orders=st.integers(1, 8),
    max_gross_exposure=st.sampled_from([Decimal(5_000), Decimal(200_000), Decimal(10**7)]),
    min_history_bars=st.just(30),
)


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    limits=limits_st,
    plan=bursts(),
    fill_every=st.integers(1, 3),
    halted=st.sampled_from([frozenset(), frozenset({"NQ"})]),
)
def test_a_burst_decides_exactly_what_one_at_a_time_does(
    limits: RiskLimits,
    plan: list[list[tuple[int, TradeIntent]]],
    fill_every: int,
    halted: frozenset[str],
) -> None:
    asyncio.run(_compare(limits, plan, fill_every, halted))


async def _compare(
    limits: RiskLimits,
    plan: list[list[tuple[int, TradeIntent]]],
    fill_every: int,
    halted: frozenset[str],
) -> None:
    one, many = World(limits, False, halted), World(limits, True, halted)
    try:
        for n, specs in enumerate(plan):
            at = T0 + n * NS_PER_SECOND // 2
            await one.burst(specs, at)
            await many.burst(specs, at)
            await one.fill_some(fill_every)
            await many.fill_some(fill_every)
        assert many.sink.unsigned() == one.sink.unsigned()
        many.sink.verify()
        one.sink.verify()
        assert many.state() == one.state()
        event(f"verdicts {sorted(str(v) for v in {d.verdict for d in one.decisions})}")
        event(f"a burst decided again: {many.manager.stats.redecided_bursts > 0}")
        for kind in _kinds(one.decisions):
            event(f"seen: {kind}")
    finally:
        one.store.close()
        many.store.close()


def _kinds(decisions: Sequence[RiskDecision]) -> set[str]:
    """What the examples covered: replays, conflicts and the DENY reasons' policies."""
    kinds = {f"reason {r.split(':', 1)[0].split(' ', 1)[0]}" for d in decisions for r in d.reasons}
    ids = [d.decision_id for d in decisions]
    if len(ids) != len(set(ids)):
        kinds.add("a replay")
    if any(d.phase.name == "CONFLICT" for d in decisions):
        kinds.add("a conflict")
    return kinds
