"""Config base: frozen msgspec Structs that reject unknown keys, loaded with clear errors."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import msgspec

from tradeswarm.core.errors import ConfigurationError

T = TypeVar("T")


class ConfigBase(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Base for every config section: immutable, typed, no unknown keys."""


def _field_of(err: msgspec.ValidationError) -> str:
    text = str(err)
    marker = "- at `$."
    if marker in text:
        return text.split(marker, 1)[1].rstrip("`")
    return "$"


def _value_at(raw: object, path: str) -> object:
    node = raw
    for part in path.replace("[", ".").replace("]", "").split("."):
        if not part or part == "$":
            continue
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def convert_config(raw: object, kind: type[T], source: str = "config") -> T:
    """Validate a decoded mapping into kind, naming the field and value on failure."""
    try:
        return msgspec.convert(raw, kind, strict=False)
    except msgspec.ValidationError as err:
        field = _field_of(err)
        problem = str(err).split(" - at ", 1)[0]
        unknown = problem.split("unknown field `", 1)
        if len(unknown) == 2:
            key = unknown[1].rstrip("`")
            field = key if field == "$" else f"{field}.{key}"
            problem = "unknown key; check the spelling"
        raise ConfigurationError(f"{source}:{field}", _value_at(raw, field), problem) from err


def load_toml(path: Path, kind: type[T]) -> T:
    """Load a TOML file into a config struct; every failure names the file and field."""
    import tomllib

    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise ConfigurationError("config", str(path), "file not found") from err
    except tomllib.TOMLDecodeError as err:
        raise ConfigurationError("config", str(path), f"not valid TOML: {err}") from err
    return convert_config(raw, kind, source=path.name)
