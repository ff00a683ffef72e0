"""StrategyAgent: a user's Strategy as one of the swarm's trading agents.

It sees the swarm's bars as they arrive (`strategy.market.LiveMarket`), and what its
strategy proposes it publishes as a `TradeIntent` signed with its own identity: the risk
manager decides it like any trader's (the principal is the signature), the execution
agent alone sends it to the broker. Its positions are the fills of its own orders (the
orders' agent_id), told to the strategy; so are the gate's decisions on its intents.
Bars replayed after a restart (``publish=False``) warm the strategy up: what it proposes
on them goes nowhere, and the log gives its fills back (``restore``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal

from tradeswarm.bus.agent import Agent
from tradeswarm.bus.inproc import InProcessBus
from tradeswarm.bus.topics import FILLS, INTENTS, ORDERS, RISK_DECISIONS, SIGNALS, Role
from tradeswarm.core.clock import Clock
from tradeswarm.core.errors import InvalidInput
from tradeswarm.core.ids import derived_id
from tradeswarm.model.envelope import Envelope
from tradeswarm.model.market import Bar
from tradeswarm.model.messages import (
    FillReceived,
    MarketSignal,
    OrderUpdated,
    RiskDecision,
    TradeIntent,
)
from tradeswarm.strategy.api import Context, DecisionRef, FillRef, Proposal, Strategy
from tradeswarm.strategy.market import BarRef, LiveMarket

#: What the desk tells a strategy about the account: (cash, equity) now.
Books = Callable[[], tuple[Decimal, Decimal]]
ZERO = Decimal(0)


class StrategyAgent(Agent):
    role = Role.TRADER

    def __init__(
        self,
        name: str,
        bus: InProcessBus,
        clock: Clock,
        strategy: Strategy,
        symbols: list[str],
        books: Books | None,
    ) -> None:
        """symbols: what it trades and sees bars of (empty: any symbol, bars of none);
        books: the account's (cash, equity) for the context (None: not offered)."""
        self.strategy = strategy
        self.market = LiveMarket(symbols)
        self._books = books
        self._positions: dict[str, Decimal] = {}
        self._orders: dict[uuid.UUID, str] = {}  # order id -> intent id, of my orders
        self._intents: set[uuid.UUID] = set()
        self._seq = 0
        self._live = False
        self._started = False
        self._cause: Envelope | None = None  # the signal being answered
        self._last: dict[str, int] = {}  # symbol -> ts of my last intent in it
        super().__init__(name, bus, clock)
        self.ctx = Context(name, symbols, self.market, self)

    def subscribe(self, bus: InProcessBus) -> None:
        bus.subscribe(SIGNALS, self.on_signal)
        bus.subscribe(ORDERS, self.on_order)
        bus.subscribe(FILLS, self.on_fill)
        bus.subscribe(RISK_DECISIONS, self.on_decision)

    # -- the Desk protocol, for the strategy's context
    def position(self, strategy: str, symbol: str) -> Decimal:
        return self._positions.get(symbol, ZERO)

    def cash(self) -> Decimal:
        return self._account()[0]

    def equity(self) -> Decimal:
        return self._account()[1]

    def _account(self) -> tuple[Decimal, Decimal]:
        if self._books is None:
            raise NotImplementedError(f"{self.identity.name} is not told the account's books")
        return self._books()

    def warming_up(self) -> bool:
        return not self._live

    def last_proposal_ns(self, strategy: str, symbol: str) -> int | None:
        return self._last.get(symbol)

    def schedule(self, strategy: str, name: str, at_ns: int) -> None:
        raise NotImplementedError("timers inside the swarm are not supported yet")

    def propose(self, strategy: str, proposal: Proposal) -> str:
        if not self._live:
            return "warm-up"
        intent = self._intent_of(proposal)
        self._intents.add(intent.intent_id)
        self._last[intent.symbol] = intent.ts_event
        self.out.publish(INTENTS, intent, key=str(intent.intent_id), cause=self._cause)
        return str(intent.intent_id)

    def _intent_of(self, p: Proposal, check_time: bool = True) -> TradeIntent:
        """The intent a proposal becomes: its id derives from the time and the signal it
        answers (or its place among this bar's proposals), so a redone bar meets itself."""
        now = self.clock.now_ns()
        at = now if p.at_ns is None else p.at_ns
        if check_time and at > now:
            raise ValueError(f"a proposal decided at {at} is later than the clock ({now})")
        self._seq += 1
        tag = str(p.signal_id) if p.signal_id is not None else f"{self._seq}"
        reference = p.reference_price
        if reference is None and p.symbol in self.market.symbols:
            close = self.market.last_close(p.symbol)
            reference = Decimal(repr(close)) if close else None
        if reference is None:
            raise InvalidInput("reference_price", None, f"no bar of {p.symbol} seen yet")
        intent_id = derived_id(at, "intent", self.identity.name, tag)
        rationale = p.rationale or type(self.strategy).__name__
        return p.intent(intent_id, self.identity.name, reference, at, rationale)

    def intent_for(self, proposal: Proposal) -> TradeIntent:
        """The intent proposal would become, not published (for tests and tools)."""
        seq = self._seq
        try:
            return self._intent_of(proposal, check_time=False)
        finally:
            self._seq = seq

    async def on_signal(self, env: Envelope) -> None:
        """The analyzer's signals reach the strategy as they are published (live only:
        the analyzer publishes none while it warms up)."""
        assert isinstance(env.payload, MarketSignal)
        self._cause, self._live = env, True
        try:
            self.strategy.on_signal(self.ctx, env.payload)
        finally:
            self._cause = None

    # -- the swarm's side
    def on_bar(self, bar: Bar, publish: bool = True) -> None:
        """A closed bar; publish=False: a bar replayed after a restart (warm-up)."""
        ref = BarRef(
            bar.symbol,
            bar.ts_event,
            float(bar.open),
            float(bar.high),
            float(bar.low),
            float(bar.close),
            float(bar.volume),
        )
        if bar.symbol not in self.market.symbols:
            return
        self.market.append(ref)
        if not self._started:
            self._started = True
            self.strategy.on_start(self.ctx)
        self._live = publish
        self._seq = 0
        self.strategy.on_bar(self.ctx, ref)

    def restore(self, env: Envelope) -> None:
        """Rebuild positions from the log after a restart (no callbacks)."""
        self._track(env, tell=False)

    async def on_order(self, env: Envelope) -> None:
        self._track(env, tell=True)

    async def on_fill(self, env: Envelope) -> None:
        self._track(env, tell=True)

    async def on_decision(self, env: Envelope) -> None:
        d = env.payload
        assert isinstance(d, RiskDecision)
        if d.intent.agent_id == self.identity.name and d.intent.intent_id in self._intents:
            answer = DecisionRef(
                str(d.intent.intent_id), d.intent.symbol, str(d.verdict), tuple(d.reasons), ""
            )
            self.strategy.on_decision(self.ctx, answer)

    def _track(self, env: Envelope, tell: bool) -> None:
        body = env.payload
        if isinstance(body, TradeIntent) and body.agent_id == self.identity.name:
            self._intents.add(body.intent_id)
            self._last[body.symbol] = body.ts_event
        elif isinstance(body, OrderUpdated) and body.order.agent_id == self.identity.name:
            self._orders[body.order.order_id] = str(body.order.intent_id)
        elif isinstance(body, FillReceived) and body.order_id in self._orders:
            held = self._positions.get(body.symbol, ZERO)
            self._positions[body.symbol] = held + body.side.sign * body.quantity
            if tell:
                fill = FillRef(
                    body.symbol,
                    body.side,
                    body.quantity,
                    body.price,
                    body.fee,
                    body.ts_event,
                    self._orders[body.order_id],
                )
                self.strategy.on_fill(self.ctx, fill)
