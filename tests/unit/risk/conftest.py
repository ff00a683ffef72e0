from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from risk_kit import T0

from tradeswarm.bus.inproc import InProcessBus
from tradeswarm.core.clock import NS_PER_SECOND, SimClock
from tradeswarm.data.view import MarketView
from tradeswarm.model.market import Bar, Session
from tradeswarm.risk.limits import EngineKind, RiskLimits
from tradeswarm.risk.manager import RiskManager
from tradeswarm.store import Store

SESSION = Session(
    day="2024-01-02", open_ns=T0 - 60 * NS_PER_SECOND, close_ns=T0 + 390 * 60 * NS_PER_SECOND
)


@pytest.fixture
def store() -> Iterator[Store]:
    s = Store.open(":memory:")
    s.set_initial_cash(Decimal(5_000_000))
    yield s
    s.close()


@pytest.fixture
def market() -> MarketView:
    view = MarketView()
    view.open_session(SESSION)
    view.on_bar(
        Bar(
            symbol="ES",
            ts_event=T0,
            open=Decimal(100),
            high=Decimal(100),
            low=Decimal(100),
            close=Decimal(100),
            volume=Decimal(1000),
        )
    )
    return view


@pytest.fixture(params=list(EngineKind))
def manager(
    bus: InProcessBus,
    clock: SimClock,
    store: Store,
    market: MarketView,
    request: pytest.FixtureRequest,
) -> RiskManager:
    return RiskManager(
        "risk-manager-01",
        bus,
        clock,
        store=store,
        market=market,
        limits=RiskLimits(engine=request.param),
        oversight_timeout_s=300,
    )
