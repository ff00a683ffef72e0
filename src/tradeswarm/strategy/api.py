"""The Strategy API: what a user implements, and the context it is handed.

A strategy is a class in the user's own package, named in the config by import path
(``[[strategies]] class = "mypkg.momo:Momo"``). It subclasses `Strategy` and overrides
the callbacks it needs; each gets a `Context`:

- ``on_start(ctx)`` once before the first bar; ``on_stop(ctx)`` once after the last;
- ``on_bar(ctx, bar)`` for each closed bar of its symbols (a `BarRef`; several symbols'
  bars of one instant arrive in symbol order);
- ``on_fill(ctx, fill)`` for each fill of its own orders (a `FillRef`);
- ``on_decision(ctx, decision)`` for the gate's answer to each of its proposals (a
  `DecisionRef`: PERMIT, DENY with the policies' reasons, REVIEW and how oversight
  answered);
- ``on_timer(ctx, name)`` when a timer set with ``ctx.schedule(name, at_ns)`` is due;
- ``on_signal(ctx, signal)`` for each `MarketSignal` of the swarm's market analyzer (a
  strategy inside the swarm; backtests have no analyzer).

Parameters: a strategy declares ``Params``, a `StrategyParams` subclass (typed fields
with defaults); the config's ``params`` table is validated against it (unknown keys and
wrong types are errors naming the field) and the instance is ``self.params``.

The context gives the market as of the clock and never later (`LookAheadError`), the
strategy's own positions, the account's cash and equity, and ``buy`` / ``sell`` /
``order_target`` to propose trades. A proposal is a `TradeIntent` for the risk gate to
decide, never an order: a strategy holds no broker handle.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any, ClassVar, NamedTuple, Protocol

from tradeswarm.core.config import ConfigBase
from tradeswarm.core.errors import InvalidInput
from tradeswarm.data.series import FloatArray
from tradeswarm.model.enums import OrderType, Side, TimeInForce
from tradeswarm.model.messages import TradeIntent
from tradeswarm.strategy.market import BarRef


class StrategyParams(ConfigBase, frozen=True):
    """Base of a strategy's parameters: frozen, typed, unknown keys rejected."""


class NoParams(StrategyParams, frozen=True):
    pass


class Proposal(NamedTuple):
    """What a strategy asks for; the engine makes it a TradeIntent for the gate. The last
    fields are optional claims carried into the intent (the gate trusts none of them):
    the signal it answers, protective brackets, a confidence, a label for the strategy
    (default: the strategy's name), the price it saw, and the time it decided (<= now)."""

    symbol: str
    side: Side
    quantity: Decimal
    order_type: OrderType
    limit_price: Decimal | None
    stop_price: Decimal | None
    time_in_force: TimeInForce
    rationale: str
    signal_id: uuid.UUID | None = None
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None
    confidence: float = 1.0
    label: str = ""
    reference_price: Decimal | None = None
    at_ns: int | None = None

    def intent(
        self,
        intent_id: uuid.UUID,
        agent_id: str,
        reference_price: Decimal,
        ts_event: int,
        rationale: str | None = None,
    ) -> TradeIntent:
        """The TradeIntent this proposal becomes, for the agent and ids its host gives
        (the claim of a reference price, when made, is the host's to pass on)."""
        return TradeIntent(
            intent_id=intent_id,
            signal_id=self.signal_id,
            agent_id=agent_id,
            symbol=self.symbol,
            side=self.side,
            quantity=self.quantity,
            order_type=self.order_type,
            time_in_force=self.time_in_force,
            reference_price=reference_price,
            limit_price=self.limit_price,
            stop_price=self.stop_price,
            stop_loss=self.stop_loss,
            take_profit=self.take_profit,
            strategy=self.label or agent_id,
            rationale=self.rationale if rationale is None else rationale,
            confidence=self.confidence,
            ts_event=ts_event,
        )


