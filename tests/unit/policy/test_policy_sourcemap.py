"""Parse errors are located once (policy.sourcemap) and reported the same by the policy
loader (``tradeswarm policy``) and the risk gate's policy files."""

from __future__ import annotations

from pathlib import Path

import cedarpy
import pytest

from tradeswarm.core.errors import ConfigurationError
from tradeswarm.policy import PolicyLoadError, compile_policies
from tradeswarm.risk.policyset import bundled_text, load_bundle

BUNDLED = bundled_text("trading.cedar")
SCHEMA = bundled_text("trading.cedarschema")
UNTERMINATED = (
    "permit(principal, action, resource);\n"
    'forbid(principal, action, resource) when { context.s == "abc };\n'
    "permit(principal, action, resource);\n"
)


def _bundled_with(old: str, new: str) -> str:
    assert BUNDLED.count(old) == 1
    return BUNDLED.replace(old, new)


def _at(text: str, line: int, column: int) -> str:
    return text.splitlines()[line - 1][column - 1 :]


CASES = [
    # a missing `}`: the parser stops at the `;` that should have followed it (line 27)
    (_bundled_with("when { context.kill_switch }", "when { context.kill_switch"), 27, ";"),
    # an unterminated string: reported where it opens
    (UNTERMINATED, 2, '"abc };'),
    # a token Cedar does not have
    (
        _bundled_with(
            "when { context.insider_trading_window }", "when { context.insider_trading_window # }"
        ),
        155,
        "# };",
    ),
]


@pytest.mark.parametrize(("text", "line", "starts_with"), CASES)
def test_policy_loader_names_the_line_and_column_of_the_parse_error(
    text: str, line: int, starts_with: str
) -> None:
    with pytest.raises(ValueError):
        cedarpy.PolicySet.from_str(text)  # cedarpy agrees the text is broken
    with pytest.raises(PolicyLoadError) as caught:
        compile_policies(text)
    assert caught.value.line == line
    assert _at(text, caught.value.line, caught.value.column).startswith(starts_with)


@pytest.mark.parametrize(("text", "line", "starts_with"), CASES)
def test_risk_policy_file_reports_the_same_position_as_the_policy_loader(
    text: str, line: int, starts_with: str, tmp_path: Path
) -> None:
    path = tmp_path / "desk.cedar"
    path.write_text(text)
    with pytest.raises(PolicyLoadError) as loader:
        compile_policies(text)
    with pytest.raises(ConfigurationError) as gate:
        load_bundle(str(path))
    assert f"line {loader.value.line}, column {loader.value.column}:" in gate.value.problem
    assert loader.value.line == line


def test_validation_error_names_the_line_of_its_policy() -> None:
    text = _bundled_with("context.kill_switch }", "context.kill_switchh }")
    with pytest.raises(ConfigurationError) as caught:
        compile_policies(text, SCHEMA)
    assert "line 24, column 1: policy policy2" in caught.value.problem
    assert _at(text, 24, 1).startswith('@id("kill_switch")')
