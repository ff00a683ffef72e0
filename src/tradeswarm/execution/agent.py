"""ExecutionAgent: turns PERMITs into broker orders, exactly once, and tracks them to the end."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

import msgspec

from tradeswarm.brokers.errors import BrokerError, BrokerFatal, BrokerRetryable
from tradeswarm.brokers.port import (
    BrokerOrder,
    BrokerOrderStatus,
    BrokerPort,
    OrderRequest,
    OrderResponse,
    PlaceResult,
)
from tradeswarm.bus.agent import Agent, Outbox
from tradeswarm.bus.inproc import InProcessBus
from tradeswarm.bus.topics import (
    EXECUTION_REJECTED,
    FILLS,
    KILLSWITCH,
    ORDERS,
    RISK_DECISIONS,
    Role,
    Topic,
)
from tradeswarm.core.clock import NS_PER_MS, Clock, Sleeper
from tradeswarm.core.errors import InvariantViolation
from tradeswarm.core.ids import derived_id
from tradeswarm.data.view import MarketView
from tradeswarm.execution.pretrade import (
    Collar,
    ExecutionConfig,
    collar_refusal,
    pretrade_refusals,
)
from tradeswarm.instruments import InstrumentMaster
from tradeswarm.model.enums import Verdict
from tradeswarm.model.envelope import Envelope
from tradeswarm.model.messages import (
    AnyMessage,
    ExecutionRejected,
    FillReceived,
    KillSwitchActivated,
    OrderUpdated,
    RiskDecision,
    TradeIntent,
)
from tradeswarm.model.order import Order, OrderState, OrderTrigger
from tradeswarm.model.portfolio import Fill
from tradeswarm.store import Store

FILLS_SINCE = "execution.fills_since_ns"
_BROKER_END = {
    BrokerOrderStatus.CANCELED: OrderTrigger.CANCEL,
    BrokerOrderStatus.EXPIRED: OrderTrigger.EXPIRE,
    BrokerOrderStatus.REJECTED: OrderTrigger.REJECT,
}


def order_for(decision: RiskDecision, now_ns: int) -> Order:
    """The order a PERMIT becomes; its ids derive from the intent, so a replay recomputes them."""
    return order_of_intent(decision.intent, now_ns)


def order_of_intent(i: TradeIntent, now_ns: int) -> Order:
    """The order a permitted intent becomes (CREATED), its ids derived from the intent."""
    order_id = derived_id(i.ts_event, "order", str(i.intent_id))
    return Order(
        order_id=order_id,
        client_order_id=f"ts-{order_id}",
        intent_id=i.intent_id,
        agent_id=i.agent_id,
        symbol=i.symbol,
        side=i.side,
        quantity=i.quantity,
        order_type=i.order_type,
        time_in_force=i.time_in_force,
        limit_price=i.limit_price,
        stop_price=i.stop_price,
        created_ns=now_ns,
        updated_ns=now_ns,
    )


def request_for(order: Order) -> OrderRequest:
    return OrderRequest(
        client_order_id=order.client_order_id,
        internal_order_id=str(order.order_id),
        symbol=order.symbol,
        side=order.side,
        quantity=order.quantity,
        order_type=order.order_type,
        time_in_force=order.time_in_force,
        limit_price=order.limit_price,
        stop_price=order.stop_price,
    )


class Checked(NamedTuple):
    """A new PERMIT's order in a burst, with what its pre-trade checks refused."""

    order: Order
    cause: Envelope
    refusals: list[str]


