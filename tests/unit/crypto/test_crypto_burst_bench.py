"""`bench signing`'s burst rows: what they time is what verifies, and their shape (no
timing is asserted)."""

from __future__ import annotations

from tradeswarm.bench.signing import run_burst_bench


def test_the_burst_rows_compare_each_size_with_per_message_signing() -> None:
    rows = run_burst_bench(rounds=10, sizes=(1, 2, 16))
    assert [(r["size"], r["repeats"]) for r in rows] == [(1, 10), (2, 5), (16, 5)]
    one, two, sixteen = rows
    # a burst of one is the per-message block; a burst's block grows by a hash per level
    assert one["signature_bytes_per_msg"] == one["per_message_signature_bytes"]
    assert two["per_message_signature_bytes"] == one["per_message_signature_bytes"]
    assert sixteen["signature_bytes_per_msg"] - two["signature_bytes_per_msg"] >= 3 * 32
    for row in rows:
        assert all(row[k] > 0 for k in row if k.endswith(("_us_per_msg", "_per_sec")))
