from __future__ import annotations

from collections.abc import Iterator

import pytest
from exec_kit import Rig, build_rig


@pytest.fixture
def rig() -> Iterator[Rig]:
    built = build_rig()
    yield built
    built.close()
