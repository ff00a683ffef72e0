"""Paper broker matching: market, limit and stop prices, partial fills, IOC, DAY expiry."""

from __future__ import annotations

import uuid

import pytest
from paper_kit import MIN, SESSION, T0, bar, d, req

from tradeswarm.brokers.paper import PaperBroker
from tradeswarm.brokers.port import BrokerOrderStatus as St
from tradeswarm.core.clock import SimClock
from tradeswarm.model.enums import OrderType, Side, TimeInForce


@pytest.mark.asyncio
async def test_market_buy_fills_at_next_bar_open_plus_slippage(broker: PaperBroker) -> None:
    resp = await broker.place_order(req("c1", qty="10"))
    assert resp.broker_order_id == "brk-000001"
    assert resp.status is St.ACCEPTED and not resp.duplicate
    fills = broker.on_bar(bar(1, "5010", "5020", "5000", "5015"))
    assert len(fills) == 1
    f = fills[0]
    assert f.fill_id == "brk-000001-F1"
    assert f.price == d("5010.5010")  # 5010 x 1.0001
    assert f.quantity == d(10)
    assert f.fee == d("5.01")  # 50105.01 x 1bp = 5.010501 -> 5.01
    assert f.order_id == uuid.uuid5(uuid.NAMESPACE_OID, "int-c1")
    acct = await broker.get_account()
    assert acct.cash == d("10000000") - d("50105.010") - d("5.01")
    assert acct.equity == acct.cash + 10 * d("5015")
    assert acct.buying_power == acct.cash
    order = await broker.get_order_status("brk-000001")
    assert order.status is St.FILLED and order.avg_fill_price == d("5010.5010")
    assert broker.last_price("ES") == d("5015")


@pytest.mark.asyncio
async def test_market_sell_receives_open_minus_slippage(broker: PaperBroker) -> None:
    await broker.place_order(req("b", qty="10"))
    broker.on_bar(bar(1, "5000"))
    await broker.place_order(req("s", side=Side.SELL, qty="4"))
    [f] = broker.on_bar(bar(2, "5000"))
    assert f.side is Side.SELL and f.price == d("4999.5000")
    [pos] = await broker.get_positions()
    assert pos.quantity == d(6)


@pytest.mark.asyncio
async def test_order_is_not_filled_by_a_bar_closing_before_submission(
    broker: PaperBroker, clock: SimClock
) -> None:
    clock.set(T0 + MIN)
    await broker.place_order(req("c1"))
    assert broker.on_bar(bar(1, "5000")) == []  # ts_event == submitted: not eligible
    assert len(broker.on_bar(bar(2, "5001"))) == 1


@pytest.mark.asyncio
async def test_limit_buy_waits_for_low_then_fills_at_min_of_limit_and_open(
    broker: PaperBroker,
) -> None:
    await broker.place_order(req("l1", kind=OrderType.LIMIT, limit="4990"))
    assert broker.on_bar(bar(1, "5000", "5005", "4995")) == []
    [f] = broker.on_bar(bar(2, "4998", "5000", "4985"))
    assert f.price == d("4990")
    await broker.place_order(req("l2", kind=OrderType.LIMIT, limit="4990"))
    [g] = broker.on_bar(bar(3, "4980", "4985", "4975"))  # gap down: open is better
    assert g.price == d("4980")


@pytest.mark.asyncio
async def test_limit_sell_fills_at_max_of_limit_and_open(broker: PaperBroker) -> None:
    await broker.place_order(req("b", qty="20"))
    broker.on_bar(bar(1, "5000"))
    await broker.place_order(req("s1", Side.SELL, kind=OrderType.LIMIT, limit="5010"))
    assert broker.on_bar(bar(2, "5000", "5009", "4995")) == []
    [f] = broker.on_bar(bar(3, "5005", "5012", "5000"))
    assert f.price == d("5010")
    await broker.place_order(req("s2", Side.SELL, kind=OrderType.LIMIT, limit="5010"))
    [g] = broker.on_bar(bar(4, "5020", "5025", "5015"))  # gap up: open is better
    assert g.price == d("5020")