class FillRef(NamedTuple):
    symbol: str
    side: Side
    quantity: Decimal
    price: Decimal
    fee: Decimal
    ts: int
    proposal_id: str


class DecisionRef(NamedTuple):
    proposal_id: str
    symbol: str
    verdict: str  # PERMIT, DENY or REVIEW (the gate's first answer)
    reasons: tuple[str, ...]
    oversight: str  # "" when not reviewed, else "approved" / "denied"


class Desk(Protocol):
    """What the engine offers a strategy's context besides the market."""

    def position(self, strategy: str, symbol: str) -> Decimal: ...

    def cash(self) -> Decimal: ...

    def equity(self) -> Decimal: ...

    def propose(self, strategy: str, proposal: Proposal) -> str: ...

    def schedule(self, strategy: str, name: str, at_ns: int) -> None: ...

    def warming_up(self) -> bool: ...

    def last_proposal_ns(self, strategy: str, symbol: str) -> int | None: ...


def quantity_of(value: Any, field: str = "quantity") -> Decimal:
    """A proposal's quantity: an int, a decimal string, a Decimal, or a float holding a
    whole number; anything else, zero or negative is an InvalidInput."""
    if isinstance(value, bool):
        raise InvalidInput(field, value, "not a quantity")
    if isinstance(value, float):
        if not value.is_integer():
            raise InvalidInput(field, value, "a float quantity must be whole; use Decimal")
        value = int(value)
    try:
        qty = Decimal(value) if isinstance(value, int | str) else value
    except ArithmeticError as err:
        raise InvalidInput(field, value, "not a number") from err
    if not isinstance(qty, Decimal) or not qty.is_finite() or qty <= 0:
        raise InvalidInput(field, value, "must be a finite number > 0")
    return qty


def _price(value: Any, field: str) -> Decimal | None:
    if value is None:
        return None
    price = Decimal(repr(value)) if isinstance(value, float) else quantity_of(value, field)
    if not price.is_finite() or price <= 0:
        raise InvalidInput(field, value, "must be a finite price > 0")
    return price


