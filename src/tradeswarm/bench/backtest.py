"""Backtest benchmark: tradeswarm's research mode against backtrader, same strategy, same file.

Work: the SMA crossover (SMA 15; close crosses above: buy 1,000; below: sell the position;
market orders at the next open; 0.1% commission) on the bundled ORCL daily bars
1995-2014 (5,036 bars). Both sides are timed end to end as a user runs them: reading and
parsing the CSV, building the run, the bar loop; tradeswarm's every proposal through the
compiled Cedar gate (limits opened so all pass, as in the parity test). Each side runs
``repeats`` times, alternating, after one untimed warm-up run each (imports, the gate's
compilation); the median wall time is reported, and the two runs' fills are compared
trade by trade (``identical_trades``). A sweep of ``sweep`` SMA periods is then timed
serially and on Ray (a local cluster started for it, its start-up timed apart). Governed
mode (every intent, decision, order update and fill signed into the audit log of a new
SQLite store, synchronous=FULL, one commit per bar that logged something, the checkpoint
and its witness at the end) is timed on the same run, its trades compared with research's.
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import tempfile
import time
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import msgspec

from tradeswarm.backtest.config import BacktestConfig, Mode
from tradeswarm.backtest.runner import run_backtest
from tradeswarm.backtest.sweep import Executor, GridConfig, sweep
from tradeswarm.core.config import convert_config
from tradeswarm.core.errors import InvalidInput

ORCL_FILE = "orcl-1995-2014-daily.csv.gz"
STAKE = 1000
COMMISSION = 0.001
#: Limits that let every proposal through; the gate still evaluates every policy.
OPEN_LIMITS: dict[str, Any] = {
    "volatility_limit": 100.0,
    "max_concentration": 10.0,
    "max_var_95": "1",
    "position_limit": 1_000_000,
    "max_order_quantity": 1_000_000,
    "hard_cap": 10_000_000,
    "oversight_threshold": 10_000_000,
    "max_gross_exposure": 100_000_000,
    "max_order_notional": 100_000_000,
    "tiers": {"professional": {"max_trade_size": 10_000_000}},
    "min_history_bars": 15,
}


def _peer() -> Any:
    try:
        from tradeswarm.bench import bt_peer
    except ImportError as err:
        raise InvalidInput("peer", "backtrader", "pip install 'tradeswarm[oracles]'") from err
    return bt_peer


def run_backtrader(
    path: Path, cash: float, stake: int, commission: float, feed: Any = None
) -> tuple[float, list[Any]]:
    """backtrader's SMA crossover on path (or on the feed given), and its fills."""
    return _peer().run(path, cash, stake, commission, feed)  # type: ignore[no-any-return]


def ours_config(
    path: Path, symbol: str, cash: int, stake: int, fee_bps: str, adjust: bool = False
) -> BacktestConfig:
    raw = {
        "initial_cash": str(cash),
        "data": [{"path": str(path), "symbol": symbol, "adjust": adjust}],
        "strategies": [
            {
                "class": "tradeswarm.strategy.builtin:SmaCross",
                "symbols": [symbol],
                "params": {"period": 15, "quantity": stake},
            }
        ],
        "fills": {"fee_bps": fee_bps, "round_fees": False},
        "risk": OPEN_LIMITS,
    }
    return convert_config(raw, BacktestConfig)


def our_fills(result: dict[str, Any]) -> list[tuple[dt.date, str, float, float, float]]:
    out = []
    for t in result["trade_list"]:
        day = dt.datetime.fromtimestamp(t["ts"] / 1e9, dt.UTC).date()
        out.append((day, t["side"], float(t["quantity"]), float(t["price"]), float(t["fee"])))
    return out


def _same(theirs: list[Any], ours: list[Any]) -> bool:
    if len(theirs) != len(ours):
        return False
    for a, b in zip(theirs, ours, strict=True):
        if a[:3] != b[:3] or abs(a[3] - b[3]) > 1e-9 * b[3] or abs(a[4] - b[4]) > 1e-6:
            return False
    return True


def _orcl_csv(folder: Path) -> Path:
    """The bundled ORCL file, unpacked (backtrader's feed reads plain text)."""
    import gzip

    raw = resources.files("tradeswarm.data").joinpath("market", ORCL_FILE).read_bytes()
    path = folder / "orcl-1995-2014.txt"
    path.write_bytes(gzip.decompress(raw))
    return path


