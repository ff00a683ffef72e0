"""Paper broker refusals: every error code, fault injection, idempotency, auth."""

from __future__ import annotations

from decimal import Decimal

import pytest
from paper_kit import MIN, SESSION, T0, bar, config, d, req

from tradeswarm.brokers.errors import (
    BrokerError,
    BrokerFatal,
    BrokerNonRetryable,
    BrokerRetryable,
    ErrorCode,
)
from tradeswarm.brokers.paper import PaperBroker
from tradeswarm.brokers.port import BrokerOrderStatus as St
from tradeswarm.brokers.port import BrokerPort
from tradeswarm.core.clock import NS_PER_SECOND, SimClock
from tradeswarm.model.enums import OrderType, Side


async def _refused(broker: PaperBroker, request: object, code: ErrorCode) -> BrokerError:
    with pytest.raises(BrokerError) as info:
        await broker.place_order(request)  # type: ignore[arg-type]
    assert info.value.code is code, info.value
    return info.value


@pytest.mark.asyncio
async def test_authenticate() -> None:
    broker = PaperBroker(SimClock(T0), config())
    assert await broker.authenticate("key", "secret", "paper") is True
    with pytest.raises(BrokerFatal, match="paper broker cannot trade live"):
        await broker.authenticate("key", "secret", "live")
    for key, secret in (("", "s"), ("k", "")):
        with pytest.raises(BrokerFatal) as info:
            await broker.authenticate(key, secret, "paper")
        assert info.value.code is ErrorCode.ERR_AUTH
    broker.close()


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (req("q0", qty="0"), "quantity=Decimal('0')"),
        (req("qn", qty="-1"), "quantity=Decimal('-1')"),
        (req("qnan", qty="NaN"), "quantity=Decimal('NaN')"),
        (req("qinf", qty="Infinity"), "quantity=Decimal('Infinity')"),
        (req("nolimit", kind=OrderType.LIMIT), "limit_price=None"),
        (req("nostop", kind=OrderType.STOP), "stop_price=None"),
        (req("badlimit", kind=OrderType.LIMIT, limit="-5"), "limit_price=Decimal('-5')"),
    ],
)
async def test_invalid_orders_name_field_and_value(
    broker: PaperBroker, request_: object, field: str
) -> None:
    err = await _refused(broker, request_, ErrorCode.ERR_INVALID_ORDER)
    assert isinstance(err, BrokerNonRetryable)
    assert field in err.message


@pytest.mark.asyncio
async def test_invalid_ticker(broker: PaperBroker) -> None:
    err = await _refused(broker, req("x", symbol="XYZ"), ErrorCode.ERR_INVALID_TICKER)
    assert "XYZ" in err.message


@pytest.mark.asyncio
async def test_market_closed_without_session_or_outside_it(clock: SimClock) -> None:
    broker = PaperBroker(clock, config())
    await _refused(broker, req("a"), ErrorCode.ERR_MARKET_CLOSED)  # no session
    broker.open_session(SESSION)
    clock.set(SESSION.close_ns)
    await _refused(broker, req("b"), ErrorCode.ERR_MARKET_CLOSED)
    limit = req("c", kind=OrderType.LIMIT, limit="5000", extended_hours=True)
    resp = await broker.place_order(limit)
    assert resp.status is St.ACCEPTED
    broker.close()


@pytest.mark.asyncio
async def test_market_order_without_a_price_is_refused(clock: SimClock) -> None:
    broker = PaperBroker(clock, config())
    broker.open_session(SESSION)
    err = await _refused(broker, req("a"), ErrorCode.ERR_MARKET_CLOSED)
    assert "no price yet" in err.message
    broker.close()


@pytest.mark.asyncio
async def test_insufficient_funds_counts_open_buys(clock: SimClock) -> None:
    broker = PaperBroker(clock, config(initial_cash=d("100000")))
    broker.open_session(SESSION)
    broker.on_bar(bar(0, "5000"))
    clock.advance(1)
    # 19 x 5000 x 1.0001 + fee 9.50 = 95019.00: fits; a second one does not.
    await broker.place_order(req("a", qty="19"))
    err = await _refused(broker, req("b", qty="19"), ErrorCode.ERR_INSUFFICIENT_FUNDS)
    assert isinstance(err, BrokerNonRetryable)
    await _refused(
        broker,
        req("c", qty="21", kind=OrderType.LIMIT, limit="4800"),
        ErrorCode.ERR_INSUFFICIENT_FUNDS,
    )
    assert await broker.cancel_order("brk-000001")
    assert (await broker.place_order(req("b", qty="19"))).broker_order_id == "brk-000002"
    broker.close()


@pytest.mark.asyncio
async def test_insufficient_position_counts_open_sells(broker: PaperBroker) -> None:
    err = await _refused(broker, req("s0", Side.SELL), ErrorCode.ERR_INSUFFICIENT_FUNDS)
    assert "insufficient position" in err.message
    await broker.place_order(req("b", qty="10"))
    broker.on_bar(bar(1, "5000"))
    await broker.place_order(req("s1", Side.SELL, qty="6"))
    err = await _refused(broker, req("s2", Side.SELL, qty="5"), ErrorCode.ERR_INSUFFICIENT_FUNDS)
    assert "insufficient position" in err.message
    assert (await broker.place_order(req("s3", Side.SELL, qty="4"))).status is St.ACCEPTED


