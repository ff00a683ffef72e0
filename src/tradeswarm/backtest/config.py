"""BacktestConfig: one TOML file names the strategies, the data, the costs and the limits.

```toml
initial_cash = "100000"
mode = "research"            # or "governed": every intent, decision and fill signed into
db = "run.sqlite"            #   the audit log of this new store (tradeswarm audit verify)
[[data]]                     # one table per file (CSV or Parquet) or catalog
path = "data/aapl.csv"       # relative to the config file
symbol = "AAPL"              # for single-symbol files; default from the file name
adjust = true                # Yahoo: use the adjusted close
[[strategies]]
class = "mypkg.momo:Momo"
symbols = ["AAPL"]
params = { fast = 10 }
[fills]                      # next bar's open; limit/stop touch; optional participation
fee_bps = "1"
[risk]                       # RiskLimits: the gate's limits, as the swarm's
[oversight]
policy = "approve"           # REVIEW answered by: approve | deny
```
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from pathlib import Path

import msgspec

from tradeswarm.core.config import ConfigBase, load_toml
from tradeswarm.core.errors import ConfigurationError
from tradeswarm.risk.limits import RiskLimits
from tradeswarm.strategy.loader import StrategySpec


class Mode(StrEnum):
    RESEARCH = "research"  # the gate decides every proposal; nothing is logged
    GOVERNED = "governed"  # the same, and every intent, decision and fill in a signed log


class OversightPolicy(StrEnum):
    APPROVE = "approve"
    DENY = "deny"


class DataSpec(ConfigBase, frozen=True):
    """One ``[[data]]`` table: a CSV or Parquet file, or a catalog directory."""

    path: str | None = None
    catalog: str | None = None
    symbol: str | None = None
    adjust: bool = False
    timeframe: str | None = None  # resample to this timeframe (e.g. "1w" from daily)
    tz: str = "UTC"  # the zone a CSV's times are written in (e.g. "Europe/Berlin")

    def __post_init__(self) -> None:
        if (self.path is None) == (self.catalog is None):
            raise ConfigurationError("data", self.path or self.catalog, "give path or catalog")


class VenueCosts(ConfigBase, frozen=True):
    """[fills.venues.VENUE]: what differs at one venue (the instrument master's venue)."""

    fee_bps: Decimal | None = None
    fee_min: Decimal | None = None
    fee_per_share: Decimal | None = None
    slippage_bps: Decimal | None = None


class FillConfig(ConfigBase, frozen=True):
    """[fills]: market orders fill at the next bar's open; a limit when the bar touches
    it (at the better of the open and the limit), a stop when touched (at the worse of the
    open and the stop); participation: the largest fraction of a bar's volume an order
    fills in it (unset: the whole order); fees: max(fee_min, notional x fee_bps / 10^4) +
    fee_per_share x quantity, rounded to cents unless round_fees = false; slippage moves
    the price against the order by slippage_bps; borrow_bps_per_year is charged per bar on
    the value of short positions. ``[fills.venues.XNAS]`` overrides fee_bps, fee_min,
    fee_per_share and slippage_bps for the instruments the master lists on that venue."""

    fee_bps: Decimal = Decimal(0)
    fee_min: Decimal = Decimal(0)
    fee_per_share: Decimal = Decimal(0)
    round_fees: bool = True
    slippage_bps: Decimal = Decimal(0)
    participation: Decimal | None = None
    borrow_bps_per_year: Decimal = Decimal(0)
    quote_spread_bps: Decimal = Decimal(0)  # the gate's quote: close -/+ half of this
    venues: dict[str, VenueCosts] = msgspec.field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("fee_bps", "fee_min", "fee_per_share", "slippage_bps"):
            value: Decimal = getattr(self, name)
            if not (value.is_finite() and value >= 0):
                raise ConfigurationError(f"fills.{name}", value, "must be finite and >= 0")
        for name in ("borrow_bps_per_year", "quote_spread_bps"):
            value = getattr(self, name)
            if not (value.is_finite() and value >= 0):
                raise ConfigurationError(f"fills.{name}", value, "must be finite and >= 0")
        p = self.participation
        if p is not None and not (p.is_finite() and 0 < p <= 1):
            raise ConfigurationError("fills.participation", p, "must be in (0, 1]")
        for venue, costs in self.venues.items():
            for name in ("fee_bps", "fee_min", "fee_per_share", "slippage_bps"):
                value = getattr(costs, name)
                if value is not None and not (value.is_finite() and value >= 0):
                    field = f"fills.venues.{venue}.{name}"
                    raise ConfigurationError(field, value, "must be finite and >= 0")

    def at(self, venue: str) -> FillConfig:
        """These costs with the venue's overrides (itself when the venue has none)."""
        costs = self.venues.get(venue)
        if costs is None:
            return self
        changed = {f: getattr(costs, f) for f in costs.__struct_fields__}
        return msgspec.structs.replace(
            self, venues={}, **{k: v for k, v in changed.items() if v is not None}
        )


class OversightConfig(ConfigBase, frozen=True):
    policy: OversightPolicy = OversightPolicy.APPROVE
    approver: str = "oversight-policy@backtest"  # the human identity the answers name


class BacktestConfig(ConfigBase, frozen=True):
    strategies: list[StrategySpec]
    data: list[DataSpec]
    initial_cash: Decimal = Decimal(100_000)
    mode: Mode = Mode.RESEARCH
    db: str | None = None  # governed mode's store (a new file), relative to the config
    fills: FillConfig = FillConfig()
    risk: RiskLimits = RiskLimits()
    oversight: OversightConfig = OversightConfig()
    instruments: str | None = None  # an instrument master file (default: the bundled one)
    start: str | None = None  # first day (YYYY-MM-DD), overridden by --from
    end: str | None = None  # last day, overridden by --to
    base: str = msgspec.field(default="")  # the config's folder (set by load_backtest)

    def __post_init__(self) -> None:
        if not (self.initial_cash.is_finite() and self.initial_cash > 0):
            raise ConfigurationError("initial_cash", self.initial_cash, "must be finite and > 0")
        if not self.strategies:
            raise ConfigurationError("strategies", [], "name at least one [[strategies]]")
        if not self.data:
            raise ConfigurationError("data", [], "name at least one [[data]] source")

    def resolve(self, path: str) -> Path:
        """A path of the config, relative to the config file's folder."""
        candidate = Path(path)
        return candidate if candidate.is_absolute() or not self.base else Path(self.base) / path


def load_backtest(path: Path) -> BacktestConfig:
    config = load_toml(path, BacktestConfig)
    return msgspec.structs.replace(config, base=str(path.resolve().parent))