@pytest.mark.asyncio
async def test_stop_buy_triggers_on_high_and_fills_at_max_of_stop_and_open(
    broker: PaperBroker,
) -> None:
    await broker.place_order(req("st", kind=OrderType.STOP, stop="5010"))
    assert broker.on_bar(bar(1, "5000", "5009", "4995")) == []
    [f] = broker.on_bar(bar(2, "5005", "5015", "5000"))
    assert f.price == d("5010.5010")  # max(5010, 5005) x 1.0001
    await broker.place_order(req("st2", kind=OrderType.STOP, stop="5010"))
    [g] = broker.on_bar(bar(3, "5020", "5030", "5018"))
    assert g.price == d("5020.5020")


@pytest.mark.asyncio
async def test_stop_sell_triggers_on_low_and_fills_at_min_of_stop_and_open(
    broker: PaperBroker,
) -> None:
    await broker.place_order(req("b", qty="20"))
    broker.on_bar(bar(1, "5000"))
    await broker.place_order(req("st", Side.SELL, kind=OrderType.STOP, stop="4990"))
    assert broker.on_bar(bar(2, "5000", "5005", "4991")) == []
    [f] = broker.on_bar(bar(3, "4995", "4996", "4980"))
    assert f.price == d("4989.5010")  # min(4990, 4995) x 0.9999
    await broker.place_order(req("st2", Side.SELL, kind=OrderType.STOP, stop="4990"))
    [g] = broker.on_bar(bar(4, "4970", "4975", "4960"))
    assert g.price == d("4969.5030")


@pytest.mark.asyncio
async def test_partial_fills_by_participation_over_several_bars(broker: PaperBroker) -> None:
    await broker.place_order(req("p", qty="250", kind=OrderType.LIMIT, limit="5000"))
    [f1] = broker.on_bar(bar(1, "5000", v="1000"))  # 10% of 1000 = 100
    assert f1.quantity == d(100) and f1.fill_id == "brk-000001-F1"
    status = await broker.get_order_status("brk-000001")
    assert status.status is St.PARTIALLY_FILLED and status.filled_qty == d(100)
    assert broker.on_bar(bar(2, "5000", v="5")) == []  # floor(0.5) = 0: no fill
    [f2] = broker.on_bar(bar(3, "5000", v="1009"))
    assert f2.quantity == d(100) and f2.fill_id == "brk-000001-F2"
    [f3] = broker.on_bar(bar(4, "5000", v="100000"))
    assert f3.quantity == d(50) and f3.fill_id == "brk-000001-F3"
    status = await broker.get_order_status("brk-000001")
    assert status.status is St.FILLED and status.filled_qty == d(250)
    assert broker.on_bar(bar(5, "5000")) == []
    fills = await broker.get_fills(0)
    assert [f.fill_id for f in fills] == [f1.fill_id, f2.fill_id, f3.fill_id]
    assert await broker.get_fills(T0 + 3 * MIN) == [f2, f3]


@pytest.mark.asyncio
async def test_triggered_stop_keeps_filling_as_market_after_a_partial(
    broker: PaperBroker,
) -> None:
    await broker.place_order(req("st", qty="150", kind=OrderType.STOP, stop="5010"))
    [f1] = broker.on_bar(bar(1, "5005", "5015", "5000"))
    assert f1.quantity == d(100)
    [f2] = broker.on_bar(bar(2, "5003", "5004", "5002"))  # below the stop: still works
    assert f2.quantity == d(50) and f2.price == d("5003.5003")


@pytest.mark.asyncio
async def test_orders_fill_in_submission_order(broker: PaperBroker) -> None:
    await broker.place_order(req("a", qty="5"))
    await broker.place_order(req("b", qty="5"))
    fills = broker.on_bar(bar(1, "5000"))
    assert [f.client_order_id for f in fills] == ["a", "b"]


@pytest.mark.asyncio
async def test_ioc_remainder_is_canceled_after_first_eligible_bar(broker: PaperBroker) -> None:
    await broker.place_order(req("i", qty="150", tif=TimeInForce.IOC))
    [f] = broker.on_bar(bar(1, "5000"))
    assert f.quantity == d(100)
    order = await broker.get_order_status("brk-000001")
    assert order.status is St.CANCELED and order.filled_qty == d(100)
    assert broker.on_bar(bar(2, "5000")) == []


@pytest.mark.asyncio
async def test_ioc_limit_not_reached_is_canceled(broker: PaperBroker) -> None:
    await broker.place_order(req("i", kind=OrderType.LIMIT, limit="4900", tif=TimeInForce.IOC))
    assert broker.on_bar(bar(1, "5000")) == []
    order = await broker.get_order_status("brk-000001")
    assert order.status is St.CANCELED and order.filled_qty == 0
    assert await broker.get_open_orders() == []


