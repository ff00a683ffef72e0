from __future__ import annotations

from decimal import Decimal

import pytest
from paper_kit import config

from tradeswarm.brokers.paper_config import PaperBrokerConfig
from tradeswarm.core.config import convert_config
from tradeswarm.core.errors import ConfigurationError


def test_defaults() -> None:
    cfg = config()
    assert cfg.fee_bps == Decimal(1) and cfg.fee_min == Decimal(1)
    assert cfg.slippage_bps == Decimal(1) and cfg.participation == Decimal("0.1")
    assert cfg.rate_limit_per_sec == 50 and cfg.allow_short is False


@pytest.mark.parametrize("value", ["0", "-0.1", "1.5", "NaN"])
def test_participation_must_be_in_unit_interval(value: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        config(participation=Decimal(value))
    assert "participation" in info.value.field
    assert str(info.value.value) == value


def test_participation_of_one_is_allowed() -> None:
    assert config(participation=Decimal(1)).participation == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [("initial_cash", Decimal(-1)), ("fee_bps", Decimal(-1)), ("rate_limit_per_sec", 0)],
)
def test_other_fields_are_validated(field: str, value: object) -> None:
    with pytest.raises(ConfigurationError, match=field):
        config(**{field: value})


def test_loads_from_a_mapping_via_convert_config() -> None:
    raw = {"initial_cash": "250000", "symbols": ["ES"], "participation": "0.25"}
    cfg = convert_config(raw, PaperBrokerConfig)
    assert cfg.initial_cash == Decimal("250000") and cfg.participation == Decimal("0.25")
    with pytest.raises(ConfigurationError, match="participation"):
        convert_config({**raw, "participation": "2"}, PaperBrokerConfig)
    with pytest.raises(ConfigurationError):
        convert_config({**raw, "bogus": 1}, PaperBrokerConfig)
