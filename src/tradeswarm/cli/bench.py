"""`tradeswarm bench …`: measured figures as JSON, a peer measured in the same run."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from tradeswarm.cli.common import cli_errors, console
from tradeswarm.core.errors import InvalidInput

bench_app = typer.Typer(help="Benchmarks; each prints one JSON object.", no_args_is_help=True)


@bench_app.command()
def pipeline(
    orders: Annotated[
        int | None,
        typer.Option(
            help="Orders to drive through the pipeline [default: 2000; with --scenario, "
            "its initial burst plus five seconds of its rate]."
        ),
    ] = None,
    batch: Annotated[int, typer.Option(help="Orders per unit of work (one commit).")] = 500,
    as_json: Annotated[bool, typer.Option("--json", help="Print only the JSON line.")] = False,
    sign: Annotated[
        str,
        typer.Option(
            "--sign",
            help="What is signed: intents (the least the gate needs), or every "
            "non-repudiable type in ed25519 or mldsa87 (without --scenario).",
        ),
    ] = "ed25519",
    scenario: Annotated[
        str | None,
        typer.Option(
            help="A load scenario of the seed: normal, high_volatility or market_open "
            "(many agents and symbols, trade sizes, halts, oversight; with the naive "
            "design as peer). Without it: one agent, one symbol."
        ),
    ] = None,
    shards: Annotated[
        int,
        typer.Option(help="With --scenario: also run it as this many swarm processes."),
    ] = 1,
) -> None:
    """Synthetic signals through gate -> execution -> paper fill -> durable store -> log."""
    with cli_errors():
        if batch < 1 or (orders is not None and orders < 1) or shards < 1:
            raise InvalidInput("--orders/--batch/--shards", (orders, batch, shards), "must be >= 1")
        if scenario is not None:
            from tradeswarm.bench.scenario_run import run_scenario_bench

            result = run_scenario_bench(scenario, orders, batch, shards, progress=not as_json)
        else:
            from tradeswarm.bench.pipeline import run_pipeline_bench

            result = run_pipeline_bench(
                orders=orders or 2_000, batch=batch, progress=not as_json, sign=sign
            )
    print(json.dumps(result)) if as_json else console.print_json(json.dumps(result))


@bench_app.command()
def policy(
    requests: Annotated[int, typer.Option(help="Sample trading requests to decide.")] = 10_000,
    batch: Annotated[int, typer.Option(help="Requests per batch call.")] = 1_000,
    as_json: Annotated[bool, typer.Option("--json", help="Print only the JSON line.")] = False,
) -> None:
    """The trading policies: compiled scalar and batch paths vs cedarpy, same requests."""
    from tradeswarm.bench.policy import run_policy_bench

    with cli_errors():
        result = run_policy_bench(requests=requests, batch=batch)
    print(json.dumps(result)) if as_json else console.print_json(json.dumps(result))


@bench_app.command()
def audit(
    entries: Annotated[int, typer.Option(help="Envelopes to append.")] = 50_000,
    batch: Annotated[int, typer.Option(help="Envelopes per unit of work (one commit).")] = 5_000,
    as_json: Annotated[bool, typer.Option("--json", help="Print only the JSON line.")] = False,
) -> None:
    """Durable audit-log appends, inclusion proofs and verification vs pymerkle, same entries."""
    from tradeswarm.bench.audit import run_audit_bench

    with cli_errors():
        result = run_audit_bench(entries=entries, batch=batch)
    print(json.dumps(result)) if as_json else console.print_json(json.dumps(result))


@bench_app.command()
def signing(
    rounds: Annotated[int, typer.Option(help="Timed calls per operation.")] = 2_000,
    as_json: Annotated[bool, typer.Option("--json", help="Print only the JSON line.")] = False,
) -> None:
    """Ed25519 and ML-DSA-87 sign/verify per envelope, against the log's leaf hash; burst
    (Merkle-root) signing and verifying per message, against per-message signatures."""
    from tradeswarm.bench.signing import run_signing_bench

    with cli_errors():
        result = run_signing_bench(rounds=rounds)
    print(json.dumps(result)) if as_json else console.print_json(json.dumps(result))


@bench_app.command()
def quant(
    assets: Annotated[int, typer.Option(help="Assets for covariance and HRP.")] = 500,
    days: Annotated[int, typer.Option(help="Days of returns.")] = 2_520,
    mv_assets: Annotated[int, typer.Option(help="Assets for mean-variance.")] = 100,
    repeat: Annotated[int, typer.Option(help="Timed repeats; the best counts.")] = 3,
    as_json: Annotated[bool, typer.Option("--json", help="Print only the JSON line.")] = False,
) -> None:
    """tradeswarm.quant next to its oracles (sklearn, PyPortfolioOpt, cvxpy, TA-Lib)."""
    from tradeswarm.bench.quant import run_quant_bench

    with cli_errors():
        result = run_quant_bench(assets, days, mv_assets, repeat, progress=not as_json)
    print(json.dumps(result)) if as_json else console.print_json(json.dumps(result))


@bench_app.command()
def marketdata(
    messages: Annotated[int, typer.Option(help="Feed messages to time (after warm-up).")] = 200_000,
    symbols: Annotated[int, typer.Option(help="Symbols the real bars are dealt to.")] = 100,
    quotes_per_bar: Annotated[int, typer.Option(help="Quotes between two bars.")] = 4,
    batch: Annotated[int, typer.Option(help="Messages per feed batch.")] = 1_000,
    wire: Annotated[str, typer.Option(help="Wire format: json or msgpack.")] = "json",
    as_json: Annotated[bool, typer.Option("--json", help="Print only the JSON line.")] = False,
) -> None:
    """Feed batches -> decode -> market view -> analyzer indicators vs msgspec decode alone."""
    from tradeswarm.bench.marketdata import run_marketdata_bench

    with cli_errors():
        result = run_marketdata_bench(
            messages, symbols, quotes_per_bar, batch, wire, progress=not as_json
        )
    print(json.dumps(result)) if as_json else console.print_json(json.dumps(result))


@bench_app.command("backtest")
def backtest_bench(
    repeats: Annotated[int, typer.Option(help="Timed runs of each side (median).")] = 5,
    sweep: Annotated[int, typer.Option(help="SMA periods in the sweep timed serial vs Ray.")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="Print only the JSON line.")] = False,
) -> None:
    """Research-mode bars/s against backtrader (same SMA crossover, same ORCL file, same
    run), and a parameter sweep's wall time serially and on a local Ray cluster."""
    from tradeswarm.bench.backtest import run_backtest_bench

    with cli_errors():
        result = run_backtest_bench(repeats, sweep, progress=not as_json)
    print(json.dumps(result)) if as_json else console.print_json(json.dumps(result))


