"""Latency percentiles as the benchmarks and the health report state them."""

from __future__ import annotations

from collections.abc import Sequence


def p50_p99_ms(samples: Sequence[float]) -> dict[str, float | None]:
    """{"p50_ms", "p99_ms"} of samples in seconds, by nearest rank (the sample at
    index floor(q * n)), in ms to 3 decimals; None each when there are no samples."""
    if not samples:
        return {"p50_ms": None, "p99_ms": None}
    ordered = sorted(samples)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1e3, 3)

    return {"p50_ms": pick(0.50), "p99_ms": pick(0.99)}