def _time(fn: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def run_backtest_bench(
    repeats: int = 5, sweep_size: int = 100, progress: bool = True
) -> dict[str, Any]:
    if repeats < 1 or sweep_size < 1:
        raise InvalidInput("--repeats/--sweep", (repeats, sweep_size), "must be >= 1")
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        path = _orcl_csv(Path(tmp))
        config = ours_config(path, "ORCL", 100_000, STAKE, "10")
        run_backtrader(path, 100_000, STAKE, COMMISSION)  # warm-up, untimed
        run_backtest(config)
        theirs_t, ours_t, same = [], [], True
        for k in range(repeats):
            t, (value, theirs) = _time(lambda: run_backtrader(path, 100_000, STAKE, COMMISSION))
            theirs_t.append(t)
            t, (result, _) = _time(lambda: run_backtest(config))
            ours_t.append(t)
            t = theirs_t[-1]
            same = same and _same(theirs, our_fills(result))
            same = same and abs(Decimal(repr(value)) - Decimal(result["final_equity"])) < Decimal(
                "0.01"
            )
            if progress:
                print(
                    f"run {k + 1}/{repeats}: backtrader {t:.3f} s, tradeswarm {ours_t[-1]:.3f} s",
                    flush=True,
                )
        bars = result["meta"]["bars"]
        governed = _governed_bench(config, Path(tmp), repeats, result, progress)
        sweep_out = _sweep_bench(config, sweep_size, progress)
    ours_s, theirs_s = statistics.median(ours_t), statistics.median(theirs_t)
    return {
        "bench": "backtest",
        "work": f"SMA(15) crossover, ORCL daily 1995-2014, {bars} bars, 0.1% commission",
        "bars": bars,
        "trades": result["trades"],
        "gate_decisions": sum(result["decisions"].values()),
        "identical_trades": same,
        "research_bars_per_s": round(bars / ours_s, 1),
        "backtrader_bars_per_s": round(bars / theirs_s, 1),
        "ratio_research_vs_backtrader": round(theirs_s / ours_s, 3),
        "research_s_median": round(ours_s, 4),
        "backtrader_s_median": round(theirs_s, 4),
        "repeats": repeats,
        "governed_bars_per_s": round(bars / governed["governed_s_median"], 1),
        **governed,
        **sweep_out,
        "load_average_start": [round(x, 2) for x in load_start],
        "load_average_end": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
    }


def _governed_bench(
    config: BacktestConfig, tmp: Path, repeats: int, research: dict[str, Any], progress: bool
) -> dict[str, Any]:
    """The same run governed (a new store each time), its trades against research's."""
    times, same, entries = [], True, 0
    for k in range(repeats):
        db = tmp / f"governed-{k}.sqlite"
        governed = msgspec.structs.replace(config, mode=Mode.GOVERNED, db=str(db))
        t, (gov, _) = _time(lambda: run_backtest(governed))  # noqa: B023
        times.append(t)
        same = same and gov["trade_list"] == research["trade_list"]
        entries = gov["meta"]["governed"]["log_entries"]
    if progress:
        print(f"governed: {statistics.median(times):.3f} s median", flush=True)
    return {
        "governed_s_median": round(statistics.median(times), 4),
        "governed_identical_trades": same,
        "governed_log_entries": entries,
    }


def _sweep_bench(config: BacktestConfig, size: int, progress: bool) -> dict[str, Any]:
    grid = GridConfig(params={"period": list(range(5, 5 + size))})
    serial_s, serial = _time(lambda: sweep(config, grid, None, None, Executor(ray=False)))
    import ray

    start_s, _ = _time(lambda: ray.init(include_dashboard=False, log_to_driver=False))
    try:
        ray_s, on_ray = _time(lambda: sweep(config, grid, None, None, Executor(ray=True)))
    finally:
        ray.shutdown()
    if progress:
        print(f"sweep of {size}: serial {serial_s:.1f} s, ray {ray_s:.1f} s", flush=True)
    return {
        "sweep_runs": size,
        "sweep_serial_s": round(serial_s, 2),
        "sweep_ray_s": round(ray_s, 2),
        "sweep_ray_startup_s": round(start_s, 2),
        "sweep_ray_identical": on_ray == serial,
    }