@pytest.mark.asyncio
async def test_short_selling_when_allowed(clock: SimClock) -> None:
    broker = PaperBroker(clock, config(allow_short=True))
    broker.open_session(SESSION)
    broker.on_bar(bar(0, "5000"))
    clock.advance(1)
    await broker.place_order(req("s", Side.SELL, qty="3"))
    broker.on_bar(bar(1, "5000"))
    [pos] = await broker.get_positions()
    assert pos.quantity == d(-3)
    broker.close()


@pytest.mark.asyncio
async def test_rate_limit_refills_on_clock_time(clock: SimClock) -> None:
    broker = PaperBroker(clock, config(rate_limit_per_sec=2))
    broker.open_session(SESSION)
    broker.on_bar(bar(0, "5000"))
    clock.advance(1)
    await broker.place_order(req("a", qty="1"))
    await broker.place_order(req("b", qty="1"))
    err = await _refused(broker, req("c", qty="1"), ErrorCode.ERR_RATE_LIMIT)
    assert isinstance(err, BrokerRetryable)
    assert err.retry_after_ms == 500
    await broker.place_order(req("a", qty="1"))  # a duplicate costs no token
    clock.advance(NS_PER_SECOND // 4)
    err = await _refused(broker, req("c", qty="1"), ErrorCode.ERR_RATE_LIMIT)
    assert err.retry_after_ms == 250
    clock.advance(NS_PER_SECOND // 4)
    assert (await broker.place_order(req("c", qty="1"))).broker_order_id == "brk-000003"
    clock.advance(10 * NS_PER_SECOND)  # the bucket holds at most `rate` tokens
    await broker.place_order(req("d", qty="1"))
    await broker.place_order(req("e", qty="1"))
    await _refused(broker, req("f", qty="1"), ErrorCode.ERR_RATE_LIMIT)
    broker.close()


@pytest.mark.asyncio
async def test_injected_faults_fail_the_next_calls_then_clear(broker: PaperBroker) -> None:
    broker.inject_fault(ErrorCode.ERR_NETWORK, times=2)
    for _ in range(2):
        err = await _refused(broker, req("a"), ErrorCode.ERR_NETWORK)
        assert isinstance(err, BrokerRetryable) and "injected" in err.message
    assert await broker.get_order_by_client_id("a") is None
    assert (await broker.place_order(req("a"))).broker_order_id == "brk-000001"
    broker.inject_fault(ErrorCode.ERR_INSUFFICIENT_FUNDS)
    await _refused(broker, req("b"), ErrorCode.ERR_INSUFFICIENT_FUNDS)


@pytest.mark.asyncio
async def test_duplicate_client_order_id_returns_existing(broker: PaperBroker) -> None:
    first = await broker.place_order(req("c1", qty="10"))
    again = await broker.place_order(req("c1", qty="99", side=Side.SELL))
    assert again.duplicate and again.broker_order_id == first.broker_order_id
    assert again.submitted_ns == first.submitted_ns
    assert len(await broker.get_open_orders()) == 1
    broker.on_bar(bar(1, "5000"))
    filled = await broker.place_order(req("c1"))
    assert filled.duplicate and filled.status is St.FILLED
    assert (await broker.get_order_status(first.broker_order_id)).quantity == d(10)


@pytest.mark.asyncio
async def test_lost_response_then_retry_returns_the_accepted_order(
    broker: PaperBroker,
) -> None:
    broker.inject_fault(ErrorCode.ERR_NETWORK, after_accept=True)
    err = await _refused(broker, req("c1"), ErrorCode.ERR_NETWORK)
    assert isinstance(err, BrokerRetryable)
    known = await broker.get_order_by_client_id("c1")
    assert known is not None and known.broker_order_id == "brk-000001"
    retry = await broker.place_order(req("c1"))
    assert retry.duplicate and retry.broker_order_id == "brk-000001"
    assert len(await broker.get_open_orders()) == 1
    assert len(broker.on_bar(bar(1, "5000"))) == 1


@pytest.mark.asyncio
async def test_unknown_order(broker: PaperBroker) -> None:
    for call in (broker.cancel_order, broker.get_order_status):
        with pytest.raises(BrokerNonRetryable) as info:
            await call("brk-999999")
        assert info.value.code is ErrorCode.ERR_UNKNOWN_ORDER
    assert await broker.get_order_by_client_id("nope") is None


@pytest.mark.asyncio
async def test_broker_ids_are_deterministic_across_runs() -> None:
    async def run() -> list[str]:
        clock = SimClock(T0)
        broker = PaperBroker(clock, config())
        broker.open_session(SESSION)
        broker.on_bar(bar(0, "5000"))
        ids = []
        for i in range(3):
            clock.advance(MIN)
            ids.append((await broker.place_order(req(f"c{i}"))).broker_order_id)
        broker.close()
        return ids

    assert await run() == await run() == ["brk-000001", "brk-000002", "brk-000003"]


def test_money_never_goes_through_float(broker: PaperBroker) -> None:
    assert isinstance(broker.last_price("ES"), Decimal)
    assert broker.last_price("NQ") is None


def test_paper_broker_satisfies_the_broker_port(broker: PaperBroker) -> None:
    port: BrokerPort = broker  # mypy checks the protocol here
    assert port is broker
