"""PaperBroker: a simulated exchange that plays the external broker.

It keeps its own books in its own SQLite file, apart from the swarm's store, so the
swarm has something independent to reconcile against. Every state change (an
accepted order, a bar's fills, an expiry) commits in one transaction; a bar at or
before a symbol's persisted cursor is ignored, so a replay restarted from the start
after a crash neither double-fills nor loses orders.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import msgspec
from sqlalchemy.engine import Connection

from tradeswarm.brokers.errors import BrokerError, BrokerFatal, ErrorCode, broker_error
from tradeswarm.brokers.matching import (
    RestingOrder,
    fee_for,
    is_triggered,
    match,
)
from tradeswarm.brokers.paper_checks import (
    buy_cost,
    check_funds,
    check_market,
    reserved_cash,
    validate_request,
)
from tradeswarm.brokers.paper_config import PaperBrokerConfig
from tradeswarm.brokers.paper_limits import FaultQueue, TokenBucket
from tradeswarm.brokers.paper_state import PaperState
from tradeswarm.brokers.port import (
    BrokerAccount,
    BrokerOrder,
    BrokerOrderStatus,
    OrderRequest,
    OrderResponse,
    PlaceResult,
)
from tradeswarm.core.clock import Clock
from tradeswarm.model.enums import TimeInForce
from tradeswarm.model.market import Bar, Session
from tradeswarm.model.portfolio import Fill, Position

ZERO = Decimal(0)
Status = BrokerOrderStatus


def _response(order: RestingOrder, duplicate: bool = False) -> OrderResponse:
    return OrderResponse(
        broker_order_id=order.broker_order_id,
        client_order_id=order.client_order_id,
        status=order.status,
        submitted_ns=order.submitted_ns,
        duplicate=duplicate,
    )


class PaperBroker:
    """BrokerPort over a simulated exchange. Port methods are async; the
    simulation controls (open_session, close_session, on_bar, inject_fault) are not."""

    def __init__(
        self, clock: Clock, config: PaperBrokerConfig, path: str | Path = ":memory:"
    ) -> None:
        self._clock = clock
        self._cfg = config
        self._state = PaperState(path, config.initial_cash)
        self._bucket = TokenBucket(clock, config.rate_limit_per_sec)
        self._faults = FaultQueue()
        self._reserved: Decimal | None = None  # cash open buys reserve; None: recompute

    def close(self) -> None:
        self._state.close()

    # -- simulation controls -------------------------------------------------------
    def inject_fault(
        self, code: ErrorCode, times: int = 1, after_accept: bool = False, skip: int = 0
    ) -> None:
        """Make the next `times` place_order calls (after `skip` untouched ones) fail with
        code; each request of a `place_orders` burst counts as a call.

        after_accept=True accepts and persists the order first, then raises ERR_NETWORK:
        a lost response, which a retry with the same client_order_id must survive.
        """
        self._faults.add(code, times, after_accept, skip)

    def open_session(self, session: Session) -> None:
        """Set (and persist) the current session; DAY orders of an earlier day expire."""
        self._reserved = None
        with self._state.begin() as conn:
            previous = self._state.session(conn)
            if previous is not None and previous.day != session.day:
                self._expire_day(conn, None, session.open_ns, before_ns=session.open_ns)
            self._state.set_session(conn, session)

    def close_session(self) -> None:
        """Expire every open DAY order and clear the session."""
        self._reserved = None
        with self._state.begin() as conn:
            self._expire_day(conn, None, self._clock.now_ns())
            self._state.set_session(conn, None)

    def session(self) -> Session | None:
        with self._state.begin() as conn:
            return self._state.session(conn)

    def last_price(self, symbol: str) -> Decimal | None:
        with self._state.begin() as conn:
            return self._state.last_prices(conn).get(symbol)

    def on_bar(self, bar: Bar) -> list[Fill]:
        """Match bar.symbol's resting orders against bar, in submission order."""
        self._reserved = None
        with self._state.begin() as conn:
            cursor = self._state.cursor(conn, bar.symbol)
            if cursor is not None and bar.ts_event <= cursor:
                return []
            session = self._state.session(conn)
            at_close = session is not None and bar.ts_event >= session.close_ns
            if session is not None and bar.ts_event > session.close_ns:
                self._expire_day(conn, bar.symbol, bar.ts_event)
            fills = []
            for order in self._state.open_orders(conn, bar.symbol):
                fill = self._match_one(conn, order, bar)
                if fill is not None:
                    fills.append(fill)
            if at_close:
                self._expire_day(conn, bar.symbol, bar.ts_event)
            self._state.set_cursor(conn, bar.symbol, bar.ts_event, bar.close)
        return fills

    # -- BrokerPort ------------------------------------------------------------------
    async def authenticate(self, api_key: str, secret: str, environment: str) -> bool:
        if environment != "paper":
            raise broker_error(ErrorCode.ERR_AUTH, f"paper broker cannot trade {environment}")
        if not api_key or not secret:
            raise broker_error(ErrorCode.ERR_AUTH, "api_key and secret must not be empty")
        return True

    async def place_order(self, order: OrderRequest) -> OrderResponse:
        with self._placing() as conn:
            result = self._place_one(conn, order)
        if isinstance(result, BrokerError):
            raise result
        return result

    async def place_orders(self, orders: Sequence[OrderRequest]) -> list[PlaceResult]:
        """Place a burst in one transaction: each request is checked and accepted (or
        refused) exactly as `place_order` would, in order, against the books the earlier
        ones left; injected faults are taken one per request."""
        results: list[PlaceResult] = []
        with self._placing() as conn:
            for request in orders:
                result = self._place_one(conn, request)
                results.append(result)
                if isinstance(result, BrokerFatal):
                    break
        return results + [None] * (len(orders) - len(results))

    @contextmanager
    def _placing(self) -> Iterator[Connection]:
        """The transaction orders are placed in; if it rolls back, the cash the orders it
        accepted reserved is forgotten with them (recomputed on the next order)."""
        try:
            with self._state.begin() as conn:
                yield conn
        except BaseException:
            self._reserved = None
            raise

    def _place_one(self, conn: Connection, order: OrderRequest) -> OrderResponse | BrokerError:
        fault = self._faults.pop()
        if fault is not None and not fault.after_accept:
            return broker_error(fault.code, f"injected {fault.code}")
        try:
            response = self._place(conn, order)
        except BrokerError as err:
            return err
        if fault is not None:
            return broker_error(
                ErrorCode.ERR_NETWORK,
                f"injected lost response: {order.client_order_id} was accepted "
                f"as {response.broker_order_id}",
            )
        return response

    async def cancel_order(self, broker_order_id: str) -> bool:
        self._reserved = None
        with self._state.begin() as conn:
            order = self._require_order(conn, broker_order_id)
            if not order.is_open:
                return False
            canceled = msgspec.structs.replace(
                order, status=Status.CANCELED, updated_ns=self._clock.now_ns(), reason="canceled"
            )
            self._state.update_order(conn, canceled)
            return True

    async def get_order_status(self, broker_order_id: str) -> BrokerOrder:
        with self._state.begin() as conn:
            return self._require_order(conn, broker_order_id).to_port()

    async def get_order_by_client_id(self, client_order_id: str) -> BrokerOrder | None:
        with self._state.begin() as conn:
            order = self._state.order_by_client_id(conn, client_order_id)
        return None if order is None else order.to_port()

    async def get_open_orders(self) -> list[BrokerOrder]:
        with self._state.begin() as conn:
            return [o.to_port() for o in self._state.open_orders(conn)]

    async def get_positions(self) -> list[Position]:
        with self._state.begin() as conn:
            return [p for p in self._state.positions(conn) if p.quantity != 0]

    async def get_account(self) -> BrokerAccount:
        with self._state.begin() as conn:
            cash = self._state.cash(conn)
            marks = self._state.last_prices(conn)
            positions = self._state.positions(conn)
        value = sum((p.quantity * marks.get(p.symbol, p.avg_cost) for p in positions), ZERO)
        return BrokerAccount(cash=cash, equity=cash + value, buying_power=cash)

    async def get_fills(self, since_ns: int) -> list[Fill]:
        with self._state.begin() as conn:
            return self._state.fills_since(conn, since_ns)

    # -- placing -------------------------------------------------------------------
    def _place(self, conn: Connection, req: OrderRequest) -> OrderResponse:
        """Accept req (its writes in conn's transaction) or raise the BrokerError it meets;
        every check comes before the first write, so a refusal writes nothing."""
        existing = self._state.order_by_client_id(conn, req.client_order_id)
        if existing is not None:
            return _response(existing, duplicate=True)
        validate_request(req)
        check_market(self._state, conn, self._cfg, req, self._clock.now_ns())
        wait_ms = self._bucket.try_take()
        if wait_ms:
            raise broker_error(
                ErrorCode.ERR_RATE_LIMIT, f"rate limit: retry in {wait_ms} ms", wait_ms
            )
        if self._reserved is None:
            self._reserved = reserved_cash(self._state, conn, self._cfg)
        check_funds(self._state, conn, self._cfg, req, self._reserved)
        reserved = self._reserved + buy_cost(self._state, conn, self._cfg, req)
        order = self._new_order(conn, req)
        self._state.insert_order(conn, order)
        self._reserved = reserved
        return _response(order)

    def _new_order(self, conn: Connection, req: OrderRequest) -> RestingOrder:
        seq = self._state.next_seq(conn)
        now = self._clock.now_ns()
        return RestingOrder(
            broker_order_id=f"brk-{seq:06d}",
            seq=seq,
            client_order_id=req.client_order_id,
            internal_order_id=req.internal_order_id,
            symbol=req.symbol,
            side=req.side,
            quantity=req.quantity,
            order_type=req.order_type,
            time_in_force=req.time_in_force,
            limit_price=req.limit_price,
            stop_price=req.stop_price,
            extended_hours=req.extended_hours,
            status=Status.ACCEPTED,
            filled_qty=ZERO,
            avg_fill_price=None,
            fill_count=0,
            triggered=False,
            submitted_ns=now,
            updated_ns=now,
        )

    # -- matching ------------------------------------------------------------------
    def _match_one(self, conn: Connection, order: RestingOrder, bar: Bar) -> Fill | None:
        if order.submitted_ns >= bar.ts_event:
            return None
        cfg = self._cfg
        hit = match(order, bar, cfg.participation, cfg.slippage_bps)
        updated = msgspec.structs.replace(order, triggered=is_triggered(order, bar))
        fill = None
        if hit is not None:
            updated, fill = self._apply_fill(conn, updated, hit[0], hit[1], bar.ts_event)
        if updated.time_in_force is TimeInForce.IOC and updated.is_open:
            updated = msgspec.structs.replace(
                updated, status=Status.CANCELED, updated_ns=bar.ts_event, reason="IOC remainder"
            )
        if updated != order:
            self._state.update_order(conn, updated)
        return fill

    def _apply_fill(
        self, conn: Connection, order: RestingOrder, qty: Decimal, price: Decimal, ts: int
    ) -> tuple[RestingOrder, Fill]:
        count = order.fill_count + 1
        fill = Fill(
            fill_id=f"{order.broker_order_id}-F{count}",
            order_id=order.order_uuid,
            client_order_id=order.client_order_id,
            symbol=order.symbol,
            side=order.side,
            quantity=qty,
            price=price,
            fee=fee_for(qty * price, self._cfg.fee_bps, self._cfg.fee_min),
            ts_event=ts,
        )
        self._state.insert_fill(conn, fill, order.broker_order_id)
        self._state.set_cash(conn, self._state.cash(conn) + fill.cash_delta)
        position = self._state.position(conn, order.symbol).apply(order.side, qty, price)
        self._state.save_position(conn, position)
        filled = order.filled_qty + qty
        avg = ((order.avg_fill_price or ZERO) * order.filled_qty + qty * price) / filled
        status = Status.FILLED if filled == order.quantity else Status.PARTIALLY_FILLED
        updated = msgspec.structs.replace(
            order,
            status=status,
            filled_qty=filled,
            avg_fill_price=avg,
            fill_count=count,
            updated_ns=ts,
        )
        return updated, fill

    def _expire_day(
        self, conn: Connection, symbol: str | None, ts: int, before_ns: int | None = None
    ) -> None:
        """Expire open DAY orders (of symbol, or all; submitted before before_ns if given)."""
        for order in self._state.open_orders(conn, symbol):
            if order.time_in_force is not TimeInForce.DAY:
                continue
            if before_ns is not None and order.submitted_ns >= before_ns:
                continue
            expired = msgspec.structs.replace(
                order, status=Status.EXPIRED, updated_ns=ts, reason="DAY order expired"
            )
            self._state.update_order(conn, expired)

    def _require_order(self, conn: Connection, broker_order_id: str) -> RestingOrder:
        order = self._state.order(conn, broker_order_id)
        if order is None:
            raise broker_error(ErrorCode.ERR_UNKNOWN_ORDER, f"unknown order {broker_order_id!r}")
        return order
