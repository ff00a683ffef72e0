"""Requests as runtime values: the context parsed from Cedar JSON, schema-directed.

With a schema, each context attribute is read as the schema declares it, as cedarpy does:
a JSON string becomes a decimal / ipaddr / datetime / duration where the schema says so,
``{"type", "id"}`` becomes an entity where it says entity, and a value of the wrong type
or an attribute the schema does not declare refuses the request with an error naming the
attribute and the value (cedarpy refuses such a request too). The declared types are asked
of cedarpy's validator (one probe per attribute, cached), so there is no second schema
parser here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cedarpy

from tradeswarm.core.errors import InvalidInput
from tradeswarm.policy.convert import (
    MAX_SHAPES,
    Check,
    Convert,
    DecimalCache,
    ShapeCache,
    generate,
    generate_check,
    str_set,
)
from tradeswarm.policy.entities import from_json, to_uid
from tradeswarm.policy.runtime import FUNCTIONS
from tradeswarm.policy.values import CSet, DateTime, Decimal, Duration, EvalError, IpAddr, Uid


@dataclass(frozen=True, slots=True)
class PreparedRequest:
    """principal, action, resource as Uids and the context as runtime values."""

    principal: Uid
    action: Uid
    resource: Uid
    context: dict[str, Any]
    # True only when every context value has the type the schema declares for the action
    # (the schema-directed parser made it): the scalar path may then use typed code.
    checked: bool = False


# Each probe validates only when X has the named type (Cedar's strict validator).
PROBES = {
    "bool": "!X",
    "long": "X + 1 > 0",
    "string": 'X like "*"',
    "decimal": 'X.lessThan(decimal("0.0"))',
    "ipaddr": "X.isIpv4()",
    "datetime": "X.toDate() == X.toDate()",
    "duration": "X.toMilliseconds() == 0",
    "set": "X.isEmpty()",
    "entity": "X in X",
    "record": "X has zz__probe",  # after entity: `has` validates on an entity too
}
EXTENSIONS = {"decimal": Decimal, "ipaddr": IpAddr, "datetime": DateTime, "duration": Duration}
UNDECLARED = "undeclared"
UNKNOWN = "unknown"


class SchemaTypes:
    """The declared type (a PROBES key) of a context path for an action, asked of cedarpy."""

    def __init__(self, schema: str | dict[str, Any]) -> None:
        self.schema = json.dumps(schema) if isinstance(schema, dict) else schema
        self._kinds: dict[tuple[Uid, tuple[str, ...]], str] = {}
        self._actions: dict[Uid, bool] = {}

    def _valid(self, action: Uid, bodies: list[str]) -> list[bool]:
        head = f"permit(principal, action == {action!r}, resource) when {{ "
        text = "\n".join(f"{head}{body} }};" for body in bodies)
        try:
            result = cedarpy.validate_policies(text, self.schema)
        except ValueError:
            return [False] * len(bodies)
        bad = {e.policy_id for e in result.errors}
        return [f"policy{i}" not in bad for i in range(len(bodies))]

    def declares(self, action: Uid) -> bool:
        """Whether the schema declares the action (so its context has declared types)."""
        if action not in self._actions:
            self._actions[action] = self._valid(action, ["true"])[0]
        return self._actions[action]

    def required(self, action: Uid, path: tuple[str, ...]) -> bool:
        """Whether the attribute must be present (reading it needs no ``has`` guard)."""
        key = (action, ("?required", *path))
        found = self._kinds.get(key)
        if found is None:
            guards = "".join(
                f"{_access(path[:i])} has {_literal(path[i])} && " for i in range(len(path) - 1)
            )
            expr = _access(path)
            ok = self.declares(action) and self._valid(action, [f"{guards}{expr} == {expr}"])[0]
            found = self._kinds[key] = "yes" if ok else "no"
        return found == "yes"

    def kind(self, action: Uid, path: tuple[str, ...]) -> str:
        key = (action, path)
        found = self._kinds.get(key)
        if found is None:
            if not self.declares(action):
                found = UNKNOWN  # an action the schema does not declare: leave it to Cedar
            else:
                expr = _access(path)
                guards = [
                    f"{_access(path[:i])} has {_literal(path[i])} && " for i in range(len(path))
                ]
                bodies = ["".join(guards) + p.replace("X", expr) for p in PROBES.values()]
                valid = self._valid(action, bodies)
                found = next((k for k, ok in zip(PROBES, valid, strict=True) if ok), UNDECLARED)
            self._kinds[key] = found
        return found


def _literal(text: str) -> str:
    """A Cedar string literal (anything outside printable ASCII escaped as \\u{...})."""
    out = []
    for ch in text:
        printable = " " <= ch <= "~" and ch not in '"\\'
        out.append(ch if printable else f"\\u{{{ord(ch):x}}}")
    return '"' + "".join(out) + '"'


def _access(path: tuple[str, ...]) -> str:
    return "context" + "".join(f"[{_literal(name)}]" for name in path)


def _wrong(where: str, value: Any, kind: str) -> InvalidInput:
    return InvalidInput(where, value, f"the schema declares {kind}; got {type(value).__name__}")


class ContextParser:
    """Cedar JSON context -> runtime record; with a schema, the action's context type directs it."""

    def __init__(self, schema: str | dict[str, Any] | None) -> None:
        self.schema = schema
        self.types = SchemaTypes(schema) if schema is not None else None
        self.shapes = ShapeCache(self._generate)
        self._decimals = DecimalCache()
        self._checks: dict[tuple[Uid, tuple[str, ...], tuple[str, ...]], Check] = {}

    def parse(self, context: Any, action: Uid) -> dict[str, Any]:
        if context is None:
            return {}
        if not isinstance(context, Mapping):
            raise InvalidInput("request.context", context, "expected a JSON object")
        if self.types is None:
            return {k: from_json(v, f"context.{k}") for k, v in context.items()}
        return self._record(context, action, ())

    def _record(
        self, record: Mapping[str, Any], action: Uid, path: tuple[str, ...]
    ) -> dict[str, Any]:
        """The record through its shape's generated converter (see ``convert``)."""
        return self.shapes.get(action, path, tuple(record))(record, action)  # type: ignore[arg-type]

    def interpret(self, record: Mapping[str, Any], action: Uid) -> dict[str, Any]:
        """The context attribute by attribute, without the generated converters."""
        return {k: self.value(v, action, (k,)) for k, v in record.items()}

    def _generate(self, action: Uid, path: tuple[str, ...], names: tuple[str, ...]) -> Convert:
        assert self.types is not None
        kinds = [self.types.kind(action, (*path, name)) for name in names]
        namespace = {
            "_dec": self._decimals.parse,
            "_str_set": str_set,
            "_uid": to_uid,
            "_slow": self.value,
            "_record": self._record,
            "EvalError": EvalError,
        }
        return generate(names, kinds, path, namespace)

    def check(self, record: Any, action: Uid, path: tuple[str, ...] = ()) -> bool:
        """Whether a context of runtime values (not JSON) has exactly the types the schema
        declares for the action, as this parser would have made them; then it may be
        decided on the typed path as it is (``PreparedRequest.checked``)."""
        if self.types is None or not self.types.declares(action):
            return False
        key = (action, path, tuple(record))
        check = self._checks.get(key)
        if check is None:
            kinds = [self.types.kind(action, (*path, name)) for name in key[2]]
            if len(self._checks) >= MAX_SHAPES:
                self._checks.clear()
            check = self._checks[key] = generate_check(key[2], kinds, path, {"_check": self.check})
        return check(record, action)

    def value(self, value: Any, action: Uid, path: tuple[str, ...]) -> Any:
        """One attribute as the schema declares it (the interpretive parser)."""
        return self._value(value, action, path)

    def _value(self, value: Any, action: Uid, path: tuple[str, ...]) -> Any:
        assert self.types is not None
        where = "context." + ".".join(path)
        kind = self.types.kind(action, path)
        if kind == UNKNOWN:
            return from_json(value, where)
        if kind == UNDECLARED:
            raise InvalidInput(where, value, "the schema does not declare this context attribute")
        if kind == "record":
            if type(value) is not dict or "__extn" in value or "__entity" in value:
                raise _wrong(where, value, "a record")
            return {k: self._value(v, action, (*path, k)) for k, v in value.items()}
        if kind in EXTENSIONS:
            return _extension(value, kind, where)
        if kind == "entity":
            return to_uid(value, where)
        parsed = from_json(value, where)
        expected = {"bool": bool, "long": int, "string": str, "set": CSet}[kind]
        if type(parsed) is not expected:
            raise _wrong(where, value, kind)
        return parsed


def _extension(value: Any, kind: str, where: str) -> Any:
    if type(value) is str:
        try:
            return FUNCTIONS[kind](value)
        except EvalError as exc:
            raise InvalidInput(where, value, f"not a {kind}: {exc}") from exc
    parsed = from_json(value, where)
    if type(parsed) is not EXTENSIONS[kind]:
        raise _wrong(where, value, kind)
    return parsed
