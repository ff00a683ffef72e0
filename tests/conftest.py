"""Hypothesis profiles. `make test` (and so CI) runs "repeatable": the same generated
examples on every run, so a red run can be rerun and debugged, and a green one does not
hide a failure that the next run's dice would find. Set HYPOTHESIS_PROFILE=explore to draw
new examples each run (and more of them) when hunting for bugs."""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("repeatable", derandomize=True, database=None, print_blob=True)
settings.register_profile("explore", max_examples=500, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))
