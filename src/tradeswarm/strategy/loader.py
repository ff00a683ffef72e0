"""Strategies named by import path in the config, loaded and their params validated."""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path
from typing import Any

import msgspec

from tradeswarm.core.config import ConfigBase, convert_config
from tradeswarm.core.errors import ConfigurationError
from tradeswarm.strategy.api import Strategy

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


class StrategySpec(ConfigBase, frozen=True):
    """One ``[[strategies]]`` table.

    class: ``"package.module:ClassName"``; symbols: what it trades and sees; params: its
    `Params`; name: its agent identity (default ``strategy-<n>``, 1-based, in config
    order): the principal the gate decides for and the attribution of its trades; tier:
    the risk tier whose ``max_trade_size`` applies to it."""

    class_: str = msgspec.field(name="class")
    symbols: list[str]
    params: dict[str, Any] = msgspec.field(default_factory=dict)
    name: str | None = None
    tier: str = "professional"


def _import(path: str, field: str, search: list[Path]) -> type[Strategy]:
    module_name, sep, attr = path.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigurationError(field, path, "expected 'package.module:ClassName'")
    for folder in search:  # the user's own files: beside the config, then the cwd
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ConfigurationError(field, path, f"cannot import {module_name}: {err}") from err
    found = getattr(module, attr, None)
    if not (isinstance(found, type) and issubclass(found, Strategy)):
        raise ConfigurationError(field, path, "not a subclass of tradeswarm.strategy.Strategy")
    return found


def load_strategies(
    specs: list[StrategySpec], search: list[Path] | None = None
) -> list[tuple[str, StrategySpec, Strategy]]:
    """(name, spec, instance) per spec; every error names the strategies[k] field."""
    folders = search if search is not None else [Path.cwd()]
    out: list[tuple[str, StrategySpec, Strategy]] = []
    seen: set[str] = set()
    for k, spec in enumerate(specs):
        where = f"strategies[{k}]"
        name = spec.name or f"strategy-{k + 1}"
        if not _NAME.match(name):
            raise ConfigurationError(f"{where}.name", name, "lower-case letters, digits, . _ -")
        if name in seen:
            raise ConfigurationError(f"{where}.name", name, "two strategies share this name")
        seen.add(name)
        if not spec.symbols:
            raise ConfigurationError(f"{where}.symbols", [], "name at least one symbol")
        cls = _import(spec.class_, f"{where}.class", folders)
        params = convert_config(spec.params, cls.Params, source=f"{where}.params")
        try:
            instance = cls(params)
        except Exception as err:
            raise ConfigurationError(where, spec.class_, f"constructor failed: {err}") from err
        out.append((name, spec, instance))
    return out
