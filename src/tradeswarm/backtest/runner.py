"""Build a backtest from its config and run it: data, instruments, strategies, gate, engine."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from tradeswarm.backtest.config import BacktestConfig, DataSpec, Mode
from tradeswarm.backtest.engine import Engine, Progress
from tradeswarm.backtest.gatekeeper import Gatekeeper
from tradeswarm.backtest.governed import GovernedLog
from tradeswarm.backtest.result import Run, digest, summary
from tradeswarm.core.dburl import is_url, shown
from tradeswarm.core.errors import ConfigurationError, InvalidInput
from tradeswarm.data.catalog import Catalog
from tradeswarm.data.series import BarSeries, resample, timeframe_seconds
from tradeswarm.data.sources import CsvFile, DataSource, ParquetFile, date_ns
from tradeswarm.instruments import InstrumentMaster, calendar_for, load_master
from tradeswarm.risk.limits import RiskLimits
from tradeswarm.store.postgres import holds_store
from tradeswarm.strategy.loader import load_strategies

NS_PER_DAY = 86_400 * 1_000_000_000


def _source(config: BacktestConfig, spec: DataSpec) -> DataSource:
    if spec.catalog is not None:
        return Catalog(config.resolve(spec.catalog), spec.timeframe or "1d")
    assert spec.path is not None
    path = config.resolve(spec.path)
    if path.suffix == ".parquet":
        return ParquetFile(path, spec.symbol)
    return CsvFile(path, spec.symbol, spec.adjust, spec.tz)


def load_series(
    config: BacktestConfig, symbols: list[str], start: str | None, end: str | None
) -> dict[str, BarSeries]:
    """Each wanted symbol's bars from the first source that has it, inside [start, end]."""
    lo = None if start is None else date_ns(start, "--from")
    hi = None if end is None else date_ns(end, "--to") + NS_PER_DAY - 1
    if lo is not None and hi is not None and hi < lo:
        raise InvalidInput("--to", end, f"before --from {start}")
    found: dict[str, BarSeries] = {}
    for spec in config.data:
        source = _source(config, spec)
        for symbol in source.symbols():
            if symbol in symbols and symbol not in found:
                series = source.series(symbol)
                if spec.timeframe and spec.catalog is None and spec.timeframe != series.timeframe:
                    series = resample(series, spec.timeframe)
                found[symbol] = series.between(lo, hi)
    missing = [s for s in symbols if s not in found]
    if missing:
        raise ConfigurationError("strategies.symbols", missing, "no [[data]] source has them")
    empty = [s for s, series in found.items() if not len(series)]
    if empty:
        raise InvalidInput("--from/--to", f"{start}..{end}", f"no bars of {empty} in the range")
    return found


def _periods(series: BarSeries, master: InstrumentMaster) -> float:
    calendar = calendar_for(master[series.symbol].calendar)
    return calendar.periods_per_year(timeframe_seconds(series.timeframe), series.years())


def _limits(config: BacktestConfig, tiers: dict[str, str]) -> RiskLimits:
    for name, tier in tiers.items():
        if tier not in config.risk.tiers:
            raise ConfigurationError(
                f"strategies[{name}].tier", tier, f"not in {sorted(config.risk.tiers)}"
            )
    return msgspec.structs.replace(config.risk, agent_tiers={**config.risk.agent_tiers, **tiers})


def build(
    config: BacktestConfig,
    start: str | None = None,
    end: str | None = None,
    only: list[str] | None = None,
) -> tuple[Engine, dict[str, float]]:
    loaded = load_strategies(config.strategies, [Path(config.base or "."), Path.cwd()])
    wanted = sorted({s for _, spec, _ in loaded for s in spec.symbols})
    if only:
        unknown = sorted(set(only) - set(wanted))
        if unknown:
            raise InvalidInput(
                "--symbols", unknown, f"no strategy trades them (they trade {wanted})"
            )
        wanted = sorted(only)
    master = load_master(config.resolve(config.instruments) if config.instruments else None)
    unlisted = [s for s in wanted if s not in master]
    if unlisted:
        raise ConfigurationError(
            "instruments", unlisted, f"not in the instrument master {master.source}: add them"
        )
    series = load_series(config, wanted, start or config.start, end or config.end)
    periods = {s: _periods(x, master) for s, x in series.items()}
    limits = _limits(config, {name: spec.tier for name, spec, _ in loaded})
    gate = Gatekeeper(limits, master, config.oversight, config.fills.quote_spread_bps, periods)
    strategies = [(name, [s for s in spec.symbols if s in series], st) for name, spec, st in loaded]
    engine = Engine(
        series, strategies, gate, master, config.fills, config.initial_cash, limits.allow_short
    )
    return engine, periods


