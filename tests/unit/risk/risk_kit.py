"""Builders for the risk tests: intents, contexts computed by the real build_context, and
the gate under both engines (the compiled one, checked against cedarpy on every call).

The kit's market quotes each intent at its own reference price with no spread unless a
test says otherwise (`mark`, `bid`, `ask`), so a boundary in the agent's number is a
boundary in the gate's valuation; the valuation itself is tested with other quotes.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from tradeswarm.core.clock import NS_PER_SECOND
from tradeswarm.instruments import InstrumentMaster
from tradeswarm.model.enums import MarketStatus, Side, Verdict
from tradeswarm.model.market import Instrument, Quote
from tradeswarm.model.messages import HumanApproval, TradeIntent
from tradeswarm.model.portfolio import Position
from tradeswarm.risk.context import BookFacts, DeskFacts, MarketFacts, RiskContext, build_context
from tradeswarm.risk.engines import make_engine
from tradeswarm.risk.gate import PolicyGate
from tradeswarm.risk.limits import EngineKind, RiskLimits
from tradeswarm.risk.policyset import load_bundle
from tradeswarm.testkit import T0, make_intent

AGENT = "trading-agent-01"
CENT = Decimal("0.01")

#: The kit's instruments: two unit-multiplier index futures, a crypto pair, a future worth
#: 50 per point on a quarter-point tick, and one the master holds but does not trade.
INSTRUMENTS = InstrumentMaster(
    [
        Instrument(symbol="ES", asset_class="equity_index_future", tick_size=CENT),
        Instrument(symbol="NQ", asset_class="equity_index_future", tick_size=CENT),
        Instrument(
            symbol="BTCUSD", asset_class="crypto", tick_size=CENT, lot_size=Decimal("0.001")
        ),
        Instrument(
            symbol="FUT50",
            asset_class="equity_index_future",
            multiplier=Decimal(50),
            tick_size=Decimal("0.25"),
        ),
        Instrument(symbol="DELISTED", asset_class="equity", tick_size=CENT, tradable=False),
    ],
    "the risk kit",
)


def intent(
    qty: str | int = 1, price: str | int = 100, side: Side = Side.BUY, **changes: object
) -> TradeIntent:
    fields: dict[str, object] = {
        "intent_id": uuid.UUID(int=42),
        "agent_id": AGENT,
        "side": side,
        "quantity": Decimal(qty),
        "reference_price": Decimal(price),
        "ts_event": T0,
    }
    fields.update(changes)
    return make_intent(**fields)


def approval(age_s: float, approved: bool = True) -> HumanApproval:
    return HumanApproval(
        request_id=uuid.UUID(int=77),
        approver="jane.doe@desk",
        approved=approved,
        decided_ns=T0 - int(age_s * NS_PER_SECOND),
    )


BUNDLE = load_bundle()
ENGINES = {kind: make_engine(kind, BUNDLE) for kind in EngineKind}


def gate(limits: RiskLimits | None = None, kind: EngineKind = EngineKind.COMPILED) -> PolicyGate:
    engine, prepare = ENGINES[kind]
    return PolicyGate(BUNDLE, engine, limits or RiskLimits(), prepare)


def _quote(i: TradeIntent, mark: Decimal | None, bid: Any, ask: Any, age_s: float) -> Quote:
    mid = mark if mark is not None else i.reference_price
    return Quote(
        symbol=i.symbol,
        ts_event=T0 - int(age_s * NS_PER_SECOND),
        bid=Decimal(bid) if bid is not None else mid,
        ask=Decimal(ask) if ask is not None else mid,
    )


def context(
    i: TradeIntent,
    *,
    cash: str | int = 5_000_000,
    positions: dict[str, Position] | None = None,
    marks: dict[str, Decimal] | None = None,
    mark: Decimal | None = None,
    bid: str | int | None = None,
    ask: str | int | None = None,
    mark_age_s: float = 0,
    history_bars: int = 31,
    status: MarketStatus = MarketStatus.OPEN,
    volatility: float = 0.1,
    halted: frozenset[str] = frozenset(),
    returns: tuple[float, ...] = (),
    equity_at_open: Decimal | None = None,
    open_orders: int = 0,
    open_order_exposure: Decimal = Decimal(0),
    principal: str | None = None,
    intents_last_second: int = 1,
    intents_last_minute: int = 1,
    duplicate_of: str = "",
    kill_switch: bool = False,
    compliance_status: str = "approved",
    insider_window: bool = False,
    human: HumanApproval | None = None,
) -> RiskContext:
    market = MarketFacts(
        quote=_quote(i, mark, bid, ask, mark_age_s),
        marks=marks or {},
        multipliers={s: inst.multiplier for s, inst in INSTRUMENTS.items()},
        status=status,
        volatility=volatility,
        history_bars=history_bars,
        halted_symbols=halted,
        returns=returns,
    )
    book = BookFacts(
        cash=Decimal(cash),
        positions=positions or {},
        equity_at_open=equity_at_open,
        open_orders=open_orders,
        open_order_exposure=open_order_exposure,
    )
    desk = DeskFacts(
        principal=i.agent_id if principal is None else principal,
        kill_switch=kill_switch,
        compliance_status=compliance_status,
        insider_window=insider_window,
        approval=human,
        intents_last_second=intents_last_second,
        intents_last_minute=intents_last_minute,
        duplicate_of=duplicate_of,
        now_ns=T0,
    )
    return build_context(i, INSTRUMENTS[i.symbol], book, market, desk)


def judge(
    i: TradeIntent, limits: RiskLimits | None = None, **facts: Any
) -> tuple[Verdict, list[str]]:
    """The gate's verdict under the compiled engine, checked against cedarpy's."""
    ctx = context(i, **facts)
    compiled = gate(limits, EngineKind.COMPILED).decide(i, ctx)
    reference = gate(limits, EngineKind.CEDARPY).decide(i, ctx)
    assert compiled == reference, (compiled, reference)
    return compiled.verdict, compiled.reasons


def rule_ids(reasons: list[str]) -> set[str]:
    return {r.split(":", 1)[0] for r in reasons}
