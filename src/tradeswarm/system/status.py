"""The swarm's books at a glance, and whether they agree with the broker's."""

from __future__ import annotations

from typing import Any

from tradeswarm.brokers.paper import PaperBroker
from tradeswarm.store import Store
from tradeswarm.system.killswitch import pending_votes


async def swarm_status(store: Store, broker: PaperBroker) -> dict[str, Any]:
    """Counts, open positions, duplicate client order ids, and reconciliation; the kill
    switch's votes still short of their quorum, when there are any."""
    ours = {s: p.quantity for s, p in store.get_positions().items() if p.quantity != 0}
    theirs = {p.symbol: p.quantity for p in await broker.get_positions() if p.quantity != 0}
    orders = store.list_orders()
    report: dict[str, Any] = {
        "orders": len(orders),
        "open_orders": sum(1 for o in orders if not o.state.is_terminal),
        "fills": len(store.list_trades()),
        "open_positions": {s: str(q) for s, q in sorted(ours.items())},
        "broker_positions": {s: str(q) for s, q in sorted(theirs.items())},
        "cash": str(store.get_cash()),
        "duplicate_client_order_ids": store.duplicate_client_order_ids(),
        "reconciled": ours == theirs,
        "events": store.event_count(),
        "killswitch": store.killswitch_active(),
        "pending_oversight": len([r for r in store.list_oversight() if r.status == "PENDING"]),
    }
    votes = pending_votes(store)
    if not votes.empty:
        report["killswitch_votes"] = {"activate": votes.activate, "resume": votes.resume}
    return report
