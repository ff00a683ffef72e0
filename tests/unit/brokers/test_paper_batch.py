"""`place_orders`: a burst answered exactly as the same requests placed one by one.

Each request of a burst meets the checks `place_order` would (against the books the
earlier ones left: cash reserved, positions, duplicates, the rate limit, injected
faults one per request); after a fatal answer the rest are not attempted. Three ways
must agree: the paper broker's own batch, `place_each` over the paper broker, and one
`place_order` call per request.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from paper_kit import SESSION, T0, bar, config, req

from tradeswarm.brokers.errors import BrokerError, BrokerFatal, ErrorCode
from tradeswarm.brokers.paper import PaperBroker
from tradeswarm.brokers.port import OrderRequest, PlaceResult, place_each
from tradeswarm.core.clock import SimClock
from tradeswarm.model.enums import OrderType, Side

FAULTS = (
    ErrorCode.ERR_RATE_LIMIT,
    ErrorCode.ERR_NETWORK,
    ErrorCode.ERR_INSUFFICIENT_FUNDS,
    ErrorCode.ERR_AUTH,
)


def _broker(rate_limit: int) -> PaperBroker:
    clock = SimClock(T0)
    broker = PaperBroker(
        clock, config(initial_cash=Decimal(600_000), rate_limit_per_sec=rate_limit)
    )
    broker.open_session(SESSION)
    broker.on_bar(bar(0, "5000"))
    broker.on_bar(bar(0, "100", symbol="NQ"))
    clock.advance(1)
    return broker


def _request(n: int, kind: str, qty: int) -> OrderRequest:
    cid = f"c{n % 7}" if kind == "repeat" else f"c{n}"
    if kind == "sell":
        return req(cid, Side.SELL, str(qty))
    if kind == "unknown":
        return req(cid, symbol="XX")
    if kind == "zero":
        return req(cid, qty="0")
    if kind == "limit":
        return req(cid, qty=str(qty), kind=OrderType.LIMIT, limit="4990")
    return req(cid, qty=str(qty), symbol="NQ" if kind == "nq" else "ES")


def _shape(result: PlaceResult) -> Any:
    if isinstance(result, BrokerError):
        return (type(result).__name__, result.code, result.message)
    return result


async def _one_by_one(broker: PaperBroker, requests: list[OrderRequest]) -> list[PlaceResult]:
    out: list[PlaceResult] = []
    halted = False
    for request in requests:
        if halted:
            out.append(None)
            continue
        try:
            out.append(await broker.place_order(request))
        except BrokerError as err:
            out.append(err)
            halted = isinstance(err, BrokerFatal)
    return out


async def _placed(how: str, script: Any, fault: Any, rate_limit: int) -> Any:
    broker = _broker(rate_limit)
    try:
        if fault is not None:
            code, skip, after_accept = fault
            broker.inject_fault(code, after_accept=after_accept, skip=skip)
        requests = [_request(n, kind, qty) for n, (kind, qty) in enumerate(script)]
        if how == "batch":
            results = await broker.place_orders(requests)
        elif how == "each":
            results = await place_each(broker, requests)
        else:
            results = await _one_by_one(broker, requests)
        books = [(o.client_order_id, o.quantity, o.status) for o in await broker.get_open_orders()]
        return [_shape(r) for r in results], books, await broker.get_account()
    finally:
        broker.close()


kinds = st.sampled_from(("buy", "sell", "nq", "unknown", "zero", "limit", "repeat"))
scripts = st.lists(st.tuples(kinds, st.integers(1, 60)), min_size=3, max_size=12)
faults = st.sampled_from((None, *FAULTS)).flatmap(
    lambda f: (
        st.just(None) if f is None else st.tuples(st.just(f), st.integers(0, 3), st.booleans())
    )
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(script=scripts, fault=faults, rate_limit=st.sampled_from((3, 1000)))
def test_a_burst_is_answered_as_the_same_requests_one_by_one(
    script: Any, fault: Any, rate_limit: int
) -> None:
    one = asyncio.run(_placed("one", script, fault, rate_limit))
    assert asyncio.run(_placed("batch", script, fault, rate_limit)) == one
    assert asyncio.run(_placed("each", script, fault, rate_limit)) == one


@pytest.mark.asyncio
async def test_after_a_fatal_answer_the_rest_of_the_burst_is_not_attempted() -> None:
    broker = _broker(1000)
    try:
        broker.inject_fault(ErrorCode.ERR_AUTH, skip=1)
        results = await broker.place_orders([req(f"c{n}", qty="1") for n in range(4)])
        assert [type(r).__name__ for r in results] == [
            "OrderResponse",
            "BrokerFatal",
            "NoneType",
            "NoneType",
        ]
        assert [o.client_order_id for o in await broker.get_open_orders()] == ["c0"]
    finally:
        broker.close()
