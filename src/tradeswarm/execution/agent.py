"""ExecutionAgent: turns PERMITs into broker orders, exactly once, and tracks them to the end."""

from __future__ import annotations

import msgspec

from tradeswarm.brokers.errors import BrokerError, BrokerFatal, BrokerNonRetryable, BrokerRetryable
from tradeswarm.brokers.port import BrokerOrder, BrokerOrderStatus, BrokerPort, OrderRequest
from tradeswarm.bus.agent import Agent
from tradeswarm.bus.inproc import InProcessBus
from tradeswarm.bus.topics import (
    EXECUTION_REJECTED,
    FILLS,
    KILLSWITCH,
    ORDERS,
    RISK_DECISIONS,
    Role,
)
from tradeswarm.core.clock import NS_PER_MS, Clock, Sleeper
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
    ExecutionRejected,
    FillReceived,
    KillSwitchActivated,
    OrderUpdated,
    RiskDecision,
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
    i = decision.intent
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
    ) -> None:
        """instruments and collar: the instrument master and the desk's price collar, for
        the collar's re-check against the latest quote right before an order is sent."""
        self.instruments = instruments
        self.collar = collar
        self.broker = broker
        self.store = store
        self.market = market
        self.sleeper = sleeper
        self.config = config or ExecutionConfig()
        super().__init__(name, bus, clock)

    def subscribe(self, bus: InProcessBus) -> None:
        bus.subscribe(RISK_DECISIONS, self.on_decision)
        bus.subscribe(KILLSWITCH, self.on_killswitch)

    async def on_decision(self, env: Envelope) -> None:
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

    def _save(self, order: Order, cause: Envelope | None, reason: str = "") -> None:
        self.store.upsert_order(order)
        update = OrderUpdated(order=order, note=reason, ts_event=order.updated_ns)
        key = f"{order.client_order_id}:{order.state}:{order.filled_qty}"
        self.out.publish(ORDERS, update, key=key, cause=cause)

    async def _submit(self, order: Order, cause: Envelope) -> None:
        self._save(order, cause)
        order = order.transition(OrderTrigger.SUBMIT, self.clock.now_ns())
        self._save(order, cause)
        await self._send(order, cause)

    async def _send(self, order: Order, cause: Envelope) -> None:
        """place_order with retries on retryable errors, always the same client order id."""
        request = request_for(order)
        for attempt in range(self.config.max_retries + 1):
            try:
                response = await self.broker.place_order(request)
            except BrokerRetryable as err:
                if attempt == self.config.max_retries:
                    self._fail(
                        order, OrderTrigger.FATAL, f"{err.code} after {attempt + 1} tries", cause
                    )
                    return
                delay_ms = max(err.retry_after_ms, self.config.backoff_ms * 2**attempt)
                await self.sleeper.sleep(delay_ms * NS_PER_MS)
            except BrokerNonRetryable as err:
                self._fail(order, OrderTrigger.REJECT, f"{err.code}: {err.message}", cause)
                return
            except BrokerFatal as err:
                self._fail(order, OrderTrigger.FATAL, f"{err.code}: {err.message}", cause)
                self._halt(f"broker fatal error {err.code}", cause)
                return
            else:
                self._acknowledged(order, response.broker_order_id, cause)
                return

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
        self.out.publish(EXECUTION_REJECTED, refusal, key=order.client_order_id, cause=cause)

    def _halt(self, reason: str, cause: Envelope | None) -> None:
        """Stop trading now (the flag, read before every order) and say so in the log."""
        now = self.clock.now_ns()
        self.store.set_killswitch(True, f"{self.identity}: {reason}", now)
        halt = KillSwitchActivated(reason=reason, triggered_by=str(self.identity), ts_event=now)
        self.out.publish(KILLSWITCH, halt, key=f"halt:{now}", cause=cause)

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
        """Cancel every open order (the flag itself is the kill-switch projector's)."""
        assert isinstance(env.payload, KillSwitchActivated)
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
        for fill in await self.broker.get_fills(since):
            self._record_fill(fill)
            since = max(since, fill.ts_event)
        self.store.set_meta(FILLS_SINCE, str(since))
        working = {o.client_order_id for o in await self.broker.get_open_orders()}
        for order in self.store.list_orders(open_only=True):
            if order.client_order_id not in working:
                await self.sync_order(order, None)
        if self.store.killswitch_active() and self.store.list_orders(open_only=True):
            await self.cancel_open_orders(None)

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
