"""Where the tests' outside references live: ``../shared/data`` beside the checkout.

Cedar's integration tests, the RFC 9162 proof vectors and real market data are read from
there (CI has the folder beside the checkout). Every test reaches them through the names
below, never by path arithmetic of its own. When the folder or one of its parts is
missing, importing this module fails with a clear message: the tests that need it fail
loudly, they never skip.
"""

from __future__ import annotations

from pathlib import Path

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
#: Cedar's hand-written tests, sample data and generated corpus (corpus-tests-dev.tar.gz).
CEDAR_DATA = SHARED_DATA / "cedar"
#: Real market data: daily and minute bars, ticks, quotes, 20 stocks' closes.
MARKET_DATA = SHARED_DATA / "market"
#: transparency-dev's RFC 6962 / 9162 inclusion and consistency proof vectors.
MERKLE_DATA = SHARED_DATA / "merkle"

for _folder in (SHARED_DATA, CEDAR_DATA, MARKET_DATA, MERKLE_DATA):
    if not _folder.is_dir():
        raise FileNotFoundError(
            f"reference data missing: expected {_folder} (../shared/data beside the checkout)"
        )
