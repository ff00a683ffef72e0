"""`bench pipeline --scenario`: the seed's scenarios run end to end on a few orders and
report their figures (never timed here); the traffic follows the scenario's shape."""

from __future__ import annotations

from decimal import Decimal

import pytest
from typer.testing import CliRunner

from tradeswarm.bench.scenario_run import run_one, run_scenario_bench
from tradeswarm.bench.scenarios import SCENARIOS, Traffic, scenario, units
from tradeswarm.cli.main import app
from tradeswarm.core.errors import InvalidInput


def test_the_oversight_threshold_is_the_size_quantile_of_the_oversight_share() -> None:
    assert SCENARIOS["normal"].oversight_threshold() == Decimal(148_000)  # 5% * 2/100
    assert SCENARIOS["high_volatility"].oversight_threshold() == Decimal(34_000)  # 15%


def test_traffic_sizes_follow_the_seed_mixture_and_shards_split_symbols() -> None:
    sc = SCENARIOS["normal"]
    traffic = Traffic(sc)
    values = [float(i.quantity * i.reference_price) for i in traffic.intents(20_000, 1)]
    small = sum(v < 10_000 for v in values) / len(values)
    large = sum(v > 50_000 for v in values) / len(values)
    assert 0.68 < small < 0.72 and 0.04 < large < 0.06
    halves = [Traffic(sc, part=(k, 2)) for k in range(2)]
    assert set(halves[0].symbols).isdisjoint(halves[1].symbols)
    assert sorted(halves[0].symbols + halves[1].symbols) == traffic.symbols


def test_units_carry_the_initial_burst_within_a_second_then_the_rate() -> None:
    plan = list(units(SCENARIOS["market_open"], 60_000, 5_000))
    assert sum(n for n, _ in plan) == 60_000
    assert sum(dt for n, dt in plan[:10]) == 1_000_000_000  # 50,000 in the first second
    assert plan[10] == (5_000, 500_000_000)  # then 10,000/s


def test_a_small_high_volatility_run_halts_and_reviews_as_the_scenario_says() -> None:
    result = run_one(scenario("high_volatility"), 1_000, 250)
    verdicts = result["verdicts"]
    assert sum(verdicts.values()) == 1_000
    assert 0.05 < verdicts["DENY"] / 1_000 < 0.15  # 5 of 50 symbols halted
    assert 0.10 < verdicts["REVIEW"] / 1_000 < 0.20  # oversight about 15% of the rest
    assert result["fills"] == verdicts["PERMIT"]
    assert "RiskManager.on_intents" in result["stage_share"]


def test_the_scenario_bench_reports_the_naive_peer_floor_rss_and_shards() -> None:
    result = run_scenario_bench("normal", 600, 300, shards=2, progress=False)
    assert result["orders"] == 600 and result["naive_peer"]["orders"] == 300
    assert "RiskManager.on_intent" in result["naive_peer"]["stage_share"]  # the naive path
    assert result["shards"]["processes"] == 2
    for key in ("orders_per_sec", "raw_floor_orders_per_sec", "peak_rss_mb", "e2e_ms_p95"):
        assert result[key] > 0
    assert len(result["load_average"]) == 3


def test_an_unknown_scenario_or_a_bad_count_is_refused_naming_the_option() -> None:
    with pytest.raises(InvalidInput, match="--scenario"):
        scenario("lunch")
    runner = CliRunner()
    for args in (["--scenario", "lunch"], ["--batch", "0"], ["--shards", "0"]):
        out = runner.invoke(app, ["bench", "pipeline", "--json", *args])
        assert out.exit_code != 0
        assert "--" in out.output
