"""The Cedar reference engine (Rust, through cedarpy) behind the PolicyEngine protocol.

It is the oracle the compiled engine is tested against, and a fallback for anything the
compiler refuses. About 50–200 µs per decision from Python: too slow for the hot path.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import cedarpy

from tradeswarm.policy.decision import Decision, PolicyError, Response, derive_outcome


def _uid(value: Any) -> str:
    if isinstance(value, str):
        return value
    return f"{value['type']}::{json.dumps(value['id'])}"


def _error(text: str) -> PolicyError:
    # cedarpy reports "error while evaluating policy `policy0`: <message>"
    head, _, message = text.partition(": ")
    policy_id = head.split("`")[1] if "`" in head else ""
    return PolicyError(policy_id=policy_id, message=message or text)


class ReferenceEngine:
    """Decides with cedarpy; same ``Response`` as the compiled engine."""

    def __init__(self, policies: str, schema: str | dict[str, Any] | None = None) -> None:
        self.policies = cedarpy.PolicySet.from_str(policies)
        self.schema = schema
        parsed = json.loads(cedarpy.policies_to_json_str(policies))
        self.annotations: dict[str, dict[str, str]] = {
            pid: dict(p.get("annotations") or {})
            for pid, p in parsed.get("staticPolicies", {}).items()
        }

    def _cedar_request(self, request: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "principal": _uid(request["principal"]),
            "action": _uid(request["action"]),
            "resource": _uid(request["resource"]),
            "context": request.get("context") or {},
        }

    def _response(self, result: cedarpy.AuthzResult) -> Response:
        decision = Decision.ALLOW if result.allowed else Decision.DENY
        reasons = tuple(sorted(result.diagnostics.reasons))
        errors = tuple(_error(e) for e in result.diagnostics.errors)
        outcome, review = derive_outcome(decision, reasons, self.annotations)
        return Response(decision, reasons, errors, outcome, review)

    def is_authorized(self, request: Mapping[str, Any], entities: Any = None) -> Response:
        result = cedarpy.is_authorized(
            self._cedar_request(request), self.policies, entities or [], self.schema
        )
        return self._response(result)

    def is_authorized_batch(
        self, requests: Sequence[Mapping[str, Any]], entities: Any = None
    ) -> list[Response]:
        reqs = [self._cedar_request(r) for r in requests]
        results = cedarpy.is_authorized_batch(reqs, self.policies, entities or [], self.schema)
        return [self._response(r) for r in results]
