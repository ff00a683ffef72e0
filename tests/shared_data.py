"""Where the tests' outside references live: ``../shared/data`` beside the checkout.

Cedar's integration tests, the RFC 9162 proof vectors and real market data are read from
there (CI has the folder beside the checkout). When it is missing, importing this module
fails with a clear message: the tests that need it fail loudly, they never skip.
"""

from __future__ import annotations

from pathlib import Path

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

if not SHARED_DATA.is_dir():
    raise FileNotFoundError(
        f"reference data missing: expected {SHARED_DATA} (../shared/data beside the checkout)"
    )
