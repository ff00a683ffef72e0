"""Parameter sweeps and walk-forward analysis, serially or on Ray.

A grid file names one strategy of the config and lists values per parameter:

```toml
strategy = 0                       # index into [[strategies]] (default 0)
objective = "sharpe"               # a metric of the result; higher is better
[params]
period = [10, 15, 20, 30]
quantity = [10]
```

`sweep` runs every combination (the Cartesian product, in the file's order) over one
range. `walk_forward` cuts the run's trading days into windows of ``train`` days followed
by ``test`` days (stepping by ``test``): per window it sweeps the train days, picks the
combination with the best objective (ties: the first in grid order; a combination whose
objective is undefined never wins), runs it on the test days, and stitches the test
windows' returns into one out-of-sample equity curve. Each test window starts flat with
the config's cash; the window's train days before it are its warm-up (the strategy and
the gate see them as history, and nothing is proposed on them).

Sweeps run in research mode whatever the config's mode (each governed run needs a new
store of its own): run the chosen parameters governed afterwards.

Every run is the same deterministic function of (config, params, range): on Ray (a local
cluster by default, or the one at ``ray_address``) the results are the same as serial,
which a test checks.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from tradeswarm.backtest.config import BacktestConfig, Mode
from tradeswarm.core.config import ConfigBase, load_toml
from tradeswarm.core.errors import ConfigurationError, InvalidInput

NS_PER_DAY = 86_400 * 1_000_000_000
Progress = Callable[[int, int], None]


class GridConfig(ConfigBase, frozen=True):
    params: dict[str, list[Any]]
    strategy: int = 0
    objective: str = "sharpe"

    def __post_init__(self) -> None:
        if not self.params or any(not v for v in self.params.values()):
            raise ConfigurationError("grid.params", self.params, "list at least one value each")


def load_grid(path: Path) -> GridConfig:
    return load_toml(path, GridConfig)


def combinations(grid: GridConfig) -> list[dict[str, Any]]:
    names = list(grid.params)
    return [
        dict(zip(names, values, strict=True)) for values in itertools.product(*grid.params.values())
    ]


def with_params(config: BacktestConfig, index: int, params: dict[str, Any]) -> BacktestConfig:
    if not 0 <= index < len(config.strategies):
        raise ConfigurationError("grid.strategy", index, f"the config has {len(config.strategies)}")
    specs = list(config.strategies)
    spec = specs[index]
    specs[index] = msgspec.structs.replace(spec, params={**spec.params, **params})
    return msgspec.structs.replace(config, strategies=specs)


def run_one(
    config_json: bytes,
    index: int,
    params: dict[str, Any],
    start: str | None,
    end: str | None,
    trade_from: str | None = None,
) -> dict[str, Any]:
    """One backtest as plain data (what crosses to a Ray worker and back)."""
    from tradeswarm.backtest.runner import run_backtest

    config = msgspec.json.decode(config_json, type=BacktestConfig)
    # research mode always: a sweep's runs share one config, and a governed run needs a
    # store of its own (run the chosen parameters governed afterwards)
    configured = msgspec.structs.replace(with_params(config, index, params), mode=Mode.RESEARCH)
    result, run = run_backtest(configured, start, end, trade_from=trade_from)
    equity = np.asarray(run.equity, dtype=np.float64)
    return {
        "params": params,
        "from": trade_from or start,
        "to": end,
        "metrics": result["metrics"],
        "final_equity": result["final_equity"],
        "trades": result["trades"],
        "sha256": result["sha256"],
        "bars_per_year": result["bars_per_year"],
        "timeline": run.timeline.tolist(),
        "equity": equity.tolist(),
    }


class Executor:
    """Runs `run_one` over a list of jobs: in this process, or as Ray tasks."""

    def __init__(self, ray: bool = True, address: str | None = None) -> None:
        self.ray = ray
        self.address = address
        self._remote: Any = None

    def _start(self) -> Any:
        if self._remote is None:
            import ray

            if not ray.is_initialized():
                try:
                    if self.address:
                        ray.init(address=self.address, log_to_driver=False)
                    else:
                        ray.init(include_dashboard=False, log_to_driver=False)
                except (ConnectionError, RuntimeError, ValueError) as err:
                    where = self.address or "a local cluster"
                    raise InvalidInput("--ray-address", where, f"Ray: {err}") from err
            self._remote = ray.remote(run_one)
        return self._remote

    def map(
        self, jobs: Sequence[tuple[Any, ...]], progress: Progress | None = None
    ) -> list[dict[str, Any]]:
        if not self.ray:
            out = []
            for k, job in enumerate(jobs):
                out.append(run_one(*job))
                if progress is not None:
                    progress(k + 1, len(jobs))
            return out
        import ray

        remote = self._start()
        refs = [remote.remote(*job) for job in jobs]
        pending, done = list(refs), 0
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            done += len(ready)
            if progress is not None:
                progress(done, len(refs))
        return list(ray.get(refs))  # in submission order, whatever order they finished


def _encode(config: BacktestConfig) -> bytes:
    return msgspec.json.encode(config)


def sweep(
    config: BacktestConfig,
    grid: GridConfig,
    start: str | None,
    end: str | None,
    executor: Executor,
    progress: Progress | None = None,
) -> dict[str, Any]:
    body = _encode(config)
    runs = executor.map(
        [(body, grid.strategy, p, start, end) for p in combinations(grid)], progress
    )
    best = _best(runs, grid.objective)
    return {
        "objective": grid.objective,
        "runs": [_brief(r) for r in runs],
        "best": None if best is None else _brief(runs[best]),
    }


def _brief(run: dict[str, Any]) -> dict[str, Any]:
    return {
        k: run[k] for k in ("params", "from", "to", "metrics", "final_equity", "trades", "sha256")
    }


def _best(runs: list[dict[str, Any]], objective: str) -> int | None:
    best, score = None, -np.inf
    for k, r in enumerate(runs):
        if objective not in r["metrics"]:
            raise InvalidInput(
                "grid.objective", objective, f"not a metric ({sorted(r['metrics'])})"
            )
        value = r["metrics"][objective]
        if value is not None and value > score:
            best, score = k, value
    return best


def trading_days(config: BacktestConfig, start: str | None, end: str | None) -> list[str]:
    """The days (YYYY-MM-DD) on which any of the run's symbols has a bar."""
    from tradeswarm.backtest.runner import build

    engine, _ = build(config, start, end)
    stamps = np.unique(np.concatenate([s.ts for s in engine.series.values()]))
    days = np.unique(stamps - stamps % NS_PER_DAY)
    return [dt.datetime.fromtimestamp(int(d) // 10**9, dt.UTC).date().isoformat() for d in days]


def walk_forward(
    config: BacktestConfig,
    grid: GridConfig,
    train: int,
    test: int,
    start: str | None,
    end: str | None,
    executor: Executor,
    progress: Progress | None = None,
) -> dict[str, Any]:
    if train < 2 or test < 2:
        raise InvalidInput("--walk-forward", f"train={train},test={test}", "both must be >= 2 days")
    days = trading_days(config, start, end)
    windows = [
        (days[k], days[k + train - 1], days[k + train], days[min(k + train + test, len(days)) - 1])
        for k in range(0, len(days) - train - 1, test)
        if k + train + 1 < len(days)
    ]
    if not windows:
        raise InvalidInput(
            "--walk-forward", f"train={train},test={test}", f"the range has {len(days)} days"
        )
    body, combos = _encode(config), combinations(grid)
    jobs = [(body, grid.strategy, p, w[0], w[1]) for w in windows for p in combos]
    trained = executor.map(jobs, progress)
    picks = []
    for j in range(len(windows)):
        runs = trained[j * len(combos) : (j + 1) * len(combos)]
        best = _best(runs, grid.objective)
        picks.append(combos[0 if best is None else best])
    tests = executor.map(
        [(body, grid.strategy, p, w[0], w[3], w[2]) for p, w in zip(picks, windows, strict=True)]
    )
    return _stitched(windows, picks, tests, grid.objective)


def _stitched(
    windows: list[tuple[str, str, str, str]],
    picks: list[dict[str, Any]],
    tests: list[dict[str, Any]],
    objective: str,
) -> dict[str, Any]:
    from tradeswarm.quant import metrics

    returns: list[float] = []
    for t in tests:
        equity = np.asarray(t["equity"], dtype=np.float64)
        if len(equity) > 1:
            returns.extend((equity[1:] / equity[:-1] - 1.0).tolist())
    curve = metrics.equity_curve(returns) if returns else np.ones(1)
    ppy = float(tests[0]["bars_per_year"])
    return {
        "objective": objective,
        "windows": [
            {
                "train": [w[0], w[1]],
                "test": [w[2], w[3]],
                "params": p,
                "test_metrics": t["metrics"],
                "test_final_equity": t["final_equity"],
                "test_sha256": t["sha256"],
            }
            for w, p, t in zip(windows, picks, tests, strict=True)
        ],
        "out_of_sample": {
            "bars": len(returns),
            "growth": float(curve[-1]),
            "sharpe": metrics.sharpe(returns, periods_per_year=ppy) if len(returns) > 1 else None,
            "max_drawdown": metrics.max_drawdown(curve),
        },
    }
