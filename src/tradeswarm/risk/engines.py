"""The gate's policy engine, chosen by config: the compiled engine or cedarpy."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import cedarpy

from tradeswarm.policy import PolicyEngine, compile_policies
from tradeswarm.policy.reference import ReferenceEngine
from tradeswarm.risk.limits import EngineKind
from tradeswarm.risk.policyset import PolicyBundle

Prepare = Callable[[list[dict[str, Any]]], Any]


def make_engine(kind: EngineKind, bundle: PolicyBundle) -> tuple[PolicyEngine, Prepare]:
    """The engine for kind, and how it wants a JSON entity list prepared (parsed once)."""
    if kind is EngineKind.COMPILED:
        compiled = compile_policies(bundle.policies, bundle.schema)
        return compiled, compiled.prepare_entities
    reference = ReferenceEngine(bundle.policies, bundle.schema)
    return reference, _cedarpy_entities


def _cedarpy_entities(entities: list[dict[str, Any]]) -> Any:
    return cedarpy.Entities.from_json_str(json.dumps(entities))