NatsUrl = Annotated[str, typer.Option(help="NATS server (JetStream on).")]
RedisUrl = Annotated[str, typer.Option(help="Redis server.")]
JsonOnly = Annotated[bool, typer.Option("--json", help="Print only the JSON line.")]


@bench_app.command()
def bus(
    messages: Annotated[int, typer.Option(help="Envelopes per backend.")] = 5_000,
    batch: Annotated[int, typer.Option(help="Envelopes per published batch.")] = 500,
    backend: Annotated[
        list[str] | None,
        typer.Option(help="memory, nats or redis (repeatable) [default: all three]."),
    ] = None,
    nats_url: NatsUrl = "nats://127.0.0.1:4222",
    redis_url: RedisUrl = "redis://127.0.0.1:6379/0",
    as_json: JsonOnly = False,
) -> None:
    """Signed envelopes through each transport and the bridge vs the raw client, same bytes."""
    from tradeswarm.bench.bus import run_bus_bench
    from tradeswarm.bus.transport import BACKENDS

    with cli_errors():
        if messages < 1 or batch < 1:
            raise InvalidInput("--messages/--batch", (messages, batch), "must be >= 1")
        chosen = backend or list(BACKENDS)
        for name in chosen:
            if name not in BACKENDS:
                raise InvalidInput("--backend", name, f"must be one of {BACKENDS}")
        urls = {"nats": nats_url, "redis": redis_url}
        result = run_bus_bench(messages, batch, chosen, urls)
    print(json.dumps(result)) if as_json else console.print_json(json.dumps(result))


@bench_app.command()
def processes(
    backend: Annotated[
        list[str] | None, typer.Option(help="nats or redis (repeatable) [default: both].")
    ] = None,
    nats_url: NatsUrl = "nats://127.0.0.1:4222",
    redis_url: RedisUrl = "redis://127.0.0.1:6379/0",
    as_json: JsonOnly = False,
) -> None:
    """The demo's day with the analyzer and the trader as OS processes on each server, vs
    the same day in one process, and raw nats-py request/reply of the same bytes."""
    from tradeswarm.bench.processes import run_processes_bench

    with cli_errors():
        chosen = backend or ["nats", "redis"]
        for name in chosen:
            if name not in ("nats", "redis"):
                raise InvalidInput("--backend", name, "must be nats or redis")
        result = run_processes_bench(chosen, {"nats": nats_url, "redis": redis_url})
    print(json.dumps(result)) if as_json else console.print_json(json.dumps(result))
