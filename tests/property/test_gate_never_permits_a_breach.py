"""The gate against an independent oracle, in both directions: no PERMIT ever breaches a
configured limit, and no trade inside every limit is denied (or sent to review).

The oracle here values each trade from the market data itself (the quote's touch, the
order's own limit or stop, the instrument's multiplier) and checks every limit from first
principles in exact Decimal arithmetic, sharing no code with the gate. The compiled
engine's verdicts also equal cedarpy's on every scenario."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal, localcontext

import msgspec
from hypothesis import event, given, settings
from hypothesis import strategies as st

from tradeswarm.core.clock import NS_PER_SECOND
from tradeswarm.model.enums import MarketStatus, OrderType, Side, Verdict
from tradeswarm.model.market import Instrument, Quote
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
INSTRUMENTS = {
    "ES": Instrument(symbol="ES", asset_class="equity_index_future", tick_size=Decimal("0.25")),
    "NQ": Instrument(
        symbol="NQ",
        asset_class="equity_index_future",
        multiplier=Decimal(20),
        tick_size=Decimal("0.25"),
    ),
    "BTC": Instrument(
        symbol="BTC", asset_class="crypto", tick_size=Decimal("0.01"), lot_size=Decimal("0.001")
    ),
    "OLD": Instrument(symbol="OLD", asset_class="equity", tradable=False),
}
SYMBOLS = ["ES", "ES", "NQ", "BTC", "OLD"]
MULTIPLIERS = {s: i.multiplier for s, i in INSTRUMENTS.items()}


def money(lo: int, hi: int, places: int = 2) -> st.SearchStrategy[Decimal]:
    return st.integers(lo * 10**places, hi * 10**places).map(lambda n: Decimal(n).scaleb(-places))


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
        [{"trading-agent-01": "professional"}] * 3
        + [{"trading-agent-01": "starter"}, {"trading-agent-01": "missing"}, {}]
    ),
    hard_cap=money(5_000, 400_000),
    position_limit=st.integers(1, 300).map(Decimal),
    max_concentration=st.integers(100, 10_000).map(lambda bps: bps / 10_000),
    max_daily_loss=money(1_000, 100_000),
    oversight_threshold=money(1_000, 300_000),
    volatility_limit=st.integers(500, 10_000).map(lambda bps: bps / 10_000),
    excluded_asset_classes=st.sampled_from([["crypto"], [], ["equity_index_future"]]),
    allowed_order_types=st.sampled_from(
        [[OrderType.MARKET, OrderType.LIMIT], [OrderType.MARKET], list(OrderType)]
    ),
    restricted_symbols=st.sampled_from([[], [], [], ["NQ"], ["ES"]]),
    allow_short=st.booleans(),
    approval_valid_s=st.integers(1, 900),
    price_collar=st.integers(1, 2_000).map(lambda bps: bps / 10_000),
    price_collar_ticks=st.integers(0, 40).map(Decimal),
    max_order_quantity=st.integers(1, 200).map(Decimal),
    max_order_notional=money(10_000, 1_000_000),
    max_intents_per_second=st.integers(1, 20),
    max_intents_per_minute=st.integers(1, 200),
    max_open_orders=st.integers(1, 30),
    max_gross_exposure=money(10_000, 5_000_000),
    min_history_bars=st.integers(1, 40),
    max_mark_age_s=st.integers(1, 300),
)


@st.composite
def order_price(draw: st.DrawFn, mid: Decimal, tick: Decimal) -> Decimal:
    """A price near mid (sometimes far, sometimes off the tick)."""
    steps = draw(st.integers(-400, 400))
    price = max(mid + steps * tick, tick)
    if draw(rarely(1, 10)):
        price += tick / 3
    return price


@st.composite
def intents(draw: st.DrawFn, symbol: str, mid: Decimal) -> TradeIntent:
    inst = INSTRUMENTS[symbol]
    order_type = draw(st.sampled_from([OrderType.MARKET] * 3 + [OrderType.LIMIT, OrderType.STOP]))
    lots = draw(st.integers(1, 60))
    quantity = lots * inst.lot_size + (inst.lot_size / 2 if draw(rarely(1, 12)) else 0)
    price = draw(order_price(mid, inst.tick_size))
    return make_intent(
        intent_id=uuid.UUID(int=1),
        symbol=symbol,
        side=draw(st.sampled_from(list(Side))),
        quantity=quantity,
        order_type=order_type,
        reference_price=draw(money(1, 5_000)),  # the agent's claim: never trusted
        limit_price=price if order_type is OrderType.LIMIT else None,
        stop_price=price if order_type is OrderType.STOP else None,
        strategy="s",
        rationale="r",
        ts_event=NOW,
    )


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
    quote: Quote
    cash: Decimal
    positions: dict[str, Position]
    marks: dict[str, Decimal]
    status: MarketStatus
    vol: float
    halted: bool
    kill: bool
    opened: Decimal | None
    approval: HumanApproval | None
    history: int
    second: int
    minute: int
    duplicate: bool
    open_orders: int
    open_exposure: Decimal


@st.composite
def quotes(draw: st.DrawFn, symbol: str) -> Quote:
    tick = INSTRUMENTS[symbol].tick_size
    mid = draw(st.integers(40, 8_000)) * tick
    half = draw(st.integers(0, 4)) * tick
    age = draw(st.sampled_from([0, 0, 5, 59, 119, 120, 121, 301, 600]))
    return Quote(symbol=symbol, ts_event=NOW - age * NS_PER_SECOND, bid=mid - half, ask=mid + half)


def _traffic(draw: st.DrawFn) -> dict[str, object]:
    return {
        "history": draw(st.sampled_from([31, 31, 31, 0, 12, 29, 30, 40])),
        "second": draw(st.sampled_from([1, 1, 1, 2, 10, 11, 21])),
        "minute": draw(st.sampled_from([1, 1, 5, 120, 121, 201])),
        "duplicate": draw(rarely(1, 12)),
        "open_orders": draw(st.sampled_from([0, 0, 3, 19, 20, 30])),
        "open_exposure": draw(st.sampled_from([Decimal(0)] * 3 + [Decimal(50_000)])),
    }


def _quiet(
    draw: st.DrawFn, i: TradeIntent, lim: RiskLimits
) -> tuple[TradeIntent, RiskLimits, dict[str, object]]:
    """A scenario where nothing categorical is thrown: the numeric limits decide (each of
    the per-order caps is left generous three times in four)."""
    i = msgspec.structs.replace(
        i, order_type=OrderType.MARKET, limit_price=None, stop_price=None, symbol="ES"
    )
    generous = {
        "max_order_quantity": Decimal(10_000),
        "max_order_notional": Decimal(10**9),
        "max_gross_exposure": Decimal(10**12),
        "hard_cap": Decimal(10**9),
        "position_limit": Decimal(10**6),
        "max_concentration": 1.0,
    }
    inside = draw(st.booleans())  # then every cap but the tier and review ones is loose
    loosened = {
        k: v for k, v in generous.items() if inside or draw(st.sampled_from([True] * 3 + [False]))
    }
    lim = msgspec.structs.replace(
        lim,
        excluded_asset_classes=[],
        restricted_symbols=[],
        agent_tiers={"trading-agent-01": "professional"},
        **loosened,
    )
    calm: dict[str, object] = {
        "status": MarketStatus.OPEN,
        "halted": False,
        "kill": False,
        "history": 40,
        "second": 1,
        "minute": 1,
        "duplicate": False,
        "open_orders": 0,
    }
    if inside:
        calm |= {"open_exposure": Decimal(0), "inside": True}
    return i, lim, calm


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    symbol = draw(st.sampled_from(SYMBOLS))
    quote = draw(quotes(symbol))
    i, lim = draw(intents(symbol, quote.mid)), draw(limits_st)
    cash = draw(st.one_of(money(50_000, 10_000_000), money(-10_000, 50_000)))
    offset = draw(st.none() | money(-150_000, 150_000))
    switches: dict[str, object] = {
        "status": draw(st.sampled_from([MarketStatus.OPEN] * 6 + list(MarketStatus))),
        "halted": draw(rarely()),
        "kill": draw(rarely()),
        **_traffic(draw),
    }
    if draw(st.booleans()):  # half the examples: the numeric limits alone decide
        i, lim, calm = _quiet(draw, i, lim)
        switches |= calm
        quote = msgspec.structs.replace(quote, symbol="ES", ts_event=NOW)
    inside = bool(switches.pop("inside", False))
    factors = [0.0, 0.5] if inside else [0.0, 0.5, 0.99, 1.0, 1.001, 1.5]
    if inside:
        cash, offset = draw(money(1_000_000, 10_000_000)), None
    positions = draw(positions_st)
    return Scenario(
        i=i,
        lim=lim,
        quote=quote,
        cash=cash,
        positions=positions,
        marks=draw(marks_st),
        vol=lim.volatility_limit * draw(st.sampled_from(factors)),
        opened=None if offset is None else cash + offset,
        approval=draw(approvals()),
        **switches,  # type: ignore[arg-type]
    )


positions_st = st.dictionaries(
    st.sampled_from(["ES", "NQ", "BTC"]),
    st.builds(lambda q, c: (q, c), st.integers(-40, 40).map(Decimal), money(1, 2_000)),
    max_size=2,
).map(lambda d: {s: Position(symbol=s, quantity=q, avg_cost=c) for s, (q, c) in d.items()})

marks_st = st.dictionaries(st.sampled_from(["ES", "NQ", "BTC"]), money(1, 2_000), max_size=2)


# --- the oracle: every limit from first principles ------------------------------------


def _value(s: Scenario) -> tuple[Decimal, list[Decimal]]:
    """The most money the order can trade at: the touch or its own limit/stop (higher)."""
    i = s.i
    touch = s.quote.ask if i.side is Side.BUY else s.quote.bid
    own = [p for p in (i.limit_price, i.stop_price) if p is not None]
    return max([touch, *own]) * INSTRUMENTS[i.symbol].multiplier * i.quantity, own


def _mark(s: Scenario, symbol: str, fallback: Decimal) -> Decimal:
    return s.marks.get(symbol, fallback)


def _categorical(s: Scenario) -> list[str]:
    inst, lim, i = INSTRUMENTS[s.i.symbol], s.lim, s.i
    checks = {
        "kill switch on": s.kill,
        "not tradable": not inst.tradable,
        "excluded asset class": inst.asset_class in lim.excluded_asset_classes,
        # the measured float is its exact binary value; a configured limit its decimal spelling
        "volatility": Decimal(s.vol) > Decimal(repr(lim.volatility_limit)),
        "market not open": s.status is not MarketStatus.OPEN,
        "halted": s.halted,
        "restricted": i.symbol in lim.restricted_symbols,
        "order type": i.order_type not in lim.allowed_order_types,
        "history": s.history < lim.min_history_bars,
        "stale quote": NOW - s.quote.ts_event > lim.max_mark_age_s * NS_PER_SECOND,
        "throttle": s.second > lim.max_intents_per_second or s.minute > lim.max_intents_per_minute,
        "duplicate": s.duplicate,
        "open orders": s.open_orders >= lim.max_open_orders,
        "off lot": i.quantity % inst.lot_size != 0,
        "quantity cap": i.quantity > lim.max_order_quantity,
        "tier": lim.tiers.get(lim.agent_tiers.get(i.agent_id, "")) is None,
    }
    return [name for name, hit in checks.items() if hit]


def _prices(s: Scenario, own: list[Decimal]) -> list[str]:
    inst, lim, mid = INSTRUMENTS[s.i.symbol], s.lim, s.quote.mid
    collar, ticks = Decimal(repr(lim.price_collar)), lim.price_collar_ticks
    outside = [
        p for p in own if abs(p - mid) > collar * mid and abs(p - mid) > ticks * inst.tick_size
    ]
    checks = {"off tick": any(p % inst.tick_size != 0 for p in own), "price collar": bool(outside)}
    return [name for name, hit in checks.items() if hit]


def _book(s: Scenario, notional: Decimal) -> list[str]:
    i, lim = s.i, s.lim
    mult = INSTRUMENTS[i.symbol].multiplier
    held = s.positions[i.symbol].quantity if i.symbol in s.positions else Decimal(0)
    post = held + (i.quantity if i.side is Side.BUY else -i.quantity)
    value = {
        sym: p.quantity * _mark(s, sym, p.avg_cost) * MULTIPLIERS[sym]
        for sym, p in s.positions.items()
    }
    equity = s.cash + sum(value.values(), Decimal(0))
    exposure = abs(post * _mark(s, i.symbol, s.quote.mid) * mult)
    gross = exposure + sum((abs(v) for sym, v in value.items() if sym != i.symbol), Decimal(0))
    tier = lim.tiers.get(lim.agent_tiers.get(i.agent_id, ""))
    checks = {
        "tier cap": tier is not None and notional > tier.max_trade_size,
        "hard cap": notional > lim.hard_cap,
        "notional cap": notional > lim.max_order_notional,
        "position limit": abs(post) > lim.position_limit,
        "short": post < 0 and not lim.allow_short,
        "concentration": post != 0
        and (equity <= 0 or exposure >= Decimal(repr(lim.max_concentration)) * equity),
        "daily loss": s.opened is not None and equity - s.opened <= -lim.max_daily_loss,
        "credit": gross + s.open_exposure > lim.max_gross_exposure,
    }
    return [name for name, hit in checks.items() if hit]


def _needs_approval(s: Scenario, notional: Decimal) -> list[str]:
    fresh = (
        s.approval is not None
        and s.approval.approved
        and 0 <= NOW - s.approval.decided_ns <= s.lim.approval_valid_s * NS_PER_SECOND
    )
    return ["needs approval"] if notional > s.lim.oversight_threshold and not fresh else []


def breaches(s: Scenario) -> list[str]:
    """Every configured limit the trade would breach, computed from first principles."""
    with localcontext() as ctx:
        ctx.prec = 200  # exact for these magnitudes
        notional, own = _value(s)
        return _categorical(s) + _prices(s, own) + _book(s, notional) + _needs_approval(s, notional)


# --- the gate ---------------------------------------------------------------------------


def decide(s: Scenario, kind: EngineKind) -> tuple[RiskContext, GateVerdict]:
    market = MarketFacts(
        quote=s.quote,
        marks=s.marks,
        multipliers=MULTIPLIERS,
        status=s.status,
        volatility=s.vol,
        history_bars=s.history,
        halted_symbols=frozenset({s.i.symbol}) if s.halted else frozenset(),
    )
    book = BookFacts(
        cash=s.cash,
        positions=s.positions,
        equity_at_open=s.opened,
        open_orders=s.open_orders,
        open_order_exposure=s.open_exposure,
    )
    desk = DeskFacts(
        principal=s.i.agent_id,
        kill_switch=s.kill,
        approval=s.approval,
        intents_last_second=s.second,
        intents_last_minute=s.minute,
        duplicate_of=str(uuid.UUID(int=9)) if s.duplicate else "",
        now_ns=NOW,
    )
    ctx = build_context(s.i, INSTRUMENTS[s.i.symbol], book, market, desk)
    engine, prepare = ENGINES[kind]
    return ctx, PolicyGate(BUNDLE, engine, s.lim, prepare).decide(s.i, ctx)


@settings(max_examples=800, deadline=None)
@given(s=scenarios())
def test_gate_never_permits_a_breach_and_never_denies_a_trade_inside_every_limit(
    s: Scenario,
) -> None:
    _, decided = decide(s, EngineKind.COMPILED)
    verdict, reasons = decided.verdict, decided.reasons
    found = breaches(s)
    event(f"verdict={verdict}")
    if verdict is Verdict.PERMIT:
        assert found == [], reasons
    else:
        assert reasons and reasons != ["all policies passed"]
    if not found:
        assert verdict is Verdict.PERMIT, reasons
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
