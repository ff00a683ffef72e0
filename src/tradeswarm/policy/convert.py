"""Generated context converters: Cedar JSON context -> runtime record, per schema and shape.

With a schema, each context attribute has a declared type per action (asked of cedarpy's
validator, ``requests.SchemaTypes``). Instead of interpreting that per attribute, a
converter is generated once per (action, record path, attribute names in order) — the
*shape*, one or two per action in practice — as straight-line Python: each attribute's
well-formed value (a decimal string or ``__extn``, a bool, a long, a string, a set of
strings, a record) is converted inline, anything else goes to the interpretive parser
(``ContextParser.value``), which accepts or refuses it with the exact error. So the
result is the interpretive parser's, value for value, and only faster.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tradeswarm.policy.values import I64_MAX, I64_MIN, CSet, Decimal, Uid

Convert = Callable[[dict[str, Any], Uid], dict[str, Any]]
MAX_SHAPES = 1024
MAX_DECIMALS = 8192
EMPTY_SET = CSet(())


class DecimalCache:
    """Decimal text -> runtime Decimal (bounded): the same strings recur across requests."""

    def __init__(self) -> None:
        self.cache: dict[str, Decimal] = {}

    def parse(self, text: str) -> Decimal:
        found = self.cache.get(text)
        if found is None:
            found = four_digit_decimal(text) or Decimal.parse(text)  # EvalError when malformed
            if len(self.cache) >= MAX_DECIMALS:
                self.cache.clear()
            self.cache[text] = found
        return found


def four_digit_decimal(text: str) -> Decimal | None:
    """``-?[0-9]+\\.[0-9]{4}`` (the form the gate writes) without the regex; None otherwise."""
    if len(text) < 6 or text[-5] != "." or not text.isascii():
        return None
    digits = text[:-5] + text[-4:]
    body = digits[1:] if digits[0] == "-" else digits
    if len(body) < 5 or not body.isdigit():
        return None
    scaled = int(digits)
    return Decimal(scaled) if I64_MIN <= scaled <= I64_MAX else None


def str_set(items: list[Any]) -> CSet | None:
    """A JSON list of strings as a CSet (None when any element is not a string)."""
    for item in items:
        if type(item) is not str:
            return None
    if not items:
        return EMPTY_SET
    out = CSet.__new__(CSet)
    out.values = tuple(dict.fromkeys(items))
    out.keys = frozenset(out.values)
    return out


def _decimal_line(var: str, name: str) -> list[str]:
    return [
        f"    if type({var}) is dict and len({var}) == 1:",
        f"        _e = {var}.get('__extn')",
        "        if type(_e) is dict and len(_e) == 2 and _e.get('fn') == 'decimal':",
        "            _a = _e.get('arg')",
        "            if type(_a) is str:",
        "                try:",
        f"                    out[{name!r}] = _dec(_a)",
        "                    _ok = True",
        "                except EvalError:",
        "                    _ok = False",
        f"    elif type({var}) is str:",
        "        try:",
        f"            out[{name!r}] = _dec({var})",
        "            _ok = True",
        "        except EvalError:",
        "            _ok = False",
    ]


_SIMPLE = {
    "bool": "type({v}) is bool",
    "long": "type({v}) is int and {lo} <= {v} <= {hi}",
    "string": "type({v}) is str",
}


def _attribute(index: int, name: str, kind: str, path: tuple[str, ...]) -> list[str]:
    """Lines converting one attribute; the interpretive parser when not converted inline."""
    var = f"v{index}"
    lines = [f"    {var} = ctx[{name!r}]", "    _ok = False"]
    if kind in _SIMPLE:
        test = _SIMPLE[kind].format(v=var, lo=I64_MIN, hi=I64_MAX)
        lines += [f"    if {test}:", f"        out[{name!r}] = {var}", "        _ok = True"]
    elif kind == "decimal":
        lines += _decimal_line(var, name)
    elif kind == "set":
        lines += [
            f"    if type({var}) is list:",
            f"        _s = _str_set({var})",
            "        if _s is not None:",
            f"            out[{name!r}] = _s",
            "            _ok = True",
        ]
    elif kind == "record":
        lines += [
            f"    if type({var}) is dict and '__extn' not in {var} and '__entity' not in {var}:",
            f"        out[{name!r}] = _record({var}, A, {(*path, name)!r})",
            "        _ok = True",
        ]
    elif kind == "entity":
        lines += [f"    out[{name!r}] = _uid({var}, {'context.' + '.'.join((*path, name))!r})"]
        lines += ["    _ok = True"]
    lines += ["    if not _ok:", f"        out[{name!r}] = _slow({var}, A, {(*path, name)!r})"]
    return lines


def generate(
    names: tuple[str, ...],
    kinds: list[str],
    path: tuple[str, ...],
    namespace: dict[str, Any],
) -> Convert:
    """The converter of one shape: ``names`` in order, each with its declared kind."""
    lines = ["def _convert(ctx, A):", "    out = {}"]
    for i, (name, kind) in enumerate(zip(names, kinds, strict=True)):
        lines += _attribute(i, name, kind, path)
    lines.append("    return out")
    source = "\n".join(lines) + "\n"
    scope = dict(namespace)
    exec(compile(source, "<cedar context converter>", "exec"), scope)  # our generated code
    convert: Convert = scope["_convert"]
    return convert


class ShapeCache:
    """Converters by (action, path, names); bounded, regenerated when evicted."""

    def __init__(self, make: Callable[[Uid, tuple[str, ...], tuple[str, ...]], Convert]):
        self.make = make
        self.converters: dict[tuple[Uid, tuple[str, ...], tuple[str, ...]], Convert] = {}

    def get(self, action: Uid, path: tuple[str, ...], names: tuple[str, ...]) -> Convert:
        key = (action, path, names)
        found = self.converters.get(key)
        if found is None:
            if len(self.converters) >= MAX_SHAPES:
                self.converters.clear()
            found = self.converters[key] = self.make(action, path, names)
        return found


Check = Callable[[Any, Uid], bool]
_CLASSES = {"decimal": Decimal, "bool": bool, "string": str, "set": CSet, "entity": Uid}


def _check_term(index: int, name: str, kind: str, path: tuple[str, ...]) -> str | None:
    value = f"C[{name!r}]"
    if kind == "long":
        return f"(type(v{index} := {value}) is int and {I64_MIN} <= v{index} <= {I64_MAX})"
    if kind == "set":
        return f"(type(v{index} := {value}) is _CSet and _all_str(v{index}.values))"
    if kind == "record":
        return f"(type(v{index} := {value}) is dict and _check(v{index}, A, {(*path, name)!r}))"
    cls = _CLASSES.get(kind)
    return None if cls is None else f"(type({value}) is _{cls.__name__})"


def generate_check(
    names: tuple[str, ...], kinds: list[str], path: tuple[str, ...], namespace: dict[str, Any]
) -> Check:
    """Whether a record of runtime values has, attribute by attribute, the declared types."""
    terms = [_check_term(i, n, k, path) for i, (n, k) in enumerate(zip(names, kinds, strict=True))]
    if any(t is None for t in terms):  # undeclared, or a type not checked here
        return lambda record, action: False
    body = " and ".join(t for t in terms if t is not None) or "True"
    scope = {f"_{c.__name__}": c for c in _CLASSES.values()} | namespace
    scope["_all_str"] = all_str
    exec(f"def _checker(C, A):\n    return bool({body})\n", scope)  # our generated code
    check: Check = scope["_checker"]
    return check


def all_str(values: tuple[Any, ...]) -> bool:
    return all(type(v) is str for v in values)
