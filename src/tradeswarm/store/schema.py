"""Table definitions for the store, all on one MetaData, portable to SQLite and PostgreSQL.

Money is exact TEXT (`DecimalText`) on both; other text sorts by code point on both
(`core.pg.BYTEWISE_TEXT`); bytes are BLOB / BYTEA; times and keys that
outgrow 32 bits are BIGINT. A log position (`SEQ`) is INTEGER on SQLite, where an
INTEGER PRIMARY KEY is the rowid itself, and BIGINT on PostgreSQL.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Column,
    Dialect,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    TypeDecorator,
)

from tradeswarm.core.errors import InvariantViolation
from tradeswarm.core.pg import BYTEWISE_TEXT


class DecimalText(TypeDecorator[Decimal]):
    """A Decimal stored as its exact TEXT form; floats are refused."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if not isinstance(value, Decimal) or not value.is_finite():
            raise InvariantViolation(f"store accepts only finite Decimal money, got {value!r}")
        return str(value)

    def process_result_value(self, value: object, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return Decimal(str(value))


SEQ = BigInteger().with_variant(Integer(), "sqlite")
"""A position in a log: the events' seq, the inbox's (see the module docstring)."""

metadata = MetaData()

schema_version = Table(
    "schema_version",
    metadata,
    Column("version", Integer, primary_key=True),
    Column("description", BYTEWISE_TEXT, nullable=False),
)

events = Table(
    "events",
    metadata,
    Column("seq", SEQ, primary_key=True, autoincrement=False),
    Column("msg_id", LargeBinary, nullable=False),
    Column("type", BYTEWISE_TEXT, nullable=False),
    Column("ts_ns", BigInteger, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("leaf_hash", LargeBinary, nullable=False),
    Column("chain_hash", LargeBinary, nullable=False),
)
"""The envelope log (shape of migration 5). body is the canonical envelope, the record;
msg_id (its 16 bytes, unique: appends are idempotent on it), type and ts_ns are copied
out of it for the queries that read them (dedup, the daily report's counts). The store
gives every row its seq (head + 1), so no AUTOINCREMENT bookkeeping."""
Index("ux_events_msg_id", events.c.msg_id, unique=True)

orders = Table(
    "orders",
    metadata,
    Column("order_id", BYTEWISE_TEXT, primary_key=True),
    Column("client_order_id", BYTEWISE_TEXT, nullable=False, unique=True),
    Column("intent_id", BYTEWISE_TEXT, nullable=False),
    Column("agent_id", BYTEWISE_TEXT, nullable=False),
    Column("symbol", BYTEWISE_TEXT, nullable=False),
    Column("side", BYTEWISE_TEXT, nullable=False),
    Column("quantity", DecimalText, nullable=False),
    Column("order_type", BYTEWISE_TEXT, nullable=False),
    Column("limit_price", DecimalText, nullable=True),
    Column("stop_price", DecimalText, nullable=True),
    Column("time_in_force", BYTEWISE_TEXT, nullable=False),
    Column("state", BYTEWISE_TEXT, nullable=False),
    Column("filled_qty", DecimalText, nullable=False),
    Column("avg_fill_price", DecimalText, nullable=True),
    Column("broker_order_id", BYTEWISE_TEXT, nullable=True),
    Column("reason", BYTEWISE_TEXT, nullable=False),
    Column("created_ns", BigInteger, nullable=False),
    Column("updated_ns", BigInteger, nullable=False),
)
Index("ix_orders_state", orders.c.state)
Index("ix_orders_intent", orders.c.intent_id)

trades = Table(
    "trades",
    metadata,
    Column("fill_id", BYTEWISE_TEXT, primary_key=True),
    Column("order_id", BYTEWISE_TEXT, nullable=False),
    Column("client_order_id", BYTEWISE_TEXT, nullable=False),
    Column("agent_id", BYTEWISE_TEXT, nullable=False),
    Column("symbol", BYTEWISE_TEXT, nullable=False),
    Column("side", BYTEWISE_TEXT, nullable=False),
    Column("quantity", DecimalText, nullable=False),
    Column("price", DecimalText, nullable=False),
    Column("trade_amount", DecimalText, nullable=False),
    Column("fee", DecimalText, nullable=False),
    Column("ts_event", BigInteger, nullable=False),
)
Index("ix_trades_ts", trades.c.ts_event, trades.c.fill_id)
Index("ix_trades_order", trades.c.order_id)
Index("ix_trades_symbol_ts", trades.c.symbol, trades.c.ts_event)
# the compliance agent's first opposite trade in a wash window (`books.first_trade`)
Index(
    "ix_trades_symbol_side_ts",
    trades.c.symbol,
    trades.c.side,
    trades.c.ts_event,
    trades.c.fill_id,
)

positions = Table(
    "positions",
    metadata,
    Column("symbol", BYTEWISE_TEXT, primary_key=True),
    Column("quantity", DecimalText, nullable=False),
    Column("avg_cost", DecimalText, nullable=False),
    Column("realized_pnl", DecimalText, nullable=False),
    Column("updated_ns", BigInteger, nullable=False),
)

risk_events = Table(
    "risk_events",
    metadata,
    Column("event_id", BYTEWISE_TEXT, primary_key=True),
    Column("intent_id", BYTEWISE_TEXT, nullable=False),
    Column("agent_id", BYTEWISE_TEXT, nullable=False),
    Column("event_type", BYTEWISE_TEXT, nullable=False),
    Column("severity", BYTEWISE_TEXT, nullable=False),
    Column("verdict", BYTEWISE_TEXT, nullable=False),
    Column("reasons", BYTEWISE_TEXT, nullable=False),
    Column("metrics", BYTEWISE_TEXT, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("ts_ns", BigInteger, nullable=False),
    Column("seq", BigInteger, nullable=False, server_default="0"),
)
"""The gate's decisions (one row per decision id). seq is the insertion order (migration
8): 1, 2, ... as rows are stored, the tie-break between decisions of equal ts_ns."""
Index("ix_risk_events_ts", risk_events.c.ts_ns)
Index("ix_risk_events_intent", risk_events.c.intent_id)
Index("ux_risk_events_seq", risk_events.c.seq, unique=True)

oversight_requests = Table(
    "oversight_requests",
    metadata,
    Column("request_id", BYTEWISE_TEXT, primary_key=True),
    Column("intent_id", BYTEWISE_TEXT, nullable=False, unique=True),
    Column("decision_id", BYTEWISE_TEXT, nullable=False),
    Column("agent_id", BYTEWISE_TEXT, nullable=False),
    Column("symbol", BYTEWISE_TEXT, nullable=False),
    Column("trigger_type", BYTEWISE_TEXT, nullable=False),
    Column("trade_amount", DecimalText, nullable=False),
    Column("status", BYTEWISE_TEXT, nullable=False),
    Column("approver_id", BYTEWISE_TEXT, nullable=True),
    Column("decision_notes", BYTEWISE_TEXT, nullable=True),
    Column("decision_ns", BigInteger, nullable=True),
    Column("created_ns", BigInteger, nullable=False),
    Column("timeout_ns", BigInteger, nullable=False),
    Column("body", LargeBinary, nullable=False),
)
Index("ix_oversight_status_created", oversight_requests.c.status, oversight_requests.c.created_ns)
Index("ix_oversight_created", oversight_requests.c.created_ns)

meta = Table(
    "meta",
    metadata,
    Column("key", BYTEWISE_TEXT, primary_key=True),
    Column("value", BYTEWISE_TEXT, nullable=False),
)

account = Table(
    "account",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("cash", DecimalText, nullable=False),
)

STORE_TABLES = (
    events,
    orders,
    trades,
    positions,
    risk_events,
    oversight_requests,
    meta,
    account,
)

# -- the verifiable audit log (migration 2) ---------------------------------------------

merkle_nodes = Table(
    "merkle_nodes",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary, nullable=False),
)
"""Perfect subtrees of even level >= 2; id = level << 56 | index (leaves are the events'
leaf hashes, index = seq - 1; odd levels are one hash of two stored children)."""

checkpoints = Table(
    "checkpoints",
    metadata,
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("root", LargeBinary, nullable=False),
    Column("note", BYTEWISE_TEXT, nullable=False),
    Column("ts_ns", BigInteger, nullable=False),
)
"""Signed checkpoints (C2SP tlog-checkpoint notes); one per tree size, never two."""

cosignatures = Table(
    "cosignatures",
    metadata,
    Column("size", BigInteger, nullable=False),
    Column("witness", BYTEWISE_TEXT, nullable=False),
    Column("line", BYTEWISE_TEXT, nullable=False),
    Column("ts_s", BigInteger, nullable=False),
    PrimaryKeyConstraint("size", "witness"),
)
"""Witness cosignature lines (C2SP tlog-cosignature) on a checkpoint."""

audit_keys = Table(
    "audit_keys",
    metadata,
    Column("vkey", BYTEWISE_TEXT, primary_key=True),
    Column("role", BYTEWISE_TEXT, nullable=False),
    Column("name", BYTEWISE_TEXT, nullable=False),
    Column("algorithm", BYTEWISE_TEXT, nullable=False),
)
"""The log's and its witnesses' verifier keys (signed-note vkeys), as the operator says."""

AUDIT_TABLES = (merkle_nodes, checkpoints, cosignatures, audit_keys)

# -- human signatures on oversight decisions (migration 3) ------------------------------

oversight_signatures = Table(
    "oversight_signatures",
    metadata,
    Column("request_id", BYTEWISE_TEXT, primary_key=True),
    Column("signature", LargeBinary, nullable=False),
)
"""The deciding human's detached signature block over the decision (crypto.sign_bytes
under model.messages.HUMAN_DECISION_CONTEXT), written with the decision itself."""

# -- commands from outside the swarm's process (migration 6) ----------------------------

inbox = Table(
    "inbox",
    metadata,
    Column("seq", SEQ, primary_key=True, autoincrement=True),
    Column("wire", LargeBinary, nullable=False),
    Column("received_ns", BigInteger, nullable=False),
    sqlite_autoincrement=True,
)
"""Signed envelopes another process (the CLI) handed to the swarm: a human's oversight
answer, a kill-switch command. The swarm drains it in its unit of work, through its
VerifyingGate, which logs what it admits and what it refuses; nothing else changes
state on the CLI's behalf."""
