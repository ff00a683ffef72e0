"""`tradeswarm bench bus --json` runs each backend and its raw-client peer on the same bytes
(servers of the test's own); no figure is asserted, only that every message got through."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from server_kit import nats_and_redis
from tradeswarm.cli.main import app


def test_bench_bus_measures_each_backend_against_its_raw_client(tmp_path: Path) -> None:
    with nats_and_redis(tmp_path) as (nats_url, redis_url):
        args = ["bench", "bus", "--json", "--messages", "300", "--batch", "100",
                "--nats-url", nats_url, "--redis-url", redis_url]  # fmt: skip
        result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output.strip().splitlines()[-1])
    assert [b["backend"] for b in report["backends"]] == ["memory", "nats", "redis"]
    for b in report["backends"]:
        assert b["ours"]["refused"] == 0 and b["ours"]["messages_per_s"] > 0
        assert b["raw"]["messages_per_s"] > 0 and b["ratio"] > 0
    assert len(report["load_average_start"]) == 3


def test_bench_bus_refuses_an_unknown_backend() -> None:
    result = CliRunner().invoke(app, ["bench", "bus", "--backend", "kafka9"])
    assert result.exit_code == 2 and "--backend" in result.output
