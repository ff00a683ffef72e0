"""Constants shared by the oversight tests."""

from __future__ import annotations

from tradeswarm.core.clock import NS_PER_SECOND

T0 = 1_704_205_800 * NS_PER_SECOND
TIMEOUT_NS = 300 * NS_PER_SECOND
