"""Risk limits: data, loaded from config, read by the Cedar policies (never if-chains).

The numbers here become attributes of the ``Desk`` and ``Tier`` entities the trading
policies read (``principal.desk.hard_cap``, ``principal.tier.max_trade_size``); the
policy text holds the rules, the config holds the numbers. Every limit must sit on
Cedar's 4-digit decimal grid, checked at start-up.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from enum import StrEnum

import msgspec

from tradeswarm.core.clock import NS_PER_SECOND
from tradeswarm.core.config import ConfigBase
from tradeswarm.core.errors import ConfigurationError, InvalidInput
from tradeswarm.model.enums import OrderType
from tradeswarm.risk.cedar_values import LONG_MAX, Rounding, to_grid


class EngineKind(StrEnum):
    """Which policy engine decides: the compiled one, or cedarpy (the reference)."""

    COMPILED = "compiled"
    CEDARPY = "cedarpy"


class TierLimits(ConfigBase, frozen=True):
    max_trade_size: Decimal


class InstrumentLimits(ConfigBase, frozen=True):
    """Per-instrument order caps ([risk.instrument_limits.SYMBOL]); unset means the desk's."""

    max_order_quantity: Decimal | None = None
    max_order_notional: Decimal | None = None


class InsiderWindow(ConfigBase, frozen=True):
    """A blackout: no trading in symbol from start to end (ISO-8601, with a time zone)."""

    symbol: str
    start: str
    end: str

    def bounds_ns(self) -> tuple[int, int]:
        return _iso_ns("insider_windows.start", self.start), _iso_ns(
            "insider_windows.end", self.end
        )


def _iso_ns(field: str, text: str) -> int:
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError as err:
        raise ConfigurationError(f"risk.{field}", text, "not an ISO-8601 date-time") from err
    if moment.tzinfo is None:
        raise ConfigurationError(f"risk.{field}", text, "needs a time zone, e.g. 'Z'")
    delta = moment - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return (delta.days * 86_400 + delta.seconds) * NS_PER_SECOND + delta.microseconds * 1000


def _default_tiers() -> dict[str, TierLimits]:
    return {
        "starter": TierLimits(max_trade_size=Decimal(10_000)),
        "professional": TierLimits(max_trade_size=Decimal(150_000)),
        "enterprise": TierLimits(max_trade_size=Decimal(1_000_000)),
    }


