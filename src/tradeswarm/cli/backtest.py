"""`tradeswarm backtest`: a user's strategies over their data, every proposal gated."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from tradeswarm.cli.common import cli_errors, console, err_console


def _progress_bar(quiet: bool) -> Any:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("backtest"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]} bars/s"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=err_console,
        disable=quiet,
        transient=True,
    )


def backtest(
    config: Annotated[Path, typer.Option("--config", help="A backtest TOML file.")],
    start: Annotated[str | None, typer.Option("--from", help="First day, YYYY-MM-DD.")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last day, YYYY-MM-DD.")] = None,
    symbols: Annotated[
        str | None, typer.Option("--symbols", help="Comma-separated subset of the symbols.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    out: Annotated[Path | None, typer.Option("--out", help="Write the result JSON here.")] = None,
    report: Annotated[
        Path | None, typer.Option("--report", help="Write a self-contained HTML report here.")
    ] = None,
    state: Annotated[
        Path | None,
        typer.Option("--state", help="Journal the run here: after a crash, rerun to resume."),
    ] = None,
    mode: Annotated[
        str | None,
        typer.Option("--mode", help="research (gate on, no log) or governed (signed log)."),
    ] = None,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="Governed mode's store: a new SQLite file, or postgresql://user@host:port/db "
            "(an empty database).",
        ),
    ] = None,
    grid: Annotated[
        Path | None,
        typer.Option("--grid", help="A grid TOML file: sweep one strategy's parameters."),
    ] = None,
    walk_forward: Annotated[
        str | None,
        typer.Option(
            "--walk-forward",
            help="train=DAYS,test=DAYS: pick parameters in-sample per window (needs --grid).",
        ),
    ] = None,
    serial: Annotated[
        bool, typer.Option("--serial", help="Run sweeps in this process instead of on Ray.")
    ] = False,
    ray_address: Annotated[
        str | None,
        typer.Option("--ray-address", help="Join this Ray cluster (default: start a local one)."),
    ] = None,
) -> None:
    """Run the config's strategies over its data on the SimClock: each proposal decided by
    the risk gate, fills at the next bar's open (or limit/stop touch), costs as configured.
    With --grid: a parameter sweep (with --walk-forward: walk-forward windows), on Ray."""
    import time

    _refuse_combinations(
        sweep=grid is not None or walk_forward is not None,
        state=state is not None,
        given={"--symbols": symbols, "--report": report, "--mode": mode, "--db": db},
    )
    if grid is not None or walk_forward is not None:
        _sweep(config, start, end, grid, walk_forward, serial, ray_address, as_json, out)
        return

    from tradeswarm.backtest.config import load_backtest
    from tradeswarm.backtest.result import canonical
    from tradeswarm.backtest.runner import run_backtest

    if state is not None:
        _resumable(config, state, start, end, as_json, out)
        return
    with cli_errors():
        cfg = _with_mode(load_backtest(config), mode, db)
        only = [s.strip() for s in symbols.split(",") if s.strip()] if symbols else None
        started = time.perf_counter()
        with _progress_bar(as_json) as bar:
            task = bar.add_task("backtest", total=None, rate="-")

            def tick(done: int, total: int) -> None:
                rate = done / max(time.perf_counter() - started, 1e-9)
                bar.update(task, completed=done, total=total, rate=f"{rate:,.0f}")

            result, run = run_backtest(cfg, start, end, only, tick)
        body = canonical(result)
        if out is not None:
            out.write_bytes(body + b"\n")
        if report is not None:
            from tradeswarm.backtest.report import write_report

            write_report(report, result, run, run.series)
    if as_json:
        print(body.decode())
        return
    _print_summary(result, out, report)


def _refuse_combinations(sweep: bool, state: bool, given: dict[str, Any]) -> None:
    """Options a sweep or a journaled run would ignore are refused, not dropped silently
    (sweeps run research mode over every symbol; --state runs research mode)."""
    from tradeswarm.core.errors import InvalidInput

    with cli_errors():
        named = [k for k, v in given.items() if v is not None]
        if sweep and state:
            raise InvalidInput("--state", "given", "not with --grid / --walk-forward")
        if sweep and named:
            raise InvalidInput(named[0], given[named[0]], "not with --grid / --walk-forward")
        ignored = [k for k in named if k in ("--mode", "--db", "--symbols", "--report")]
        if state and ignored:
            raise InvalidInput(ignored[0], given[ignored[0]], "not with --state (research mode)")


def _resumable(
    config: Path, state: Path, start: str | None, end: str | None, as_json: bool, out: Path | None
) -> None:
    import math

    from tradeswarm.backtest.config import load_backtest
    from tradeswarm.backtest.paper import PaperRun
    from tradeswarm.backtest.result import canonical

    with cli_errors():
        runner = PaperRun(
            load_backtest(config), state, math.inf, start, end, emit=err_console.print
        )
        result = runner.run()
    if result is None:
        raise typer.Exit(130)
    if out is not None:
        out.write_bytes(canonical(result) + b"\n")
    if as_json:
        print(canonical(result).decode())
    else:
        _print_summary(result, out, None)


def _with_mode(cfg: Any, mode: str | None, db: str | None) -> Any:
    import msgspec

    from tradeswarm.backtest.config import Mode
    from tradeswarm.core.dburl import is_url
    from tradeswarm.core.errors import InvalidInput

    if mode is not None:
        try:
            cfg = msgspec.structs.replace(cfg, mode=Mode(mode))
        except ValueError as err:
            raise InvalidInput("--mode", mode, "research or governed") from err
    if db is not None:
        cfg = msgspec.structs.replace(cfg, db=db if is_url(db) else str(Path(db).resolve()))
    return cfg


def _windows(text: str) -> tuple[int, int]:
    from tradeswarm.core.errors import InvalidInput

    parts = dict(p.split("=", 1) for p in text.split(",") if "=" in p)
    try:
        return int(parts["train"]), int(parts["test"])
    except (KeyError, ValueError) as err:
        raise InvalidInput("--walk-forward", text, "expected train=DAYS,test=DAYS") from err


def _sweep(
    config: Path,
    start: str | None,
    end: str | None,
    grid: Path | None,
    walk_forward: str | None,
    serial: bool,
    ray_address: str | None,
    as_json: bool,
    out: Path | None,
) -> None:
    import json

    from tradeswarm.backtest.config import load_backtest
    from tradeswarm.backtest.sweep import Executor, load_grid, sweep
    from tradeswarm.backtest.sweep import walk_forward as run_walk_forward
    from tradeswarm.core.errors import InvalidInput

    with cli_errors():
        if grid is None:
            raise InvalidInput("--grid", None, "--walk-forward needs a --grid of parameters")
        cfg, spec = load_backtest(config), load_grid(grid)
        executor = Executor(ray=not serial, address=ray_address)
        with _progress_bar(as_json) as bar:
            task = bar.add_task("backtest", total=None, rate="-")

            def tick(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total, rate="runs")

            if walk_forward is not None:
                train, test = _windows(walk_forward)
                result = run_walk_forward(cfg, spec, train, test, start, end, executor, tick)
            else:
                result = sweep(cfg, spec, start, end, executor, tick)
    body = json.dumps(result, indent=1, sort_keys=True)
    if out is not None:
        out.write_text(body + "\n")
    if as_json:
        print(body)
        return
    if "windows" in result:
        for w in result["windows"]:
            console.print(f"{w['test'][0]} .. {w['test'][1]}: {w['params']}")
        console.print(f"out of sample: {result['out_of_sample']}")
    else:
        for r in result["runs"]:
            console.print(f"{r['params']}: {spec.objective} {r['metrics'][spec.objective]}")
        console.print(f"best: {result['best'] and result['best']['params']}")


def _print_summary(result: dict[str, Any], out: Path | None, report: Path | None) -> None:
    meta, m = result["meta"], result["metrics"]

    def num(value: float | None, fmt: str = "{:.3f}") -> str:
        return "n/a" if value is None else fmt.format(value)

    console.print(f"backtest {meta['from']} .. {meta['to']}: {', '.join(meta['symbols'])}")
    console.print(f"  bars           : {meta['bars']:,}")
    console.print(f"  final equity   : {result['final_equity']} (from {result['initial_cash']})")
    console.print(f"  trades         : {result['trades']} (fees {result['fees']})")
    console.print(f"  gate decisions : {result['decisions']}")
    if result["denials_by_policy"]:
        console.print(f"  denied by      : {result['denials_by_policy']}")
    console.print(
        f"  sharpe {num(m['sharpe'])}  sortino {num(m['sortino'])}  calmar {num(m['calmar'])}"
        f"  max drawdown {num(m['max_drawdown'], '{:.2%}')}  hit rate "
        f"{num(m['hit_rate'], '{:.1%}')}"
    )
    console.print(f"  result sha256  : {result['sha256']}")
    for label, path in (("result", out), ("report", report)):
        if path is not None:
            console.print(f"  {label:<15}: {path}")


def paper(
    config: Annotated[Path, typer.Option("--config", help="A backtest TOML file.")],
    state: Annotated[
        Path, typer.Option("--state", help="The run's folder: its journal; rerun to resume.")
    ],
    speed: Annotated[
        float, typer.Option("--speed", help="Replay speed: 1 is real time, 3600 an hour a second.")
    ] = 1.0,
    start: Annotated[str | None, typer.Option("--from", help="First day, YYYY-MM-DD.")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last day, YYYY-MM-DD.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Paper-trade the config's strategies on the live clock, its data replayed as a feed
    (at --speed); Ctrl-C stops between bars, a rerun on the same --state resumes."""
    from tradeswarm.backtest.config import load_backtest
    from tradeswarm.backtest.paper import PaperRun
    from tradeswarm.backtest.result import canonical

    with cli_errors():
        emit = err_console.print if as_json else console.print
        runner = PaperRun(load_backtest(config), state, speed, start, end, emit=emit)
        result = runner.run()
    if result is None:
        raise typer.Exit(130)  # stopped as asked: the journal holds where
    if as_json:
        print(canonical(result).decode())
        return
    _print_summary(result, state / "result.json", None)
