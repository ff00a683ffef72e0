"""The nearest-rank percentiles the benchmarks and `tradeswarm health` report."""

from __future__ import annotations

from tradeswarm.core.percentiles import p50_p99_ms


def test_nearest_rank_in_ms_and_none_without_samples() -> None:
    samples = [i / 1000 for i in range(1, 101)]  # 1 ms .. 100 ms, shuffled below
    assert p50_p99_ms(samples[::-1]) == {"p50_ms": 51.0, "p99_ms": 100.0}
    assert p50_p99_ms([0.002]) == {"p50_ms": 2.0, "p99_ms": 2.0}
    assert p50_p99_ms([]) == {"p50_ms": None, "p99_ms": None}
