"""Cedar JSON values and entities, turned into the evaluators' runtime values.

Entities go through cedarpy first (with the schema when there is one): it validates them,
applies schema-directed parsing (a string where the schema says decimal becomes a decimal),
adds the schema's action entities, and writes every ancestor into ``parents``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import cedarpy

from tradeswarm.core.errors import InvalidInput
from tradeswarm.policy.runtime import FUNCTIONS, Entity
from tradeswarm.policy.values import I64_MAX, I64_MIN, CSet, EvalError, Uid


class EntityStore(dict[Uid, Entity]):
    """Entities prepared once: uid -> Entity (attributes, all ancestors, tags)."""


def to_uid(value: Any, field: str = "entity") -> Uid:
    """A request's ``{"type", "id"}`` (or ``__entity`` form, or a Uid) as a Uid."""
    if type(value) is Uid:
        return value
    if isinstance(value, Mapping):
        inner = value.get("__entity", value)
        t, i = inner.get("type"), inner.get("id")
        if isinstance(t, str) and isinstance(i, str):
            return Uid((t, i))
    if isinstance(value, str) and "::" in value:
        head, _, rest = value.rpartition("::")
        if len(rest) >= 2 and rest[0] == rest[-1] == '"':
            return Uid((head, json.loads(rest)))
    raise InvalidInput(field, value, 'expected an entity {"type": ..., "id": ...}')


def from_json(value: Any, where: str = "value") -> Any:
    """A Cedar JSON value (``__entity`` / ``__extn`` escapes) as a runtime value."""
    kind = type(value)
    if kind is str or kind is bool:
        return value
    if kind is int:
        if I64_MIN <= value <= I64_MAX:
            return value
        raise InvalidInput(where, value, "integer does not fit in 64 bits")
    if kind is list:
        return CSet(from_json(v, where) for v in value)
    if kind is dict:
        return _from_object(value, where)
    raise InvalidInput(where, value, f"not a Cedar value ({kind.__name__})")


def _from_object(value: dict[str, Any], where: str) -> Any:
    if "__entity" in value:
        return to_uid(value, where)
    if "__extn" in value:
        return _extension(value["__extn"], where)
    return {k: from_json(v, f"{where}.{k}") for k, v in value.items()}


def _extension(spec: Any, where: str) -> Any:
    fn = spec.get("fn") if isinstance(spec, Mapping) else None
    func: Callable[..., Any] | None = FUNCTIONS.get(fn) if isinstance(fn, str) else None
    if func is None or fn in ("ipaddr",):
        raise InvalidInput(where, spec, "unknown extension function")
    args = spec["args"] if "args" in spec else [spec.get("arg")]
    try:
        return func(*(from_json(a, where) for a in args))
    except (EvalError, TypeError) as exc:
        raise InvalidInput(where, spec, f"bad extension value: {exc}") from exc


def _schema_arg(schema: Any) -> Any:
    if isinstance(schema, dict):
        return json.dumps(schema)
    return schema


def prepare_entities(entities: Any = None, schema: Any = None) -> EntityStore:
    """Parse and validate Cedar JSON entities (a list, a JSON string, or a store) once."""
    if isinstance(entities, EntityStore):
        return entities
    if entities is None:
        entities = []
    text = entities if isinstance(entities, str) else json.dumps(entities)
    try:
        normalized = str(cedarpy.Entities.from_json_str(text, _schema_arg(schema)))
    except ValueError as exc:
        raise InvalidInput("entities", _short(text), str(exc)) from exc
    return _store(json.loads(normalized))


def _short(text: str) -> str:
    return text if len(text) < 120 else text[:117] + "..."


def _store(items: Sequence[Mapping[str, Any]]) -> EntityStore:
    store = EntityStore()
    for item in items:
        u = to_uid(item["uid"], "entities.uid")
        where = f"entities[{u!r}]"
        attrs = {k: from_json(v, f"{where}.{k}") for k, v in (item.get("attrs") or {}).items()}
        tags = {k: from_json(v, f"{where}.tags.{k}") for k, v in (item.get("tags") or {}).items()}
        ancestors = frozenset(to_uid(p, f"{where}.parents") for p in item.get("parents") or ())
        store[u] = Entity(u, attrs, ancestors, tags)
    return store
