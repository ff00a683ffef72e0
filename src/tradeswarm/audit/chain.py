"""The chain of one order: signal -> intent -> decisions -> oversight -> order -> fills."""

from __future__ import annotations

from tradeswarm.model.envelope import Envelope
from tradeswarm.model.messages import (
    FillReceived,
    MarketSignal,
    OrderUpdated,
    OversightDecided,
    OversightRequested,
    RiskDecision,
    TradeIntent,
)


def _related(env: Envelope, order: OrderUpdated) -> bool:
    p = env.payload
    if isinstance(p, OrderUpdated | FillReceived):
        return p.client_order_id == order.client_order_id
    if isinstance(p, TradeIntent):
        return p.intent_id == order.intent_id
    if isinstance(p, RiskDecision | OversightRequested):
        return p.intent.intent_id == order.intent_id
    if isinstance(p, OversightDecided):
        return p.intent_id == order.intent_id
    return False


def order_chain(envelopes: list[Envelope], order_ref: str) -> list[Envelope]:
    """Every logged envelope behind one order (by order id, client order id or prefix)."""
    order = _find_order(envelopes, order_ref)
    if order is None:
        return []
    chain = [e for e in envelopes if _related(e, order)]
    signal_ids = {e.payload.signal_id for e in chain if isinstance(e.payload, TradeIntent)}
    signals = [
        e
        for e in envelopes
        if isinstance(e.payload, MarketSignal) and e.payload.signal_id in signal_ids
    ]
    return signals + chain


def _find_order(envelopes: list[Envelope], ref: str) -> OrderUpdated | None:
    ref = ref.lower()
    for env in envelopes:
        p = env.payload
        if isinstance(p, OrderUpdated) and (
            str(p.order_id).startswith(ref) or p.client_order_id.startswith(ref)
        ):
            return p
    return None
