"""A user's own policy file: validated at start-up, errors name the file, line and column."""

from __future__ import annotations

from pathlib import Path

import cedarpy
import pytest
from risk_kit import context, intent

from tradeswarm.core.errors import ConfigurationError
from tradeswarm.model.enums import Side, Verdict
from tradeswarm.policy.sourcemap import locate_parse_error, policy_location
from tradeswarm.risk.gate import PolicyGate
from tradeswarm.risk.limits import EngineKind, RiskLimits
from tradeswarm.risk.policyset import bundled_text, load_bundle

BUNDLED = bundled_text("trading.cedar")


def _at(text: str, line: int, column: int) -> str:
    return text.splitlines()[line - 1][column - 1 :]


@pytest.mark.parametrize(
    ("old", "new", "starts_with"),
    [
        (
            "when { context.insider_trading_window }",
            "when { context.insider_trading_window &&& x }",
            "&&&",
        ),
        (
            'action == Action::"SubmitTrade", resource)\nwhen { context.compliance',
            'action == Action::"SubmitTrade" resource)\nwhen { context.compliance',
            "resource)",
        ),
        ("when { context.kill_switch }", "when { context.kill_switch", ";"),
        ('!= "open"', '!== "open"', '= "open"'),
        ("context.order_type) }", "context.order_type)) }", ") }"),
        ('@id("order_type")', '@id("order_type" x', "x"),
    ],
)
def test_parse_error_position_points_at_the_offending_token(
    old: str, new: str, starts_with: str
) -> None:
    assert BUNDLED.count(old) == 1
    bad = BUNDLED.replace(old, new)
    with pytest.raises(ValueError):
        cedarpy.PolicySet.from_str(bad)
    line, column = locate_parse_error(bad)
    assert _at(bad, line, column).startswith(starts_with)


def test_policy_location_finds_each_policy_start() -> None:
    for n in range(18):
        line, column = policy_location(BUNDLED, f"policy{n}")
        assert _at(BUNDLED, line, column).startswith("@id(")


def test_bad_policy_file_stops_start_up_naming_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "mine.cedar"
    path.write_text("permit(principal, action, resource);\n\nforbid(principal, action resource);\n")
    with pytest.raises(ConfigurationError) as err:
        load_bundle(str(path))
    assert err.value.field == "risk.policies"
    assert err.value.value == str(path)
    assert "line 3, column 26" in err.value.problem


def test_policy_failing_schema_validation_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "typo.cedar"
    path.write_text(
        '@id("ok")\npermit(principal, action, resource);\n'
        "// a typo in an attribute\n"
        '@id("typo")\nforbid(principal, action == Action::"SubmitTrade", resource)\n'
        "when { context.kil_switch };\n"
    )
    with pytest.raises(ConfigurationError, match=r"line 4, column 1: .*kil_switch"):
        load_bundle(str(path))


def test_missing_policy_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read the file"):
        load_bundle(str(tmp_path / "nope.cedar"))


def test_bad_schema_file_is_a_configuration_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.cedarschema"
    path.write_text("entity Agent = { tier: ;")
    with pytest.raises(ConfigurationError, match=r"risk\.schema"):
        load_bundle(None, str(path))


@pytest.mark.parametrize("kind", list(EngineKind))
def test_users_own_policy_file_decides_with_its_own_limits(
    tmp_path: Path, kind: EngineKind
) -> None:
    strict = BUNDLED + (
        '\n@id("no_sells")\n@message("this desk only buys")\n'
        'forbid(principal, action == Action::"SubmitTrade", resource)\n'
        'when { context.side == "SELL" };\n'
    )
    path = tmp_path / "strict.cedar"
    path.write_text(strict)
    gate = PolicyGate.from_limits(RiskLimits(policies=str(path), engine=kind))

    sell = intent(1, 100, side=Side.SELL)
    verdict = gate.decide(sell, context(sell, positions={}))
    assert verdict.verdict is Verdict.DENY
    assert "no_sells: this desk only buys" in verdict.reasons
