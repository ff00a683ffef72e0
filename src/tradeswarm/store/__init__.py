"""The swarm's durable store: SQLite via SQLAlchemy Core, Decimal-exact, hash-chained log."""

from tradeswarm.store.events import EventRow
from tradeswarm.store.governance import OversightRecord
from tradeswarm.store.store import Store

__all__ = ["EventRow", "OversightRecord", "Store"]
