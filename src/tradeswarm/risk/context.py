"""The risk context: what the gate knows about one intent, measured by the risk manager.

Deterministic math only, from the risk manager's own facts: the instrument master (asset
class, multiplier, tick, lot), its market view (quote, marks, history), its books and its
record of the agent's earlier intents. The agent's own numbers (its reference price) are
never used: a trade is valued at the price it could trade at that puts the most money at
stake (a BUY at the ask, a SELL at the bid, or at its limit or stop when that is higher),
times the contract multiplier. Money in Decimal, the concentration floored exactly to a
basis point, VaR/ES from the market view's return history (risk.tails, as
tradeswarm.quant.risk defines them).

A burst of intents shares what does not depend on the intent (equity, the book's
exposure, the symbol's VaR/ES pass): `build_context` takes those precomputed as
`Shared`, and computes them itself for a single intent.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, localcontext
from typing import NamedTuple

import msgspec

from tradeswarm.model.enums import MarketStatus
from tradeswarm.model.market import Instrument, Quote
from tradeswarm.model.messages import HumanApproval, TradeIntent
from tradeswarm.model.portfolio import Position
from tradeswarm.risk.tails import TailRisk, tail_risk

ZERO = Decimal(0)
ONE = Decimal(1)
BPS = Decimal(10_000)
CONCENTRATION_CAP = Decimal(10_000)  # a ratio above this is reported as the cap


class RiskContext(msgspec.Struct, frozen=True, kw_only=True):
    principal: str  # the agent whose signature the intent's envelope carries
    instrument: Instrument
    reference_price: Decimal  # the gate's own: the quote's mid
    valuation_price: Decimal  # the price the trade is valued at (see the module docstring)
    notional: Decimal  # quantity x valuation price x multiplier
    off_lot: bool  # quantity not a whole number of lots
    off_tick: bool  # a limit or stop price not on the tick grid
    price_deviation: Decimal  # the farthest limit/stop from the reference, as a fraction
    price_deviation_ticks: Decimal  # the same distance in ticks
    mark_age_ns: int  # how old the quote the trade is valued on is
    history_bars: int  # the bars behind volatility and VaR
    current_position: Decimal
    post_position: Decimal
    equity: Decimal
    concentration_after: Decimal  # |post * mark * multiplier| / equity, floored to a bp
    gross_exposure_after: Decimal  # every position's |value| after the trade + open orders
    daily_loss: Decimal  # equity at the open minus equity now (negative on a gain)
    market_status: MarketStatus
    volatility: float
    halted_symbols: frozenset[str]
    kill_switch: bool
    compliance_status: str
    insider_window: bool
    intents_last_second: int  # the principal's intents, this one included
    intents_last_minute: int
    duplicate_of: str  # an earlier live intent with the same side, symbol, quantity ("" none)
    open_orders: int  # the principal's orders not yet in a terminal state
    var_95_before: float  # one-bar historical VaR of the symbol's position / equity
    var_95_after: float
    es_95_before: float  # one-bar historical expected shortfall (tail mean), same units
    es_95_after: float
    approval: HumanApproval | None
    now_ns: int

    def metrics(self) -> dict[str, str]:
        """The numbers behind a decision, as strings (exact for Decimals)."""
        return {
            "notional": str(self.notional),
            "reference_price": str(self.reference_price),
            "valuation_price": str(self.valuation_price),
            "multiplier": str(self.instrument.multiplier),
            "current_position": str(self.current_position),
            "post_position": str(self.post_position),
            "equity": str(self.equity),
            "concentration_after": f"{self.concentration_after:.4f}",
            "gross_exposure_after": str(self.gross_exposure_after),
            "daily_pnl": str(-self.daily_loss),
            "market_status": str(self.market_status),
            "volatility": f"{self.volatility:.4f}",
            "history_bars": str(self.history_bars),
            "var_95_after": f"{self.var_95_after:.6f}",
            "es_95_after": f"{self.es_95_after:.6f}",
        }


class MarketFacts(msgspec.Struct, frozen=True, kw_only=True):
    quote: Quote  # the latest quote of the intent's symbol
    marks: dict[str, Decimal]  # last prices of every symbol the book may hold
    multipliers: Mapping[str, Decimal]  # contract multipliers from the instrument master
    status: MarketStatus
    volatility: float
    history_bars: int
    halted_symbols: frozenset[str] = frozenset()
    returns: tuple[float, ...] = ()  # the symbol's recent one-bar simple returns


class BookFacts(msgspec.Struct, frozen=True, kw_only=True):
    cash: Decimal
    positions: dict[str, Position]
    equity_at_open: Decimal | None = None
    open_orders: int = 0  # the principal's open orders
    open_order_exposure: Decimal = ZERO  # |remaining value| of every open order


class DeskFacts(msgspec.Struct, frozen=True, kw_only=True):
    principal: str
    kill_switch: bool = False
    compliance_status: str = "approved"
    insider_window: bool = False
    approval: HumanApproval | None = None
    intents_last_second: int = 1
    intents_last_minute: int = 1
    duplicate_of: str = ""
    now_ns: int


def equity_of(
    cash: Decimal,
    positions: Mapping[str, Position],
    marks: Mapping[str, Decimal],
    multipliers: Mapping[str, Decimal],
) -> Decimal:
    """Cash plus every position at its last price (its cost when none is known), times
    its contract multiplier."""
    value = sum(
        (
            p.quantity * marks.get(s, p.avg_cost) * multipliers.get(s, ONE)
            for s, p in positions.items()
        ),
        ZERO,
    )
    return cash + value


def concentration(exposure: Decimal, equity: Decimal) -> Decimal:
    """floor(|exposure| / equity) to a basis point, exactly; the cap when equity <= 0."""
    if equity <= 0:
        return CONCENTRATION_CAP
    with localcontext() as ctx:
        ctx.prec = 120  # integer division below stays exact for any config-sized number
        whole_bps = (abs(exposure) * BPS) // equity
    return min(whole_bps / BPS, CONCENTRATION_CAP)


class Valuation(NamedTuple):
    reference: Decimal  # the quote's mid
    price: Decimal  # what the trade is valued at
    deviation: Decimal  # farthest limit/stop from the reference, as a fraction of it
    deviation_ticks: Decimal
    off_tick: bool


def valuation(intent: TradeIntent, quote: Quote, instrument: Instrument) -> Valuation:
    """Value the intent from the quote: the highest price it can trade at (see the module
    docstring), and how far its limit and stop lie from the quote's mid."""
    reference = quote.mid
    touch = quote.ask if intent.side.sign > 0 else quote.bid
    prices = [p for p in (intent.limit_price, intent.stop_price) if p is not None]
    price = max([touch, *prices])
    with localcontext() as ctx:
        ctx.prec = 60
        distance = max((abs(p - reference) for p in prices), default=ZERO)
        deviation = distance / reference if reference > 0 else CONCENTRATION_CAP
        ticks = distance / instrument.tick_size
    off_tick = any(not instrument.on_tick(p) for p in prices)
    return Valuation(reference, price, deviation, ticks, off_tick)