class ExecutionAgent(Agent):
    """The only broker holder. Pre-trade checks, idempotent submission, retries, fills."""

    role = Role.EXECUTION

    def __init__(
        self,
        name: str,
        bus: InProcessBus,
        clock: Clock,
        *,
        broker: BrokerPort,
        store: Store,
        market: MarketView,
        sleeper: Sleeper,
        instruments: InstrumentMaster,
        collar: Collar,
        config: ExecutionConfig | None = None,
        burst: bool = True,
    ) -> None:
        """instruments and collar: the instrument master and the desk's price collar, for
        the collar's re-check against the latest quote right before an order is sent.
        burst=False subscribes the one-at-a-time path (the reference the tests compare
        with) instead of `on_decisions`."""
        self.burst = burst
        self._outbox: Outbox | None = None  # set while a burst's messages are held
        self.instruments = instruments
        self.collar = collar
        self.broker = broker
        self.store = store
        self.market = market
        self.sleeper = sleeper
        self.config = config or ExecutionConfig()
        super().__init__(name, bus, clock)

    def subscribe(self, bus: InProcessBus) -> None:
        if self.burst:
            bus.subscribe_batch(RISK_DECISIONS, self.on_decisions)
        else:
            bus.subscribe(RISK_DECISIONS, self.on_decision)
        bus.subscribe(KILLSWITCH, self.on_killswitch)

    async def on_decisions(self, envs: list[Envelope]) -> None:
        """A run of decisions. Its new PERMITs are checked in order and sent as one burst
        (`_submit_burst`); an order the store already knows (a replay) is recovered on
        its own, after the burst pending before it is sent."""
        pending: list[Checked] = []
        cids: set[str] = set()
        for env in envs:
            decision = env.payload
            assert isinstance(decision, RiskDecision)
            if decision.verdict is not Verdict.PERMIT:
                continue
            order = order_for(decision, self.clock.now_ns())
            cid = order.client_order_id
            if cid in cids:  # a repeat in the run: send what is pending, then it is known
                await self._submit_burst(pending)
                pending, cids = [], set()
            known = self.store.get_order_by_client_id(cid)
            if known is not None:
                await self._submit_burst(pending)
                pending, cids = [], set()
                await self._recover(known, env)
            else:
                pending.append(Checked(order, env, self._refusals(decision)))
                cids.add(cid)
        await self._submit_burst(pending)

    async def on_decision(self, env: Envelope) -> None:
        """One decision: a PERMIT's order checked, saved and sent (or recovered)."""
        decision = env.payload
        assert isinstance(decision, RiskDecision)
        if decision.verdict is not Verdict.PERMIT:
            return
        order = order_for(decision, self.clock.now_ns())
        known = self.store.get_order_by_client_id(order.client_order_id)
        if known is not None:
            await self._recover(known, env)
            return
        refusals = self._refusals(decision)
        if refusals:
            self._fail(order, OrderTrigger.REJECT, "; ".join(refusals), env)
            return
        await self._submit(order, env)

    def _refusals(self, decision: RiskDecision) -> list[str]:
        if self.store.killswitch_active():
            return ["kill switch active"]
        now = self.clock.now_ns()
        symbol = decision.intent.symbol
        quote = self.market.quote(symbol)
        refusals = pretrade_refusals(decision, now, quote, self.market.session, self.config)
        instrument = self.instruments.get(symbol)
        if instrument is None:
            refusals.append(f"unknown instrument {symbol}")
        elif quote is not None:
            moved = collar_refusal(decision, quote, self.collar, instrument)
            if moved is not None:
                refusals.append(moved)
        return refusals

    def _emit(
        self, topic: Topic[Any], payload: AnyMessage, key: str, cause: Envelope | None
    ) -> None:
        """Publish now, or hold in the burst's outbox while one is open."""
        if self._outbox is None:
            self.out.publish(topic, payload, key=key, cause=cause)
        else:
            self._outbox.add(topic, payload, key=key, cause=cause)

    def _save(self, order: Order, cause: Envelope | None, reason: str = "") -> None:
        self.store.upsert_order(order)
        update = OrderUpdated(order=order, note=reason, ts_event=order.updated_ns)
        key = f"{order.client_order_id}:{order.state}:{order.filled_qty}"
        self._emit(ORDERS, update, key, cause)

    async def _submit_burst(self, pending: list[Checked]) -> None:
        """Send a burst's orders that passed their checks in one `place_orders` call,
        then record each order as `on_decision` would have, in the run's order: refused,
        or CREATED, SUBMITTED and the broker's answer; all published as one burst. Once
        an answer is fatal (the kill switch trips), every later order of the burst that
        the broker did not take is refused as the kill switch refuses it (one it did take
        is recorded, and the kill switch cancels it). A retryable answer goes on
        to `_send`'s retries after the burst. Nothing is durable before the unit of work
        commits, so recording after the call changes nothing a crash could see."""
        if len(pending) <= 1:  # a burst of one is the one-at-a-time path exactly
            for checked in pending:
                await self._submit_checked(checked)
            return
        now = self.clock.now_ns()
        go = [c for c in pending if not c.refusals]
        sent = {id(c): c.order.transition(OrderTrigger.SUBMIT, now) for c in go}
        answers = await self.broker.place_orders([request_for(sent[id(c)]) for c in go])
        if len(answers) != len(go):  # an adapter's bug: nothing of the burst is recorded
            raise InvariantViolation(
                f"broker place_orders answered {len(answers)} results to {len(go)} requests"
            )
        answer = dict(zip(sent, answers, strict=True))
        retry: list[tuple[Order, Envelope, BrokerRetryable]] = []
        halted = False
        with self._holding():
            for c in pending:
                result = answer.get(id(c))
                if c.refusals or (halted and result is None):
                    reason = "kill switch active" if halted else "; ".join(c.refusals)
                    self._fail(c.order, OrderTrigger.REJECT, reason, c.cause)
                else:  # sent: recorded as the broker answered, even after a fatal answer
                    halted = self._record_answer(c, sent[id(c)], result, retry) or halted
        for order, cause, err in retry:
            await self._send(order, cause, err)

    def _record_answer(
        self,
        checked: Checked,
        order: Order,
        result: PlaceResult,
        retry: list[tuple[Order, Envelope, BrokerRetryable]],
    ) -> bool:
        """Record a sent order of a burst and the broker's answer to it (a retryable one
        joins retry); True when the answer is fatal."""
        if not isinstance(result, OrderResponse | BrokerError):  # None only after a fatal
            raise InvariantViolation(
                f"broker place_orders answered {result!r} for {order.client_order_id}: "
                "not a response or a BrokerError"
            )
        self._save(checked.order, checked.cause)
        self._save(order, checked.cause)
        if isinstance(result, OrderResponse):
            self._acknowledged(order, result.broker_order_id, checked.cause)
        elif isinstance(result, BrokerRetryable):
            retry.append((order, checked.cause, result))
        else:
            self._refused(order, result, checked.cause)
        return isinstance(result, BrokerFatal)

    async def _submit_checked(self, checked: Checked) -> None:
        if checked.refusals:
            reason = "; ".join(checked.refusals)
            self._fail(checked.order, OrderTrigger.REJECT, reason, checked.cause)
        else:
            await self._submit(checked.order, checked.cause)

    @contextmanager
    def _holding(self) -> Iterator[None]:
        """Hold what is published until the block ends, then publish it as one burst."""
        self._outbox = Outbox(self.out)
        try:
            yield
        finally:
            outbox, self._outbox = self._outbox, None
        outbox.flush()

    async def _submit(self, order: Order, cause: Envelope) -> None:
        self._save(order, cause)
        order = order.transition(OrderTrigger.SUBMIT, self.clock.now_ns())
        self._save(order, cause)
        await self._send(order, cause)

    async def _send(
        self, order: Order, cause: Envelope, failed: BrokerRetryable | None = None
    ) -> None:
        """place_order with retries on retryable errors, always the same client order id;
        failed: the retryable error a first try (in a burst) already met."""
        request = request_for(order)
        attempt, err = 0, failed
        while True:
            if err is not None:
                if attempt == self.config.max_retries:
                    self._fail(
                        order, OrderTrigger.FATAL, f"{err.code} after {attempt + 1} tries", cause
                    )
                    return
                delay_ms = max(err.retry_after_ms, self.config.backoff_ms * 2**attempt)
                await self.sleeper.sleep(delay_ms * NS_PER_MS)
                attempt += 1
            try:
                response = await self.broker.place_order(request)
            except BrokerRetryable as retryable:
                err = retryable
            except BrokerError as refused:
                self._refused(order, refused, cause)
                return
            else:
                self._acknowledged(order, response.broker_order_id, cause)
                return

    def _refused(self, order: Order, err: BrokerError, cause: Envelope) -> None:
        """A non-retryable refusal rejects the order; a fatal one also halts trading."""
        if isinstance(err, BrokerFatal):
            self._fail(order, OrderTrigger.FATAL, f"{err.code}: {err.message}", cause)
            self._halt(f"broker fatal error {err.code}", cause)
        else:
            self._fail(order, OrderTrigger.REJECT, f"{err.code}: {err.message}", cause)

    def _acknowledged(self, order: Order, broker_order_id: str, cause: Envelope | None) -> None:
        acked = order.transition(OrderTrigger.ACK, self.clock.now_ns(), "accepted by broker")
        self._save(msgspec.structs.replace(acked, broker_order_id=broker_order_id), cause)

    def _fail(self, order: Order, trigger: OrderTrigger, reason: str, cause: Envelope) -> None:
        self._save(order.transition(trigger, self.clock.now_ns(), reason), cause)
        refusal = ExecutionRejected(
            intent_id=order.intent_id,
            client_order_id=order.client_order_id,
            reason=reason,
            ts_event=self.clock.now_ns(),
        )
        self._emit(EXECUTION_REJECTED, refusal, order.client_order_id, cause)

    def _halt(self, reason: str, cause: Envelope | None) -> None:
        """Stop trading now (the flag, read before every order) and say so in the log."""
        now = self.clock.now_ns()
        self.store.set_killswitch(True, f"{self.identity}: {reason}", now)
        halt = KillSwitchActivated(reason=reason, triggered_by=str(self.identity), ts_event=now)
        self._emit(KILLSWITCH, halt, f"halt:{now}", cause)

    async def _recover(self, order: Order, cause: Envelope) -> None:
        """A replay met an order we already know: finish what a crash interrupted."""
        if order.state not in (OrderState.CREATED, OrderState.SUBMITTED):
            return
        seen = await self.broker.get_order_by_client_id(order.client_order_id)
        if order.state is OrderState.CREATED:
            order = order.transition(OrderTrigger.SUBMIT, self.clock.now_ns())
            self._save(order, cause)
        if seen is None:
            await self._send(order, cause)
        else:
            self._acknowledged(order, seen.broker_order_id, cause)

    async def on_killswitch(self, env: Envelope) -> None:
        """Cancel every open order on an automatic halt, and on a human's activation once
        it has taken effect (the flag itself is the kill-switch projector's, which runs
        first: a human's vote still short of its quorum leaves the orders as they are)."""
        assert isinstance(env.payload, KillSwitchActivated)
        if not env.sender.startswith(f"{Role.HUMAN}:") or self.store.killswitch_active():
            await self.cancel_open_orders(env)

    async def cancel_open_orders(self, cause: Envelope | None) -> int:
        """Cancel every open order at the broker (kill switch); returns how many."""
        canceled = 0
        for order in self.store.list_orders(open_only=True):
            if order.broker_order_id is not None:
                try:
                    await self.broker.cancel_order(order.broker_order_id)
                except BrokerError:
                    continue
            await self.sync_order(order, cause, force_cancel=order.broker_order_id is None)
            canceled += 1
        return canceled

    async def sync(self) -> None:
        """Pull fills and order ends from the broker, the truth about executions."""
        since = int(self.store.get_meta(FILLS_SINCE) or 0)
        fills = await self.broker.get_fills(since)
        self._record_fills(fills)
        since = max([since, *(fill.ts_event for fill in fills)])
        self.store.set_meta(FILLS_SINCE, str(since))
        working = {o.client_order_id for o in await self.broker.get_open_orders()}
        for order in self.store.list_orders(open_only=True):
            if order.client_order_id not in working:
                await self.sync_order(order, None)
        if self.store.killswitch_active() and self.store.list_orders(open_only=True):
            await self.cancel_open_orders(None)

    def _record_fills(self, fills: list[Fill]) -> None:
        """Book the fills (one `Store.record_fills`), then publish, as one burst, each
        fill booked now and after them each one's order update, in order (the bus
        delivers a run per topic: the fills' subscribers get them in one call). A burst
        of one, or burst=False, takes `_record_fill` per fill."""
        if len(fills) <= 1 or not self.burst:
            for fill in fills:
                self._record_fill(fill)
            return
        orders = self.store.get_orders_by_client_ids([f.client_order_id for f in fills])
        known = [f for f in fills if f.client_order_id in orders]
        booked = self.store.record_fills([(f, orders[f.client_order_id].agent_id) for f in known])
        updated = []
        with self._holding():
            for fill, fresh in zip(known, booked, strict=True):
                if fresh:
                    order = orders[fill.client_order_id]
                    order = order.apply_fill(fill.quantity, fill.price, fill.ts_event)
                    orders[fill.client_order_id] = order
                    self._emit(FILLS, FillReceived.of(fill), fill.fill_id, None)
                    updated.append((order, f"last fill {fill.quantity} @ {fill.price}"))
            for order, note in updated:  # after the fills: one run per topic on the bus
                self._save(order, None, note)

    def _record_fill(self, fill: Fill) -> None:
        order = self.store.get_order_by_client_id(fill.client_order_id)
        if order is None or not self.store.record_fill(fill, order.agent_id):
            return
        order = order.apply_fill(fill.quantity, fill.price, fill.ts_event)
        self.out.publish(FILLS, FillReceived.of(fill), key=fill.fill_id)
        self._save(order, None, f"last fill {fill.quantity} @ {fill.price}")

    async def sync_order(
        self, order: Order, cause: Envelope | None, force_cancel: bool = False
    ) -> None:
        if force_cancel:
            self._save(
                order.transition(OrderTrigger.CANCEL, self.clock.now_ns(), "kill switch"), cause
            )
            return
        if order.broker_order_id is None:
            return
        seen: BrokerOrder = await self.broker.get_order_status(order.broker_order_id)
        trigger = _BROKER_END.get(seen.status)
        if trigger is not None and seen.filled_qty == order.filled_qty:
            self._save(
                order.transition(trigger, self.clock.now_ns(), seen.reason or seen.status), cause
            )
