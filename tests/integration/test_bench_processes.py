"""`tradeswarm bench processes --json`: the demo's day with its analyzer and trader as OS
processes on each server (the test's own), against the same day in one process; no
figure is asserted, only that each day told the in-process story (the bench checks it)
and every call was measured."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from server_kit import nats_and_redis
from tradeswarm.cli.main import app

pytestmark = pytest.mark.slow


def test_bench_processes_runs_the_day_on_each_server_beside_the_in_process_day(
    tmp_path: Path,
) -> None:
    with nats_and_redis(tmp_path) as (nats_url, redis_url):
        args = ["bench", "processes", "--json", "--nats-url", nats_url, "--redis-url", redis_url]
        result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output.strip().splitlines()[-1])
    assert report["inprocess"]["seconds"] > 0
    assert [b["backend"] for b in report["backends"]] == ["nats", "redis"]
    for b in report["backends"]:
        assert b["calls"]["analyzer"] > 0 and b["calls"]["trader"] > 0
        assert b["call_round_trip"]["p99_ms"] >= b["call_round_trip"]["p50_ms"] > 0
    calls = sum(report["backends"][0]["calls"].values())
    assert report["raw_nats_request"]["requests"] == calls
    assert len(report["load_average_start"]) == 3


def test_bench_processes_refuses_an_unknown_backend() -> None:
    result = CliRunner().invoke(app, ["bench", "processes", "--backend", "memory"])
    assert result.exit_code == 2 and "--backend" in result.output
