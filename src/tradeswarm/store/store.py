"""The Store facade: one database (a SQLite file, or PostgreSQL), units of work, and every
repository."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, select
from sqlalchemy.exc import DBAPIError, StatementError

from tradeswarm.core.dburl import is_url, shown
from tradeswarm.core.errors import TradeswarmError
from tradeswarm.core.fastsql import FastStatement
from tradeswarm.model.enums import OversightStatus, Side
from tradeswarm.model.envelope import Envelope, decode_envelope
from tradeswarm.model.messages import OversightRequested, RiskDecision
from tradeswarm.model.order import Order
from tradeswarm.model.portfolio import Fill, Position
from tradeswarm.store import books, decisions, events, governance, inbox, schema
from tradeswarm.store.audit_repo import AuditRepository
from tradeswarm.store.events import ChainHead, EventRow
from tradeswarm.store.governance import OversightRecord
from tradeswarm.store.lease import Lease, NoLease, take_lease
from tradeswarm.store.migrations import check_file, migrate
from tradeswarm.store.pending import PendingOrders
from tradeswarm.store.postgres import create_postgres_engine
from tradeswarm.store.schema import meta
from tradeswarm.store.sqlite import MEMORY, WRITE_OPTION, create_sqlite_engine, is_memory

_PAGE = 1000
_GET_META = FastStatement(select(meta.c.value).where(meta.c.key == bindparam("key")))
KILLSWITCH_KEY = "killswitch"
INITIAL_CASH_KEY = "initial_cash"


class Store:
    """The swarm's durable store. Synchronous; one Store per process owns the event log.

    Use `Store.open`; a Store is not safe to share between threads.
    """

    def __init__(self, engine: Engine, name: str, path: Path | None) -> None:
        self._engine = engine
        self._name = name
        self._path = path
        self._lease: Lease = NoLease()
        self._conn: Connection | None = None
        self._head: ChainHead | None = None
        self._after_commit: list[Callable[[], None]] = []
        self._cash: Decimal | None = None  # read models of the books, loaded on first use
        self._positions: dict[str, Position] | None = None
        self._orders = PendingOrders()  # written once each, when the unit of work ends
        self.audit = AuditRepository(self._tx, self._read)
        """The audit log's tables (Merkle nodes, checkpoints, cosignatures, keys)."""

    @classmethod
    def open(cls, target: str | Path, *, writer: bool = False) -> Store:
        """Open (creating its tables if absent) the store at target, applying migrations:
        a SQLite file path, ":memory:", or a PostgreSQL URL (postgresql://user@host:port/db;
        the database must exist). writer=True takes the audit-log writer's lease
        (`store.lease`): StoreError at once if another process holds it."""
        url = is_url(target)
        if url:
            engine = create_postgres_engine(str(target))
        else:
            check_file(target)
            engine = create_sqlite_engine(target)
        path = None if url else Path(MEMORY) if is_memory(target) else Path(target)
        store = cls(engine, shown(target), path)
        try:
            migrate(engine, store.name)
            if writer:
                store._lease = take_lease(engine, target, path)
            store._head = store._load_head()
        except BaseException:
            store.close()
            raise
        return store

    @property
    def name(self) -> str:
        """The store as it may be printed: its file, or its URL without a password."""
        return self._name

    @property
    def path(self) -> Path | None:
        """The database file (Path(":memory:") for an in-memory store; None for PostgreSQL)."""
        return self._path

    def close(self) -> None:
        """Release the database (and the writer's lease); the Store cannot be used afterwards."""
        try:
            self._lease.release()
        finally:
            self._lease = NoLease()
            self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """A unit of work: nested blocks join the outermost, which commits or rolls back."""
        with self._tx():
            yield

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        try:
            if self._conn is not None:
                yield self._conn
            else:
                with self._outermost() as conn:
                    yield conn
        except StatementError as err:
            if isinstance(err.orig, TradeswarmError):  # e.g. a float refused by DecimalText
                raise err.orig from err
            raise

    @contextmanager
    def _outermost(self) -> Iterator[Connection]:
        with self._engine.connect() as conn:
            conn.execution_options(**{WRITE_OPTION: True})
            self._conn = conn
            try:
                with conn.begin():
                    yield conn
                    self._orders.flush(conn)
            except BaseException:
                self._head = None  # the cached chain head may be ahead of the rolled-back log
                self._cash = self._positions = None  # and the books' read models too
                self._orders.clear()
                self._after_commit.clear()
                raise
            finally:
                self._conn = None
        self._run_after_commit()

    def _run_after_commit(self) -> None:
        while self._after_commit:
            self._after_commit.pop(0)()

    def call_after_commit(self, fn: Callable[[], None]) -> None:
        """Run fn once the current unit of work commits (now, if none is open); never on
        rollback. For side effects outside the database, such as asking a witness."""
        self._after_commit.append(fn)
        if self._conn is None:
            self._run_after_commit()

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        if self._conn is not None:
            yield self._conn
            return
        with self._engine.connect() as conn, conn.begin():
            yield conn

    def _load_head(self) -> ChainHead:
        with self._read() as conn:
            return events.load_head(conn)

    # -- events ---------------------------------------------------------------------------

    def append_event(self, env: Envelope) -> int | None:
        """Log env; return its seq, or None when its msg_id is already logged."""
        return self.append_events([env])[0]

    def append_events(self, envs: Sequence[Envelope]) -> list[int | None]:
        """Log a batch in one transaction; per envelope its new seq or None if a duplicate."""
        return self.append_events_hashed(envs)[0]

    def append_events_hashed(
        self, envs: Sequence[Envelope]
    ) -> tuple[list[int | None], list[bytes]]:
        """Like `append_events`, also returning the new rows' leaf hashes in seq order."""
        if not envs:
            return [], []
        with self._tx() as conn:
            head = self._head if self._head is not None else events.load_head(conn)
            try:
                self._head, seqs, leaves = events.append(conn, head, envs)
            except DBAPIError:
                self._head = None
                raise
            return seqs, leaves

    def iter_events(self, after_seq: int = 0) -> Iterator[EventRow]:
        """Events with seq > after_seq, in seq order, read page by page."""
        last = after_seq
        while True:
            with self._read() as conn:
                page = events.read_after(conn, last, _PAGE)
            yield from page
            if len(page) < _PAGE:
                return
            last = page[-1].seq

    def count_events_of_type(self, type_: str, start_ns: int, end_ns: int) -> int:
        """How many logged envelopes of one message type fall in [start_ns, end_ns)."""
        with self._read() as conn:
            return events.count_of_type(conn, type_, start_ns, end_ns)

    def has_event(self, msg_id: uuid.UUID) -> bool:
        """Whether the log holds an envelope with msg_id (replay detection at the gate)."""
        with self._read() as conn:
            return events.has_msg_id(conn, msg_id)

    def leaf_hash_of(self, msg_id: uuid.UUID) -> bytes | None:
        """The logged envelope's leaf hash, SHA-256(0x00 || body), or None: a consumer
        tells a redelivered duplicate (same bytes) from a forgery under a logged msg_id."""
        with self._read() as conn:
            return events.leaf_hash_of(conn, msg_id)

    def last_event_of_type(self, type_: str) -> Envelope | None:
        """The newest logged envelope of one message type (e.g. the SwarmCharter)."""
        with self._read() as conn:
            body = events.last_body_of_type(conn, type_)
        return None if body is None else decode_envelope(body)

    def table_rows(self, name: str) -> list[dict[str, Any]]:
        """Every row of one record table as the database holds it (money as Decimal),
        for the verifier to compare with what it rebuilt from the log."""
        table = schema.metadata.tables[name]
        key = [c for c in table.primary_key.columns] or list(table.columns)
        with self._read() as conn:
            self._flush_orders(conn)
            rows = conn.execute(select(table).order_by(*key)).mappings().all()
        return [dict(r) for r in rows]

    # -- the inbox ------------------------------------------------------------------------

    def put_inbox(self, wire: bytes, received_ns: int) -> int:
        """Queue a signed envelope from another process for the swarm's gate."""
        with self._tx() as conn:
            return inbox.put(conn, wire, received_ns)

    def take_inbox(self) -> list[bytes]:
        """The queued envelopes, oldest first, removed in the current unit of work."""
        with self._tx() as conn:
            return inbox.take(conn)

    def inbox_pending(self) -> int:
        with self._read() as conn:
            return inbox.pending(conn)

    def event_count(self) -> int:
        """How many events the log holds."""
        with self._read() as conn:
            return events.count(conn)

    # -- orders ---------------------------------------------------------------------------

    # Inside a unit of work an order's row is written once, with its last state, when the
    # unit commits (`store.pending`); reads see the unit's own writes.

    def upsert_order(self, order: Order) -> None:
        """Insert the order or replace its stored state (created_ns is kept)."""
        with self._tx():
            self._orders.put(order)

    def get_order(self, order_id: uuid.UUID) -> Order | None:
        """The order with order_id, if stored."""
        held = self._orders.get(order_id)
        if held is not None:
            return held
        with self._read() as conn:
            return books.get_order(conn, order_id)

    def get_order_by_client_id(self, cid: str) -> Order | None:
        """The order with client order id cid, if stored."""
        held = self._orders.get_by_client_id(cid)
        if held is not None:
            return held
        with self._read() as conn:
            return books.get_order_by_client_id(conn, cid)

    def get_orders_by_client_ids(self, cids: Sequence[str]) -> dict[str, Order]:
        """The stored orders of the client order ids given (those that exist), by id."""
        found: dict[str, Order] = {}
        missing = []
        for cid in dict.fromkeys(cids):
            held = self._orders.get_by_client_id(cid)
            if held is None:
                missing.append(cid)
            else:
                found[cid] = held
        if missing:
            with self._read() as conn:
                found.update(books.orders_by_client_ids(conn, missing))
        return found

    def list_orders(self, open_only: bool = False) -> list[Order]:
        """All orders (or only non-terminal ones) ordered by created_ns."""
        with self._read() as conn:
            self._flush_orders(conn)
            return books.list_orders(conn, open_only)

    def duplicate_client_order_ids(self) -> int:
        """How many client order ids appear on more than one order (a check; should be 0)."""
        with self._read() as conn:
            self._flush_orders(conn)
            return books.duplicate_client_order_ids(conn)

    def _flush_orders(self, conn: Connection) -> None:
        if self._orders and self._conn is conn:  # held orders exist only in a unit of work
            self._orders.flush(conn)

    # -- fills, positions, cash -----------------------------------------------------------

    # The books' read models: this Store is the only writer of cash and positions (one
    # Store per process owns the swarm's books), so after the first read they are kept in
    # memory, moved by the same fills that move the tables, and dropped on a rollback.

    def set_initial_cash(self, cash: Decimal) -> None:
        """Set the account's cash, only if it has never been set."""
        with self._tx() as conn:
            if governance.get_meta(conn, INITIAL_CASH_KEY) is None:
                books.set_initial_cash(conn, cash)
                governance.set_meta(conn, INITIAL_CASH_KEY, str(cash))
                self._cash = None

    def get_cash(self) -> Decimal:
        """The account's cash (0 if never set)."""
        if self._cash is None:
            with self._read() as conn:
                self._cash = books.get_cash(conn)
        return self._cash

    def _position_book(self) -> dict[str, Position]:
        if self._positions is None:
            with self._read() as conn:
                self._positions = books.all_positions(conn)
        return self._positions

    def record_fill(self, fill: Fill, agent_id: str) -> bool:
        """Book a fill once: trade row, position and cash together; False if already booked.

        The position's updated_ns is the fill's own time, so the row can be rebuilt from
        the logged fills. A burst of one of `record_fills`."""
        return self.record_fills([(fill, agent_id)])[0]

    def record_fills(self, batch: Sequence[tuple[Fill, str]]) -> list[bool]:
        """Book a burst of (fill, agent_id) pairs once each, in order, in one unit of
        work: one lookup of the fills already booked, one `executemany` of the new trade
        rows, then each touched position and the cash written once, with the state the
        fills leave. Returns, per pair, whether it was booked now."""
        with self._tx() as conn:
            cash, held = self.get_cash(), self._position_book()
            seen = books.booked_fill_ids(conn, [f.fill_id for f, _ in batch])
            booked, new = [], []
            moved: dict[str, tuple[Position, int]] = {}  # symbol: position, last fill's ts
            for fill, agent_id in batch:
                booked.append(fill.fill_id not in seen)
                if not booked[-1]:
                    continue
                seen.add(fill.fill_id)
                new.append((fill, agent_id))
                old = moved[fill.symbol][0] if fill.symbol in moved else held.get(fill.symbol)
                old = old or Position(symbol=fill.symbol)
                moved[fill.symbol] = old.apply(fill.side, fill.quantity, fill.price), fill.ts_event
                cash += fill.cash_delta
            books.insert_trades(conn, new)
            for pos, ts in moved.values():
                books.save_position(conn, pos, ts)
            if new:
                books.set_cash(conn, cash)
            self._cash = cash  # the read models move only once every write is done
            held.update((symbol, pos) for symbol, (pos, _) in moved.items())
            return booked

    def list_trades(
        self, symbol: str | None = None, since_ns: int | None = None, side: Side | None = None
    ) -> list[Fill]:
        """Fills ordered by (ts_event, fill_id); optionally one symbol, side, from since_ns on."""
        with self._read() as conn:
            return books.list_trades(conn, symbol, since_ns, side)

    def trade_count(self) -> int:
        """How many fills the books hold (without reading them)."""
        with self._read() as conn:
            return books.trade_count(conn)

    def first_trade(self, symbol: str, side: Side, since_ns: int) -> Fill | None:
        """The first fill of symbol on side from since_ns on, by (ts_event, fill_id)."""
        with self._read() as conn:
            return books.first_trade(conn, symbol, side, since_ns)

    def get_positions(self) -> dict[str, Position]:
        """Positions with a nonzero quantity, by symbol."""
        return {s: p for s, p in sorted(self._position_book().items()) if p.quantity != 0}

    # -- risk -----------------------------------------------------------------------------

    def record_decision(self, decision: RiskDecision, severity: str) -> bool:
        """Store the gate's decision once (by decision id); False if it is stored."""
        with self._tx() as conn:
            return decisions.record_decision(conn, decision, severity)

    def record_decisions(self, batch: Sequence[tuple[RiskDecision, str]]) -> list[bool]:
        """`record_decision` of each (decision, severity), in order, in one statement;
        per decision whether it was new."""
        with self._tx() as conn:
            return decisions.record_decisions(conn, batch)

    def decision_ids_stored(self, ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        """Which of these decision ids are stored."""
        with self._read() as conn:
            return decisions.decision_ids_stored(conn, ids)

    def get_decisions_for_intents(
        self, intent_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, RiskDecision]:
        """`get_decision_for_intent` of many intents at once (those with a decision)."""
        with self._read() as conn:
            return decisions.decisions_for_intents(conn, intent_ids)

    def get_decision(self, decision_id: uuid.UUID) -> RiskDecision | None:
        """One decision by its id."""
        with self._read() as conn:
            return governance.get_decision(conn, decision_id)

    def get_decision_for_intent(self, intent_id: uuid.UUID) -> RiskDecision | None:
        """The stored decision on intent_id, if any."""
        with self._read() as conn:
            return decisions.get_decision_for_intent(conn, intent_id)

    def list_intent_decisions_since(self, since_ns: int) -> list[RiskDecision]:
        """The initial decision on each intent made after since_ns, oldest first."""
        with self._read() as conn:
            return decisions.list_intent_decisions_since(conn, since_ns)

    def list_decisions(self) -> list[RiskDecision]:
        """Every stored decision, ordered by ts."""
        with self._read() as conn:
            return governance.list_decisions(conn)

    def count_risk_events(
        self, day_start_ns: int | None = None, day_end_ns: int | None = None
    ) -> int:
        """Risk events with day_start_ns <= ts_ns < day_end_ns (either bound optional)."""
        with self._read() as conn:
            return governance.count_risk_events(conn, day_start_ns, day_end_ns)

    # -- oversight ------------------------------------------------------------------------

    def create_oversight(self, req: OversightRequested, agent_id: str) -> bool:
        """Store a PENDING request once; False if request_id (or its intent) is stored."""
        with self._tx() as conn:
            return governance.create_oversight(conn, req, agent_id)

    def decide_oversight(
        self,
        request_id: uuid.UUID,
        status: OversightStatus,
        approver: str,
        notes: str,
        ts_ns: int,
        signature: bytes | None = None,
    ) -> bool:
        """Move a PENDING request to status; False if it is not PENDING (or unknown).

        signature: the deciding human's detached signature, stored with the decision."""
        with self._tx() as conn:
            return governance.decide_oversight(
                conn,
                request_id,
                status,
                approver=approver,
                notes=notes,
                ts_ns=ts_ns,
                signature=signature,
            )

    def get_oversight(self, request_id: uuid.UUID) -> OversightRecord | None:
        """The request with request_id and its status, if stored."""
        with self._read() as conn:
            return governance.get_oversight(conn, request_id)

    def find_oversight(self, prefix: str) -> OversightRecord | None:
        """The request whose id starts with prefix; ValueError if ambiguous."""
        with self._read() as conn:
            return governance.find_oversight(conn, prefix)

    def list_oversight(self, status: OversightStatus | None = None) -> list[OversightRecord]:
        """Requests (optionally only those in status), ordered by created_ns."""
        with self._read() as conn:
            return governance.list_oversight(conn, status)

    # -- meta -----------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        """The meta value under key, if set."""
        with self._read() as conn:
            found = _GET_META.scalar(conn, {"key": key})
            return None if found is None else str(found)

    def set_meta(self, key: str, value: str) -> None:
        """Set (or replace) the meta value under key."""
        with self._tx() as conn:
            governance.set_meta(conn, key, value)

    # -- kill switch and initial cash (meta keys) ------------------------------------------

    def killswitch_active(self) -> bool:
        """Whether trading is stopped; read on every order, so another process can stop it."""
        return self.get_meta(KILLSWITCH_KEY) == "on"

    def set_killswitch(self, on: bool, reason: str, ts_ns: int) -> None:
        with self.transaction():
            self.set_meta(KILLSWITCH_KEY, "on" if on else "off")
            self.set_meta(KILLSWITCH_KEY + ".reason", f"{ts_ns} {reason}")

    def get_initial_cash(self) -> Decimal | None:
        value = self.get_meta(INITIAL_CASH_KEY)
        return None if value is None else Decimal(value)