def run_backtest(
    config: BacktestConfig,
    start: str | None = None,
    end: str | None = None,
    only: list[str] | None = None,
    progress: Progress | None = None,
    trade_from: str | None = None,
) -> tuple[dict[str, Any], Run]:
    """The result dict (with its sha256) and the Run behind it. trade_from: a day after
    start; the bars before it only warm the strategies up (and the gate's history)."""
    engine, periods = build(config, start, end, only)
    if trade_from is not None:
        engine.trade_from = date_ns(trade_from, "trade_from")
    if config.mode is Mode.GOVERNED:
        engine.journal = _journal(config, [name for name, *_ in engine.strategies])
    run = engine.run(progress)
    run.meta = describe(config, engine, run)
    if engine.journal is not None:
        run.meta["governed"] = {"db": shown(config.db or ""), **engine.journal_figures}
    ppy = min(periods.values())
    result = summary(run, ppy)
    result["sha256"] = digest(result)
    return result, run


def describe(config: BacktestConfig, engine: Engine, run: Run) -> dict[str, Any]:
    """What ran: cash, symbols, bars, the range traded, the strategies and the mode."""
    return {
        "initial_cash": str(config.initial_cash),
        "symbols": sorted(engine.series),
        "bars": int(sum(len(s) for s in engine.series.values())),
        "from": _iso(int(run.timeline[0])) if len(run.timeline) else None,
        "to": _iso(int(run.timeline[-1])) if len(run.timeline) else None,
        "strategies": [name for name, *_ in engine.strategies],
        "mode": str(config.mode),
        "calendar_gaps": {
            s: calendar_gaps(x, engine.instruments) for s, x in sorted(engine.series.items())
        },
    }


def calendar_gaps(series: BarSeries, master: InstrumentMaster) -> dict[str, Any]:
    """Daily bars against the instrument's calendar: the sessions inside the data's span
    with no bar (missing), and bars on days that are no session (extra). Said, never filled
    in or dropped: a strategy sees the data as it is. Intraday and weekly bars: not checked."""
    if series.timeframe != "1d" or not len(series):
        return {"checked": False}
    calendar = calendar_for(master[series.symbol].calendar)
    days = sorted(d for y in series.years() for d in calendar.session_days(y))
    sessions = np.asarray(days, dtype=np.int64)
    missing = series.gaps(sessions)
    extra = series.ts[~np.isin(series.ts, sessions)]
    return {
        "checked": True,
        "calendar": calendar.code,
        "missing": len(missing),
        "missing_first": [_iso(int(t))[:10] for t in missing[:5]],
        "extra": len(extra),
        "extra_first": [_iso(int(t))[:10] for t in extra[:5]],
    }


def _journal(config: BacktestConfig, strategies: list[str]) -> GovernedLog:
    if config.db is None:
        raise ConfigurationError("db", None, "governed mode needs a store: db = FILE or --db")
    if is_url(config.db):
        if holds_store(config.db):
            raise ConfigurationError(
                "db", shown(config.db), "holds a store: a governed run logs into a new one"
            )
        target: str | Path = config.db
    else:
        target = config.resolve(config.db)
        if target.exists():
            why = "exists: a governed run logs into a new store"
            raise ConfigurationError("db", str(target), why)
    return GovernedLog(target, strategies, config.oversight.approver, config.initial_cash)


def _iso(ts: int) -> str:
    return dt.datetime.fromtimestamp(ts / 1e9, dt.UTC).isoformat().replace("+00:00", "Z")