class RiskLimits(ConfigBase, frozen=True):
    tiers: dict[str, TierLimits] = msgspec.field(default_factory=_default_tiers)
    agent_tiers: dict[str, str] = msgspec.field(
        default_factory=lambda: {"trading-agent-01": "professional"}
    )
    hard_cap: Decimal = Decimal(150_000)
    position_limit: Decimal = Decimal(100)
    max_concentration: float = 0.20
    max_daily_loss: Decimal = Decimal(50_000)
    oversight_threshold: Decimal = Decimal(100_000)
    volatility_limit: float = 0.30
    max_var_95: Decimal = Decimal("0.01")  # one-bar historical VaR, fraction of portfolio
    excluded_asset_classes: list[str] = msgspec.field(
        default_factory=lambda: ["crypto", "derivatives", "foreign_exchange"]
    )
    allowed_order_types: list[OrderType] = msgspec.field(
        default_factory=lambda: [OrderType.MARKET, OrderType.LIMIT]
    )
    restricted_symbols: list[str] = msgspec.field(default_factory=list)
    allow_short: bool = False
    approval_valid_s: int = 300
    # pre-trade controls of a regulated desk (SEC 15c3-5, MiFID II RTS 6)
    price_collar: float = 0.05  # a limit or stop at most this fraction from the quote's mid
    price_collar_ticks: Decimal = Decimal(0)  # ... or at most this many ticks (0: no leeway)
    max_order_quantity: Decimal = Decimal(1_000)  # per order, unless instrument_limits says
    max_order_notional: Decimal = Decimal(1_000_000)
    instrument_limits: dict[str, InstrumentLimits] = msgspec.field(default_factory=dict)
    max_intents_per_second: int = 10  # per agent, this intent included
    max_intents_per_minute: int = 120
    duplicate_window_s: int = 10  # same agent, side, symbol and quantity within this: DENY (0: off)
    max_open_orders: int = 20  # per agent
    max_gross_exposure: Decimal = Decimal(1_000_000)  # |every position| + open orders, after
    min_history_bars: int = 30  # volatility and VaR need this many bars, else DENY
    max_mark_age_s: int = 120  # a quote older than this values nothing: DENY
    compliance_status: dict[str, str] = msgspec.field(default_factory=dict)
    insider_windows: list[InsiderWindow] = msgspec.field(default_factory=list)
    engine: EngineKind = EngineKind.COMPILED
    policies: str | None = None  # a .cedar file replacing the bundled trading policies
    schema: str | None = None  # a .cedarschema file replacing the bundled schema

    def __post_init__(self) -> None:
        for name, value in self.grid_limits().items():
            if value < 0:
                raise ConfigurationError(f"risk.{name}", value, "must be >= 0")
        if not 0 < self.approval_valid_s * NS_PER_SECOND <= LONG_MAX:
            raise ConfigurationError(
                "risk.approval_valid_s", self.approval_valid_s, "must be > 0 and fit in ns"
            )
        for window in self.insider_windows:
            start, end = window.bounds_ns()
            if end <= start:
                raise ConfigurationError("risk.insider_windows", window.symbol, "end <= start")
        for name in _COUNTS:
            value = getattr(self, name)
            low = 0 if name == "duplicate_window_s" else 1
            if not low <= value * (NS_PER_SECOND if name.endswith("_s") else 1) <= LONG_MAX:
                raise ConfigurationError(f"risk.{name}", value, f"must be >= {low} (and fit in ns)")

    def grid_limits(self) -> dict[str, Decimal]:
        """Every numeric limit as an exact Decimal on Cedar's grid (ConfigurationError if not)."""
        raw: dict[str, Decimal | float] = {
            "hard_cap": self.hard_cap,
            "position_limit": self.position_limit,
            "max_concentration": self.max_concentration,
            "max_daily_loss": self.max_daily_loss,
            "oversight_threshold": self.oversight_threshold,
            "volatility_limit": self.volatility_limit,
            "max_var_95": self.max_var_95,
        }
        raw |= {f"tiers.{t}.max_trade_size": v.max_trade_size for t, v in self.tiers.items()}
        raw |= {
            "price_collar": self.price_collar,
            "price_collar_ticks": self.price_collar_ticks,
            "max_order_quantity": self.max_order_quantity,
            "max_order_notional": self.max_order_notional,
            "max_gross_exposure": self.max_gross_exposure,
        }
        for symbol, caps in self.instrument_limits.items():
            for field in ("max_order_quantity", "max_order_notional"):
                if getattr(caps, field) is not None:
                    raw[f"instrument_limits.{symbol}.{field}"] = getattr(caps, field)
        return {name: _on_grid(name, value) for name, value in raw.items()}

    def order_caps(
        self, symbol: str, grid: Mapping[str, Decimal] | None = None
    ) -> tuple[Decimal, Decimal]:
        """(max order quantity, max order notional) for symbol, on the decimal grid
        (``grid``: ``grid_limits()``, when the caller has it already)."""
        grid = self.grid_limits() if grid is None else grid
        caps = self.instrument_limits.get(symbol, InstrumentLimits())
        quantity = "max_order_quantity" if caps.max_order_quantity is None else None
        notional = "max_order_notional" if caps.max_order_notional is None else None
        return (
            grid[quantity or f"instrument_limits.{symbol}.max_order_quantity"],
            grid[notional or f"instrument_limits.{symbol}.max_order_notional"],
        )

    def approval_valid_ns(self) -> int:
        return self.approval_valid_s * NS_PER_SECOND

    def tier_of(self, agent_id: str) -> str | None:
        """The agent's configured tier, or None when the agent or its tier is unknown."""
        tier = self.agent_tiers.get(agent_id)
        return tier if tier in self.tiers else None

    def in_insider_window(self, symbol: str, now_ns: int) -> bool:
        return any(
            w.symbol == symbol and w.bounds_ns()[0] <= now_ns < w.bounds_ns()[1]
            for w in self.insider_windows
        )


_COUNTS = (
    "max_intents_per_second",
    "max_intents_per_minute",
    "duplicate_window_s",
    "max_open_orders",
    "min_history_bars",
    "max_mark_age_s",
)


def _on_grid(name: str, value: Decimal | float) -> Decimal:
    # a float limit from TOML (0.2) means its shortest decimal spelling, not its binary value
    exact = Decimal(repr(value)) if isinstance(value, float) else value
    try:
        return to_grid(name, exact, Rounding.EXACT)
    except InvalidInput as err:
        raise ConfigurationError(f"risk.{name}", value, err.problem) from err
