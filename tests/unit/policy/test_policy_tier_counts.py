"""Which tier decided how many requests: ``count_tiers`` / ``tier_counts`` on the facade,
``batch_tiers`` limiting the batch path, and the CLI flags that report and force them
(``policy test --tiers --batch-tiers``, ``policy eval --tiers``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tradeswarm.cli.main import app
from tradeswarm.core.errors import ConfigurationError
from tradeswarm.policy import PreparedRequest, compile_policies
from tradeswarm.risk.policyset import bundled_text, sample_entities, sample_requests

POLICIES = """
forbid (principal, action, resource) when { context.qty > 100 };
permit (principal, action == Action::"trade", resource);
"""  # policy0, policy1
SCHEMA = """
entity User; entity Stock;
action trade appliesTo { principal: User, resource: Stock, context: { qty: Long } };
"""
ENTITIES: list[dict[str, Any]] = []


def _request(qty: Any) -> dict[str, Any]:
    return {
        "principal": {"type": "User", "id": "ann"},
        "action": {"type": "Action", "id": "trade"},
        "resource": {"type": "Stock", "id": "ACME"},
        "context": {"qty": qty},
    }


def cli(*args: str | Path) -> Any:
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def test_nothing_is_counted_until_asked_and_every_scalar_request_once_after() -> None:
    engine = compile_policies(POLICIES, SCHEMA)
    store = engine.prepare_entities(ENTITIES)
    engine.is_authorized(_request(5), store)
    assert engine.tier_counts() == {}
    engine.count_tiers()
    for qty in (5, 500, 7):
        engine.is_authorized(_request(qty), store)
    assert engine.tier_counts() == {"scalar typed": 3}
    engine.count_tiers()  # starts again from zero
    assert engine.tier_counts() == {}


def test_a_set_without_schema_decides_on_the_generic_tier() -> None:
    engine = compile_policies(POLICIES)
    store = engine.prepare_entities(ENTITIES)
    engine.count_tiers()
    assert engine.is_authorized(_request(500), store).reasons == ("policy0",)
    assert engine.tier_counts() == {"scalar generic": 1}


def test_a_failed_context_binding_is_counted_as_the_generic_fallback() -> None:
    engine = compile_policies(POLICIES, SCHEMA)
    store = engine.prepare_entities(ENTITIES)
    good = engine.prepare_request(_request(5))
    engine.count_tiers()
    engine.decide_prepared(good, store)
    # checked, yet its context lacks the attribute the typed code binds: the generic
    # program decides (and reports the missing attribute as Cedar does)
    broken = PreparedRequest(good.principal, good.action, good.resource, {}, True)
    answer = engine.decide_prepared(broken, store)
    assert answer.error_ids == ("policy0",)
    assert engine.tier_counts() == {"scalar typed": 1, "scalar typed -> generic": 1}


def test_the_trading_set_decides_the_gate_sample_on_the_typed_tier_and_emitted_code() -> None:
    engine = compile_policies(bundled_text("trading.cedar"), bundled_text("trading.cedarschema"))
    store = engine.prepare_entities(sample_entities())
    requests = sample_requests(200, 3)
    engine.count_tiers()
    for request in requests:
        engine.is_authorized(request, store)
    list(engine.is_authorized_batch(requests, store))
    policies = len(engine.policy_ids)
    assert engine.tier_counts() == {"scalar typed": 200, "batch emit": 200 * policies}
    assert set(engine.batch_plan().values()) == {"emit"}


@pytest.mark.parametrize(
    ("tiers", "counted"),
    [
        (("emit", "closures", "rows"), "batch emit"),
        (("closures", "rows"), "batch closures"),
        (("emit", "rows"), "batch emit"),
        (("rows",), "batch rows"),
    ],
)
def test_batch_tiers_limit_the_batch_path_and_the_answer_is_the_same(
    tiers: tuple[str, ...], counted: str
) -> None:
    engine = compile_policies(POLICIES, SCHEMA, batch_tiers=tiers)
    store = engine.prepare_entities(ENTITIES)
    engine.count_tiers()
    answers = engine.is_authorized_batch([_request(q) for q in (5, 500, 100, 101)], store)
    assert [a.reasons for a in answers] == [("policy1",), ("policy0",), ("policy1",), ("policy0",)]
    assert engine.tier_counts() == {counted: 2 * 4}  # two policies, four requests


@pytest.mark.parametrize("tiers", [("rows", "emit"), ("emit",), (), ("bogus", "rows")])
def test_batch_tiers_out_of_order_or_unknown_are_refused_naming_the_field(
    tiers: tuple[str, ...],
) -> None:
    with pytest.raises(ConfigurationError, match=r"batch_tiers=.*ordered subset"):
        compile_policies(POLICIES, SCHEMA, batch_tiers=tiers)


def _suite(tmp_path: Path) -> Path:
    """A Cedar integration-test folder of one file, in cedar-integration-tests' format."""
    (tmp_path / "p.cedar").write_text(POLICIES)
    (tmp_path / "s.cedarschema").write_text(SCHEMA)
    (tmp_path / "e.json").write_text(json.dumps(ENTITIES))
    requests = [
        {**_request(q), "decision": d, "reason": [r], "errors": []}
        for q, d, r in ((5, "allow", "policy1"), (500, "deny", "policy0"))
    ]
    spec = {
        "policies": "p.cedar",
        "schema": "s.cedarschema",
        "entities": "e.json",
        "shouldValidate": True,
        "requests": requests,
    }
    (tmp_path / "test.json").write_text(json.dumps(spec))
    return tmp_path


def test_policy_test_reports_tiers_only_when_asked(tmp_path: Path) -> None:
    root = _suite(tmp_path)
    plain = json.loads(cli("policy", "test", root, "--json").stdout)
    assert plain["passed"] == 2 and "tiers" not in plain
    shown = json.loads(cli("policy", "test", root, "--json", "--tiers").stdout)
    assert shown["tiers"] == {"batch emit": 4, "scalar typed": 2}
    forced = cli("policy", "test", root, "--json", "--tiers", "--batch-tiers", "rows")
    assert json.loads(forced.stdout)["tiers"] == {"batch rows": 4, "scalar typed": 2}


def test_policy_test_refuses_bad_batch_tiers_naming_the_option(tmp_path: Path) -> None:
    result = cli("policy", "test", _suite(tmp_path), "--batch-tiers", "emit,closures")
    assert result.exit_code == 2
    assert "--batch-tiers=('emit', 'closures')" in result.stderr


def test_policy_eval_names_the_tier_when_asked(tmp_path: Path) -> None:
    root = _suite(tmp_path)
    args = ["policy", "eval", "--policies", root / "p.cedar", "--entities", root / "e.json"]
    args += ["--schema", root / "s.cedarschema", "--request", json.dumps(_request(500))]
    answer = json.loads(cli(*args, "--json", "--tiers").stdout)
    assert (answer["decision"], answer["tier"]) == ("deny", "scalar typed")
    assert "tier" not in json.loads(cli(*args, "--json").stdout)
    untyped = json.loads(
        cli(*args[:6], "--request", json.dumps(_request(5)), "--json", "--tiers").stdout
    )
    assert (untyped["decision"], untyped["tier"]) == ("allow", "scalar generic")
