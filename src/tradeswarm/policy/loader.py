"""Load Cedar policy text through cedarpy: syntax tree, validation, error positions.

cedarpy's messages carry no source position; ``sourcemap`` finds it (with cedarpy too).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import cedarpy

from tradeswarm.core.errors import ConfigurationError
from tradeswarm.policy.sourcemap import locate_parse_error, policy_location


class PolicyLoadError(ConfigurationError):
    """Cedar policy text (or schema) that does not parse or validate; names line and column."""

    def __init__(self, what: str, line: int, column: int, problem: str) -> None:
        self.line = line
        self.column = column
        super().__init__(what, f"line {line}, column {column}", problem)


@dataclass(frozen=True, slots=True)
class LoadedPolicies:
    """The policies' syntax trees in Cedar's order (``policy0``, ``policy1``, ...)."""

    text: str
    policies: dict[str, dict[str, Any]]

    @property
    def annotations(self) -> dict[str, dict[str, str]]:
        return {pid: dict(p.get("annotations") or {}) for pid, p in self.policies.items()}


def load_policies(text: str) -> LoadedPolicies:
    """Parse Cedar policy text with cedarpy; a PolicyLoadError says where it fails."""
    if not isinstance(text, str):
        raise ConfigurationError("policies", type(text).__name__, "expected Cedar policy text")
    try:
        est = json.loads(cedarpy.policies_to_json_str(text))
    except ValueError as exc:
        message = str(exc)
        line, column = locate_parse_error(text)
        raise PolicyLoadError("policies", line, column, message) from exc
    policies = dict(est.get("staticPolicies") or {})
    order = sorted(policies, key=lambda pid: (len(pid), pid))
    return LoadedPolicies(text, {pid: policies[pid] for pid in order})


def validation_errors(text: str, schema: str | dict[str, Any]) -> list[str]:
    """cedarpy's validation of the policies against the schema, each error with its position."""
    schema_arg = json.dumps(schema) if isinstance(schema, dict) else schema
    try:
        result = cedarpy.validate_policies(text, schema_arg)
    except ValueError as exc:
        raise ConfigurationError("schema", "<schema>", str(exc)) from exc
    out = []
    for error in result.errors:
        where = ""
        if error.policy_id.startswith("policy") and error.policy_id[6:].isdigit():
            line, column = policy_location(text, error.policy_id)
            where = f"line {line}, column {column}: "
        policy = f"policy {error.policy_id}: " if error.policy_id else ""
        out.append(f"{where}{policy}{error.error}")
    return out