@pytest.mark.asyncio
async def test_day_orders_expire_on_the_closing_bar_gtc_survive(broker: PaperBroker) -> None:
    await broker.place_order(req("day", kind=OrderType.LIMIT, limit="4000"))
    await broker.place_order(req("gtc", kind=OrderType.LIMIT, limit="4000", tif=TimeInForce.GTC))
    await broker.place_order(req("nq", kind=OrderType.LIMIT, limit="1", symbol="NQ"))
    broker.on_bar(bar(389, "5000"))
    assert len(await broker.get_open_orders()) == 3
    broker.on_bar(bar(390, "5000"))  # ts_event == session close
    assert (await broker.get_order_status("brk-000001")).status is St.EXPIRED
    assert (await broker.get_order_status("brk-000002")).status is St.ACCEPTED
    assert (await broker.get_order_status("brk-000003")).status is St.ACCEPTED  # other symbol


@pytest.mark.asyncio
async def test_closing_bar_fills_before_day_expiry(broker: PaperBroker) -> None:
    await broker.place_order(req("day", qty="150"))
    [f] = broker.on_bar(bar(390, "5000"))
    assert f.quantity == d(100)
    order = await broker.get_order_status("brk-000001")
    assert order.status is St.EXPIRED and order.filled_qty == d(100)


@pytest.mark.asyncio
async def test_a_bar_after_close_expires_day_orders_before_matching(
    broker: PaperBroker,
) -> None:
    await broker.place_order(req("day"))
    assert broker.on_bar(bar(400, "5000")) == []
    assert (await broker.get_order_status("brk-000001")).status is St.EXPIRED


@pytest.mark.asyncio
async def test_close_session_expires_all_day_orders(broker: PaperBroker) -> None:
    await broker.place_order(req("day", kind=OrderType.LIMIT, limit="4000"))
    await broker.place_order(req("nq", kind=OrderType.LIMIT, limit="1", symbol="NQ"))
    await broker.place_order(req("gtc", kind=OrderType.LIMIT, limit="4000", tif=TimeInForce.GTC))
    broker.close_session()
    open_ids = [o.client_order_id for o in await broker.get_open_orders()]
    assert open_ids == ["gtc"]
    assert broker.session() is None


@pytest.mark.asyncio
async def test_a_new_day_session_expires_yesterdays_day_orders(
    broker: PaperBroker, clock: SimClock
) -> None:
    await broker.place_order(req("day", kind=OrderType.LIMIT, limit="4000"))
    broker.open_session(SESSION)  # the same day again (a replay): nothing expires
    assert len(await broker.get_open_orders()) == 1
    clock.set(SESSION.open_ns + 86_400 * 10**9)
    tomorrow = type(SESSION)(
        day="2024-01-03", open_ns=clock.now_ns(), close_ns=clock.now_ns() + 390 * MIN
    )
    broker.open_session(tomorrow)
    assert await broker.get_open_orders() == []


@pytest.mark.asyncio
async def test_cancel_order(broker: PaperBroker) -> None:
    await broker.place_order(req("l", kind=OrderType.LIMIT, limit="4000"))
    assert await broker.cancel_order("brk-000001") is True
    assert await broker.cancel_order("brk-000001") is False
    assert (await broker.get_order_status("brk-000001")).status is St.CANCELED
    assert broker.on_bar(bar(1, "3000")) == []


@pytest.mark.asyncio
async def test_a_bar_at_or_before_the_cursor_is_ignored(broker: PaperBroker) -> None:
    await broker.place_order(req("m"))
    assert len(broker.on_bar(bar(2, "5000"))) == 1
    await broker.place_order(req("m2"))
    assert broker.on_bar(bar(2, "5000")) == []
    assert broker.on_bar(bar(1, "5000")) == []
    assert len(broker.on_bar(bar(3, "5000"))) == 1


@pytest.mark.asyncio
async def test_positions_lists_nonzero_only(broker: PaperBroker) -> None:
    await broker.place_order(req("b", qty="10"))
    broker.on_bar(bar(1, "5000"))
    await broker.place_order(req("s", Side.SELL, qty="10"))
    broker.on_bar(bar(2, "5000"))
    assert await broker.get_positions() == []
    acct = await broker.get_account()
    assert acct.equity == acct.cash