def gross_exposure(
    positions: Mapping[str, Position],
    marks: Mapping[str, Decimal],
    multipliers: Mapping[str, Decimal],
    override: tuple[str, Decimal, Decimal],
) -> Decimal:
    """Sum of |quantity x mark x multiplier| over the book, with override = (symbol,
    quantity, mark) standing in for that symbol's position."""
    held = {s: (p.quantity, marks.get(s, p.avg_cost)) for s, p in positions.items()}
    symbol, quantity, mark = override
    held[symbol] = (quantity, mark)
    return sum((abs(q * m * multipliers.get(s, ONE)) for s, (q, m) in held.items()), ZERO)


class Shared(NamedTuple):
    """What a burst computes once (or per symbol) instead of per intent: equity, the
    intent's VaR/ES impact, and the book's exposure with the traded symbol's position
    after the trade standing in for its current one."""

    equity: Decimal
    tail: TailRisk | ValueError  # the error the VaR/ES pass met for this intent
    positions_exposure: Decimal


def shared_for(
    intent: TradeIntent, instrument: Instrument, book: BookFacts, market: MarketFacts
) -> Shared:
    """The Shared facts of one intent, computed directly."""
    held = book.positions.get(intent.symbol)
    current = held.quantity if held else ZERO
    post = current + intent.side.sign * intent.quantity
    mult = instrument.multiplier
    mark = market.marks.get(intent.symbol, market.quote.mid)
    equity = equity_of(book.cash, book.positions, market.marks, market.multipliers)
    tail = tail_risk(
        market.returns,
        float(current * mark * mult),
        float((post - current) * mark * mult),
        equity,
    )
    positions = gross_exposure(
        book.positions, market.marks, market.multipliers, (intent.symbol, post, mark)
    )
    return Shared(equity, tail, positions)


def build_context(
    intent: TradeIntent,
    instrument: Instrument,
    book: BookFacts,
    market: MarketFacts,
    desk: DeskFacts,
    shared: Shared | None = None,
) -> RiskContext:
    """Compute the context for one intent; all money math in Decimal. shared: the
    burst's precomputed facts for it (see `Shared`); computed here when None."""
    held = book.positions.get(intent.symbol)
    current = held.quantity if held else ZERO
    post = current + intent.side.sign * intent.quantity
    value = valuation(intent, market.quote, instrument)
    mult = instrument.multiplier
    mark = market.marks.get(intent.symbol, value.reference)
    equity, tail, positions = shared or shared_for(intent, instrument, book, market)
    if isinstance(tail, ValueError):
        raise tail
    return RiskContext(
        principal=desk.principal,
        instrument=instrument,
        reference_price=value.reference,
        valuation_price=value.price,
        notional=intent.quantity * value.price * mult,
        off_lot=not instrument.on_lot(intent.quantity),
        off_tick=value.off_tick,
        price_deviation=value.deviation,
        price_deviation_ticks=value.deviation_ticks,
        mark_age_ns=max(desk.now_ns - market.quote.ts_event, 0),
        history_bars=market.history_bars,
        current_position=current,
        post_position=post,
        equity=equity,
        concentration_after=concentration(post * mark * mult, equity),
        gross_exposure_after=positions + book.open_order_exposure,
        daily_loss=book.equity_at_open - equity if book.equity_at_open is not None else ZERO,
        market_status=market.status,
        volatility=market.volatility,
        halted_symbols=market.halted_symbols,
        kill_switch=desk.kill_switch,
        compliance_status=desk.compliance_status,
        insider_window=desk.insider_window,
        intents_last_second=desk.intents_last_second,
        intents_last_minute=desk.intents_last_minute,
        duplicate_of=desk.duplicate_of,
        open_orders=book.open_orders,
        var_95_before=tail.var_before,
        var_95_after=tail.var_after,
        es_95_before=tail.es_before,
        es_95_after=tail.es_after,
        approval=desk.approval,
        now_ns=desk.now_ns,
    )
