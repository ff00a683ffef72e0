"""What time it is for a store: its replay time when the SimClock drives it, else the wall clock."""

from __future__ import annotations

import time

from tradeswarm.store import Store
from tradeswarm.system.replay import CURSOR


def store_now_ns(store: Store) -> int:
    cursor = store.get_meta(CURSOR)
    return int(cursor) if cursor is not None else time.time_ns()
