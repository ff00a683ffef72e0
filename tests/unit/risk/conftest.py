from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from risk_kit import INSTRUMENTS, T0

from signed_kit import signed_bus
from tradeswarm.bus.inproc import InProcessBus
from tradeswarm.core.clock import NS_PER_SECOND, SimClock
from tradeswarm.crypto.registry import KeyRegistry
from tradeswarm.data.view import MarketView
from tradeswarm.model.market import Bar, Quote, Session
from tradeswarm.risk.limits import EngineKind, RiskLimits
from tradeswarm.risk.manager import RiskManager
from tradeswarm.store import Store

SESSION = Session(
    day="2024-01-02", open_ns=T0 - 60 * NS_PER_SECOND, close_ns=T0 + 390 * 60 * NS_PER_SECOND
)
MINUTE = 60 * NS_PER_SECOND


@pytest.fixture
def store() -> Iterator[Store]:
    s = Store.open(":memory:")
    s.set_initial_cash(Decimal(5_000_000))
    yield s
    s.close()


@pytest.fixture
def signing(clock: SimClock, store: Store) -> tuple[InProcessBus, KeyRegistry]:
    bus, registry, _ = signed_bus(clock, store)
    return bus, registry


@pytest.fixture
def bus(signing: tuple[InProcessBus, KeyRegistry]) -> InProcessBus:
    return signing[0]


@pytest.fixture
def registry(signing: tuple[InProcessBus, KeyRegistry]) -> KeyRegistry:
    return signing[1]


def bar(close: str | int, ts: int = T0, symbol: str = "ES") -> Bar:
    price = Decimal(close)
    return Bar(
        symbol=symbol,
        ts_event=ts,
        open=price,
        high=price,
        low=price,
        close=price,
        volume=Decimal(1),
    )


def quote_at(market: MarketView, price: str | int, ts: int = T0, symbol: str = "ES") -> None:
    """The market trades at price now: a bar there and a quote with no spread."""
    market.on_bar(bar(price, ts, symbol))
    p = Decimal(price)
    market.set_quote(Quote(symbol=symbol, ts_event=ts, bid=p, ask=p))


@pytest.fixture
def market() -> MarketView:
    """ES with 31 bars of history at 100 (enough for the volatility and VaR windows)."""
    view = MarketView()
    view.open_session(SESSION)
    for k in range(30, -1, -1):
        quote_at(view, 100, T0 - k * MINUTE)
    return view


def make_manager(
    bus: InProcessBus,
    clock: SimClock,
    store: Store,
    market: MarketView,
    registry: KeyRegistry,
    limits: RiskLimits | None = None,
) -> RiskManager:
    return RiskManager(
        "risk-manager-01",
        bus,
        clock,
        store=store,
        market=market,
        limits=limits or RiskLimits(),
        instruments=INSTRUMENTS,
        registry=registry,
        oversight_timeout_s=300,
    )


@pytest.fixture(params=list(EngineKind))
def manager(
    bus: InProcessBus,
    clock: SimClock,
    store: Store,
    market: MarketView,
    registry: KeyRegistry,
    request: pytest.FixtureRequest,
) -> RiskManager:
    return make_manager(bus, clock, store, market, registry, RiskLimits(engine=request.param))
