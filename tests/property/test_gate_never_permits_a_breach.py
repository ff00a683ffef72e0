"""A PERMIT from the Cedar gate never breaches a configured limit: the breach checks are
computed here, independently of the policies, from the raw inputs; and the compiled
engine's verdicts equal cedarpy's on every scenario."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal, localcontext

import msgspec
from hypothesis import event, given, settings
from hypothesis import strategies as st

from tradeswarm.core.clock import NS_PER_SECOND
from tradeswarm.model.enums import MarketStatus, OrderType, Side, Verdict
from tradeswarm.model.messages import HumanApproval, TradeIntent
from tradeswarm.model.portfolio import Position
from tradeswarm.risk.context import BookFacts, DeskFacts, MarketFacts, RiskContext, build_context
from tradeswarm.risk.engines import make_engine
from tradeswarm.risk.gate import GateVerdict, PolicyGate
from tradeswarm.risk.limits import EngineKind, RiskLimits, TierLimits
from tradeswarm.risk.policyset import load_bundle
from tradeswarm.testkit import make_intent

NOW = 1_704_205_800 * NS_PER_SECOND
BUNDLE = load_bundle()
ENGINES = {kind: make_engine(kind, BUNDLE) for kind in EngineKind}
SYMBOLS = ["ES", "NQ"]


def money(lo: int, hi: int, places: int = 2) -> st.SearchStrategy[Decimal]:
    return st.integers(lo * 10**places, hi * 10**places).map(lambda n: Decimal(n).scaleb(-places))


def money_from(lo_units: int, hi_units: int, places: int) -> st.SearchStrategy[Decimal]:
    return st.integers(lo_units, hi_units).map(lambda n: Decimal(n).scaleb(-places))


def rarely(p_true: int = 1, of: int = 8) -> st.SearchStrategy[bool]:
    return st.sampled_from([True] * p_true + [False] * (of - p_true))


limits_st = st.builds(
    RiskLimits,
    tiers=st.fixed_dictionaries(
        {
            "starter": st.builds(TierLimits, max_trade_size=money(1_000, 50_000)),
            "professional": st.builds(TierLimits, max_trade_size=money(10_000, 500_000)),
        }
    ),
    agent_tiers=st.sampled_from(
        [
            {"trading-agent-01": "professional"},
            {"trading-agent-01": "starter"},
            {"trading-agent-01": "missing"},
            {},
        ]
    ),
    hard_cap=money(5_000, 400_000),
    position_limit=st.integers(1, 300).map(Decimal),
    max_concentration=st.integers(100, 10_000).map(lambda bps: bps / 10_000),
    max_daily_loss=money(1_000, 100_000),
    oversight_threshold=money(1_000, 300_000),
    volatility_limit=st.integers(500, 10_000).map(lambda bps: bps / 10_000),
    excluded_asset_classes=st.sampled_from([["crypto"], [], ["crypto"], ["equity_index_future"]]),
    allowed_order_types=st.sampled_from(
        [
            [OrderType.MARKET, OrderType.LIMIT],
            [OrderType.MARKET],
            list(OrderType),
        ]
    ),
    restricted_symbols=st.sampled_from([[], [], [], ["NQ"], ["ES"]]),
    allow_short=st.booleans(),
    approval_valid_s=st.integers(1, 900),
)


@st.composite
def intents(draw: st.DrawFn) -> TradeIntent:
    order_type = draw(st.sampled_from([OrderType.MARKET] * 3 + [OrderType.LIMIT, OrderType.STOP]))
    ref = draw(money(1, 2_000))
    return make_intent(
        intent_id=uuid.UUID(int=1),
        symbol=draw(st.sampled_from(SYMBOLS)),
        side=draw(st.sampled_from(list(Side))),
        quantity=draw(st.one_of(st.integers(1, 60).map(Decimal), money_from(1, 50_000, 3))),
        order_type=order_type,
        reference_price=ref,
        limit_price=draw(money(1, 2_000)) if order_type is OrderType.LIMIT else None,
        stop_price=draw(money(1, 2_000)) if order_type is OrderType.STOP else None,
        strategy="s",
        rationale="r",
        ts_event=NOW,
        asset_class=draw(st.sampled_from(["equity_index_future"] * 7 + ["crypto"])),
    )


positions_st = st.dictionaries(
    st.sampled_from(SYMBOLS),
    st.builds(lambda q, c: (q, c), st.integers(-40, 40).map(Decimal), money(1, 2_000)),
    max_size=2,
).map(lambda d: {s: Position(symbol=s, quantity=q, avg_cost=c) for s, (q, c) in d.items()})

marks_st = st.dictionaries(st.sampled_from(SYMBOLS), money(1, 2_000), max_size=2)


@st.composite
def approvals(draw: st.DrawFn) -> HumanApproval | None:
    if draw(rarely(1, 3)):
        return None
    age_ns = draw(st.integers(-10 * NS_PER_SECOND, 1_000 * NS_PER_SECOND))
    return HumanApproval(
        request_id=uuid.UUID(int=2),
        approver="jane",
        approved=draw(rarely(5, 6)),
        decided_ns=NOW - age_ns,
    )


@dataclass(frozen=True)
class Scenario:
    i: TradeIntent
    lim: RiskLimits
    cash: Decimal
    positions: dict[str, Position]
    marks: dict[str, Decimal]
    status: MarketStatus
    vol: float
    halted: bool
    kill: bool
    opened: Decimal | None
    approval: HumanApproval | None


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    i, lim = draw(intents()), draw(limits_st)
    cash = draw(st.one_of(money(50_000, 10_000_000), money(-10_000, 50_000)))
    offset = draw(st.none() | money(-150_000, 150_000))
    switches = {
        "status": draw(st.sampled_from([MarketStatus.OPEN] * 6 + list(MarketStatus))),
        "halted": draw(rarely()),
        "kill": draw(rarely()),
    }
    if draw(st.booleans()):  # half the examples: nothing thrown, the numeric limits decide
        switches = {"status": MarketStatus.OPEN, "halted": False, "kill": False}
        i = msgspec.structs.replace(
            i,
            asset_class="equity_index_future",
            order_type=OrderType.MARKET,
            limit_price=None,
            stop_price=None,
        )
        lim = msgspec.structs.replace(
            lim,
            excluded_asset_classes=[],
            restricted_symbols=[],
            agent_tiers={"trading-agent-01": "professional"},
        )
    return Scenario(
        i=i,
        lim=lim,
        cash=cash,
        positions=draw(positions_st),
        marks=draw(marks_st),
        vol=lim.volatility_limit * draw(st.sampled_from([0.0, 0.5, 0.99, 1.0, 1.001, 1.5])),
        opened=None if offset is None else cash + offset,
        approval=draw(approvals()),
        **switches,
    )


def _switch_breaches(s: Scenario) -> list[str]:
    checks = {
        "kill switch on": s.kill,
        "excluded asset class": s.i.asset_class in s.lim.excluded_asset_classes,
        "volatility": s.vol > s.lim.volatility_limit,
        "market not open": s.status is not MarketStatus.OPEN,
        "halted": s.halted,
        "restricted": s.i.symbol in s.lim.restricted_symbols,
        "order type": s.i.order_type not in s.lim.allowed_order_types,
    }
    return [name for name, hit in checks.items() if hit]


def _notional(i: TradeIntent) -> Decimal:
    by_type = {OrderType.LIMIT: i.limit_price, OrderType.STOP: i.stop_price}
    price = by_type.get(i.order_type) or i.reference_price
    return i.quantity * price


def _book_breaches(s: Scenario) -> list[str]:
    i, lim = s.i, s.lim
    notional = _notional(i)
    held = s.positions[i.symbol].quantity if i.symbol in s.positions else Decimal(0)
    post = held + (i.quantity if i.side is Side.BUY else -i.quantity)
    equity = s.cash + sum(
        (p.quantity * s.marks.get(sym, p.avg_cost) for sym, p in s.positions.items()), Decimal(0)
    )
    exposure = abs(post * s.marks.get(i.symbol, i.reference_price))
    tier = lim.tiers.get(lim.agent_tiers.get(i.agent_id, ""))
    fresh = (
        s.approval is not None
        and s.approval.approved
        and 0 <= NOW - s.approval.decided_ns <= lim.approval_valid_s * NS_PER_SECOND
    )
    checks = {
        "tier cap": tier is None or notional > tier.max_trade_size,
        "hard cap": notional > lim.hard_cap,
        "position limit": abs(post) > lim.position_limit,
        "short": post < 0 and not lim.allow_short,
        "concentration": post != 0
        and (equity <= 0 or exposure >= Decimal(repr(lim.max_concentration)) * equity),
        "daily loss": s.opened is not None and equity - s.opened <= -lim.max_daily_loss,
        "needs approval": notional > lim.oversight_threshold and not fresh,
    }
    return [name for name, hit in checks.items() if hit]


def breaches(s: Scenario) -> list[str]:
    """Every configured limit the trade would breach, computed from first principles."""
    with localcontext() as ctx:
        ctx.prec = 200  # exact for these magnitudes
        return _switch_breaches(s) + _book_breaches(s)


def decide(s: Scenario, kind: EngineKind) -> tuple[RiskContext, GateVerdict]:
    market = MarketFacts(
        marks=s.marks,
        status=s.status,
        volatility=s.vol,
        halted_symbols=frozenset({s.i.symbol}) if s.halted else frozenset(),
    )
    book = BookFacts(cash=s.cash, positions=s.positions, equity_at_open=s.opened)
    desk = DeskFacts(kill_switch=s.kill, approval=s.approval, now_ns=NOW)
    ctx = build_context(s.i, book, market, desk)
    engine, prepare = ENGINES[kind]
    return ctx, PolicyGate(BUNDLE, engine, s.lim, prepare).decide(s.i, ctx)


@settings(max_examples=600, deadline=None)
@given(s=scenarios())
def test_gate_never_permits_a_breach(s: Scenario) -> None:
    _, decided = decide(s, EngineKind.COMPILED)
    verdict, reasons = decided.verdict, decided.reasons
    found = breaches(s)
    event(f"verdict={verdict}")
    if verdict is Verdict.PERMIT:
        assert found == [], reasons
    else:
        assert reasons and reasons != ["all policies passed"]
    if found == ["needs approval"]:
        assert verdict is Verdict.REVIEW, reasons
    if found and "needs approval" not in found:
        assert verdict is Verdict.DENY, (found, reasons)


@settings(max_examples=300, deadline=None)
@given(s=scenarios())
def test_gate_compiled_engine_agrees_with_cedarpy(s: Scenario) -> None:
    _, compiled = decide(s, EngineKind.COMPILED)
    _, reference = decide(s, EngineKind.CEDARPY)
    assert compiled == reference
