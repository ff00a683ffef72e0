"""The context is read as the schema declares it, exactly as cedarpy reads it."""

from __future__ import annotations

import json
from typing import Any

import cedarpy
import pytest

from shared_data import CEDAR_DATA
from tradeswarm.core.errors import InvalidInput
from tradeswarm.policy import Response, compile_policies
from tradeswarm.policy.reference import ReferenceEngine

CEDAR = CEDAR_DATA
SCHEMA = (CEDAR / "sample-data" / "sandbox_a" / "schema.cedarschema").read_text()
ENTITIES = json.loads((CEDAR / "sample-data" / "sandbox_a" / "entities.json").read_text())
POLICIES = (
    'permit(principal, action == Action::"view", resource) when {\n'
    '  context.source_ip.isInRange(ip("222.222.222.0/24")) &&\n'
    '  context.confidence_score.greaterThan(decimal("0.5")) && context.authenticated\n};\n'
)


def _request(context: dict[str, Any]) -> dict[str, Any]:
    return {
        "principal": {"type": "User", "id": "alice"},
        "action": {"type": "Action", "id": "view"},
        "resource": {"type": "Photo", "id": "VacationPhoto94.jpg"},
        "context": context,
    }


def _cedarpy(context: dict[str, Any]) -> Response:
    request = _request(context)
    return ReferenceEngine(POLICIES, SCHEMA).is_authorized(request, ENTITIES)


@pytest.mark.parametrize(("score", "ip"), [("0.6", "222.222.222.222"), ("0.4", "222.222.222.1")])
def test_strings_become_the_extension_values_the_schema_declares(score: str, ip: str) -> None:
    context = {"source_ip": ip, "confidence_score": score, "authenticated": True}
    engine = compile_policies(POLICIES, SCHEMA)
    expected = _cedarpy(context)
    assert expected.errors == ()
    for got in (
        engine.is_authorized(_request(context), ENTITIES),
        engine.is_authorized_batch([_request(context)], ENTITIES)[0],
    ):
        assert (got.decision, got.reasons, got.errors) == (
            expected.decision,
            expected.reasons,
            (),
        )


def test_the_shared_ip_test_file_passes_with_its_string_decimal() -> None:
    test = json.loads((CEDAR / "tests" / "ip" / "3.json").read_text())
    assert any(type(r["context"].get("confidence_score")) is str for r in test["requests"])
    engine = compile_policies((CEDAR / test["policies"]).read_text(), SCHEMA)
    for request in test["requests"]:
        assert engine.is_authorized(request, ENTITIES).decision == request["decision"]


@pytest.mark.parametrize(
    ("context", "attribute"),
    [
        (
            {"source_ip": "222.222.222.222", "confidence_score": "abc", "authenticated": True},
            "confidence_score",
        ),
        (
            {"source_ip": "222.222.222.222", "confidence_score": 5, "authenticated": True},
            "confidence_score",
        ),
        ({"source_ip": "not an ip", "confidence_score": "0.6", "authenticated": True}, "source_ip"),
        (
            {"source_ip": "1.2.3.4", "confidence_score": "0.6", "authenticated": "yes"},
            "authenticated",
        ),
        ({"source_ip": "1.2.3.4", "confidence_score": "0.6", "authenticated": True, "x": 1}, "x"),
    ],
)
def test_a_context_cedarpy_refuses_is_refused_naming_the_attribute(
    context: dict[str, Any], attribute: str
) -> None:
    request = _request(context)
    result = cedarpy.is_authorized(
        {
            **request,
            **{k: f'{v["type"]}::"{v["id"]}"' for k, v in request.items() if k != "context"},
        },
        cedarpy.PolicySet.from_str(POLICIES),
        json.dumps(ENTITIES),
        SCHEMA,
    )
    assert not result.allowed and "failed to build request" in " ".join(result.diagnostics.errors)
    engine = compile_policies(POLICIES, SCHEMA)
    for decide in (engine.is_authorized, lambda r, e: engine.is_authorized_batch([r], e)):
        with pytest.raises(InvalidInput) as caught:
            decide(request, ENTITIES)
        assert caught.value.field == f"context.{attribute}"
        assert caught.value.value == context[attribute]
