"""Cedar's own integration tests (hand-written and the generated corpus) on both paths."""

from __future__ import annotations

from shared_data import CEDAR_DATA
from tradeswarm.policy.testsuite import run_suite

CEDAR = CEDAR_DATA


def test_compiled_engine_passes_every_cedar_test_request_on_scalar_and_batch_paths() -> None:
    assert (CEDAR / "corpus-tests-dev.tar.gz").is_file(), f"missing Cedar test data in {CEDAR}"
    suite = run_suite(CEDAR, ("scalar", "batch"))
    summary = suite.summary()
    failures = [f"{f.path}: {x}" for f in suite.files for x in f.failures]
    assert failures == []
    assert summary["requests"] > 31_000
    assert summary["failed"] == 0
    assert summary["validation_mismatches"] == 0