class Context:
    """A strategy's window on the run (see the module docstring)."""

    __slots__ = ("_desk", "_market", "name", "symbols")

    def __init__(self, name: str, symbols: list[str], market: Any, desk: Desk) -> None:
        """symbols: what the strategy may trade (empty: any the desk lists)."""
        self.name = name
        self.symbols = symbols
        self._market = market
        self._desk = desk

    @property
    def now_ns(self) -> int:
        return int(self._market.now_ns)

    def bar(self, symbol: str, ago: int = 0) -> BarRef | None:
        return self._market.bar(symbol, ago)  # type: ignore[no-any-return]

    def history(self, symbol: str, field: str = "close", n: int | None = None) -> FloatArray:
        return self._market.history(symbol, field, n)  # type: ignore[no-any-return]

    def at(self, symbol: str, ts_ns: int) -> BarRef | None:
        return self._market.at(symbol, ts_ns)  # type: ignore[no-any-return]

    def bars_seen(self, symbol: str) -> int:
        return self._market.count(symbol)  # type: ignore[no-any-return]

    def position(self, symbol: str) -> Decimal:
        """This strategy's own position in symbol (signed)."""
        return self._desk.position(self.name, symbol)

    def last_proposal_ns(self, symbol: str) -> int | None:
        """When this strategy last proposed a trade in symbol (None: never)."""
        return self._desk.last_proposal_ns(self.name, symbol)

    @property
    def warming_up(self) -> bool:
        """True on the warm-up's bars (history for indicators: proposals go nowhere)."""
        return self._desk.warming_up()

    @property
    def cash(self) -> Decimal:
        return self._desk.cash()

    @property
    def equity(self) -> Decimal:
        return self._desk.equity()

    def buy(self, symbol: str, quantity: Any, **how: Any) -> str:
        return self._propose(symbol, Side.BUY, quantity_of(quantity), **how)

    def sell(self, symbol: str, quantity: Any, **how: Any) -> str:
        return self._propose(symbol, Side.SELL, quantity_of(quantity), **how)

    def order_target(self, symbol: str, target: Any, **how: Any) -> str | None:
        """Propose what brings this strategy's position in symbol to target (None: there)."""
        wanted = Decimal(0) if target == 0 else _signed(target)
        delta = wanted - self.position(symbol)
        if delta == 0:
            return None
        side = Side.BUY if delta > 0 else Side.SELL
        return self._propose(symbol, side, abs(delta), **how)

    def close(self, symbol: str, **how: Any) -> str | None:
        return self.order_target(symbol, 0, **how)

    def schedule(self, name: str, at_ns: int) -> None:
        """Call on_timer(ctx, name) once the clock reaches at_ns."""
        self._desk.schedule(self.name, name, at_ns)

    def _propose(
        self,
        symbol: str,
        side: Side,
        quantity: Decimal,
        limit: Any = None,
        stop: Any = None,
        tif: TimeInForce | str = TimeInForce.DAY,
        rationale: str = "",
        **claims: Any,
    ) -> str:
        unknown = set(claims) - set(CLAIMS)
        if unknown:
            raise InvalidInput("proposal", sorted(unknown), f"unknown; known: {sorted(CLAIMS)}")
        if self.symbols and symbol not in self.symbols:
            raise InvalidInput("symbol", symbol, f"not one of this strategy's {self.symbols}")
        limit_price, stop_price = _price(limit, "limit"), _price(stop, "stop")
        kind = OrderType.MARKET
        if limit_price is not None and stop_price is not None:
            raise InvalidInput("stop", stop, "a proposal has a limit or a stop, not both")
        if limit_price is not None:
            kind = OrderType.LIMIT
        elif stop_price is not None:
            kind = OrderType.STOP
        try:
            force = TimeInForce(tif)
        except ValueError as err:
            known = ", ".join(t.value for t in TimeInForce)
            raise InvalidInput("tif", tif, f"not a time in force; known: {known}") from err
        proposal = Proposal(
            symbol, side, quantity, kind, limit_price, stop_price, force, rationale, **claims
        )
        return self._desk.propose(self.name, proposal)


#: The optional claims a proposal may carry (see `Proposal`).
CLAIMS = (
    "signal_id",
    "stop_loss",
    "take_profit",
    "confidence",
    "label",
    "reference_price",
    "at_ns",
)


def _signed(value: Any) -> Decimal:
    if isinstance(value, int | str | Decimal) and not isinstance(value, bool):
        target = Decimal(value)
        if target.is_finite():
            return target
    if isinstance(value, float) and value.is_integer():
        return Decimal(int(value))
    raise InvalidInput("target", value, "must be a whole float, int, decimal string or Decimal")


class Strategy:
    """Base class of every strategy (see the module docstring)."""

    Params: ClassVar[type[StrategyParams]] = NoParams

    def __init__(self, params: StrategyParams | None = None) -> None:
        self.params: Any = params if params is not None else type(self).Params()

    def on_start(self, ctx: Context) -> None:
        """Once, before the first bar."""

    def on_bar(self, ctx: Context, bar: BarRef) -> None:
        """Each closed bar of the strategy's symbols."""

    def on_fill(self, ctx: Context, fill: FillRef) -> None:
        """Each fill of the strategy's own orders."""

    def on_decision(self, ctx: Context, decision: DecisionRef) -> None:
        """The gate's answer to each proposal."""

    def on_timer(self, ctx: Context, name: str) -> None:
        """A timer set with ctx.schedule is due."""

    def on_signal(self, ctx: Context, signal: Any) -> None:
        """A `MarketSignal` of the swarm's market analyzer (inside the swarm only)."""

    def on_stop(self, ctx: Context) -> None:
        """Once, after the last bar."""
