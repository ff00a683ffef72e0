"""`[trader] strategies` is checked at load time: a misspelt or empty list is refused,
naming the field, the value and the strategies there are (it would otherwise never trade)."""

from __future__ import annotations

import pytest

from tradeswarm.agents.trader import STRATEGIES, STRATEGY_OF_SETUP, TraderConfig
from tradeswarm.core.config import convert_config
from tradeswarm.core.errors import ConfigurationError
from tradeswarm.system.config import SwarmConfig


def test_the_known_strategies_are_the_strategies_of_the_analyzers_setups() -> None:
    assert STRATEGIES == ("mean_reversion", "momentum")
    assert set(STRATEGIES) == set(STRATEGY_OF_SETUP.values())
    assert TraderConfig().strategies == ["momentum", "mean_reversion"]


@pytest.mark.parametrize("strategies", [["momentum"], ["mean_reversion"], list(STRATEGIES)])
def test_any_non_empty_choice_of_known_strategies_is_accepted(strategies: list[str]) -> None:
    assert TraderConfig(strategies=strategies).strategies == strategies


@pytest.mark.parametrize(
    ("strategies", "named"),
    [(["momentun"], "momentun"), (["momentum", "Mean_Reversion"], "Mean_Reversion")],
)
def test_an_unknown_strategy_is_refused_naming_it_and_the_known_ones(
    strategies: list[str], named: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        TraderConfig(strategies=strategies)
    err = caught.value
    assert (err.field, err.value) == ("trader.strategies", named)
    assert "unknown strategy" in err.problem
    assert all(known in err.problem for known in STRATEGIES)


def test_an_empty_list_is_refused_since_the_trader_would_never_trade() -> None:
    with pytest.raises(ConfigurationError) as caught:
        TraderConfig(strategies=[])
    assert (caught.value.field, caught.value.value) == ("trader.strategies", [])
    assert "never trade" in caught.value.problem


def test_the_check_runs_when_a_config_file_is_loaded() -> None:
    with pytest.raises(ConfigurationError, match=r"trader\.strategies='momentun'"):
        convert_config({"trader": {"strategies": ["momentun"]}}, SwarmConfig, "bad.toml")
