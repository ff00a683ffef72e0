"""Operations the generated evaluators call: each checks Cedar's types and raises
``EvalError`` exactly where Cedar reports an evaluation error."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from typing import Any

from tradeswarm.policy.values import (
    DAY_MS,
    LOOPBACK,
    MULTICAST,
    CSet,
    DateTime,
    Decimal,
    Duration,
    EvalError,
    IpAddr,
    Uid,
    check_i64,
    key,
    trunc_div,
    type_name,
)


class Entity:
    """One entity: attributes, every ancestor (transitively), tags."""

    __slots__ = ("ancestors", "attrs", "tags", "uid")

    def __init__(
        self, uid: Uid, attrs: dict[str, Any], ancestors: frozenset[Uid], tags: dict[str, Any]
    ) -> None:
        self.uid = uid
        self.attrs = attrs
        self.ancestors = ancestors
        self.tags = tags


Store = Mapping[Uid, Entity]


def type_error(expected: str, value: Any) -> EvalError:
    return EvalError(f"type error: expected {expected}, got {type_name(value)}")


def b(x: Any) -> bool:
    if x is True or x is False:
        return bool(x)
    raise type_error("bool", x)


def not_(x: Any) -> bool:
    return not b(x)


def long(x: Any) -> int:
    if type(x) is int:
        return x
    raise type_error("long", x)


def neg(x: Any) -> int:
    return check_i64(-long(x), "negation")


def add(x: Any, y: Any) -> int:
    return check_i64(long(x) + long(y), "addition")


def sub(x: Any, y: Any) -> int:
    return check_i64(long(x) - long(y), "subtraction")


def mul(x: Any, y: Any) -> int:
    return check_i64(long(x) * long(y), "multiplication")


def _ordered(x: Any, y: Any) -> tuple[int, int]:
    tx = type(x)
    if tx is int and type(y) is int:
        return x, y
    if tx is not int and tx is type(y) and tx in (DateTime, Duration):
        return x.ms, y.ms
    bad = y if tx in (int, DateTime, Duration) else x
    raise type_error("one of [long, datetime, duration]", bad)


def lt(x: Any, y: Any) -> bool:
    a, c = _ordered(x, y)
    return a < c


def le(x: Any, y: Any) -> bool:
    a, c = _ordered(x, y)
    return a <= c


def gt(x: Any, y: Any) -> bool:
    a, c = _ordered(x, y)
    return a > c


def ge(x: Any, y: Any) -> bool:
    a, c = _ordered(x, y)
    return a >= c


def entity(x: Any, store: Store) -> Entity:
    if type(x) is not Uid:
        raise type_error("entity", x)
    found = store.get(x)
    if found is None:
        raise EvalError(f"entity `{x!r}` does not exist")
    return found


def attr(x: Any, name: str, store: Store) -> Any:
    if type(x) is dict:
        if name in x:
            return x[name]
        raise EvalError(f"record does not have the attribute `{name}`")
    if type(x) is not Uid:
        raise type_error("entity or record", x)
    attrs = entity(x, store).attrs
    if name in attrs:
        return attrs[name]
    raise EvalError(f"`{x!r}` does not have the attribute `{name}`")


def has(x: Any, name: str, store: Store) -> bool:
    if type(x) is dict:
        return name in x
    if type(x) is not Uid:
        raise type_error("entity or record", x)
    found = store.get(x)
    return found is not None and name in found.attrs


def in_(x: Any, y: Any, store: Store) -> bool:
    if type(x) is not Uid:
        raise type_error("entity", x)
    if type(y) is Uid:
        targets: tuple[Any, ...] = (y,)
    elif type(y) is CSet:
        targets = y.values
        for t in targets:
            if type(t) is not Uid:
                raise type_error("entity", t)
    else:
        raise type_error("entity or set", y)
    found = store.get(x)
    ancestors = found.ancestors if found is not None else frozenset()
    return any(t == x or t in ancestors for t in targets)


def in_one(x: Uid, y: Uid, store: Store) -> bool:
    """Scope ``in``: both sides are known entities, never an error."""
    if x == y:
        return True
    found = store.get(x)
    return found is not None and y in found.ancestors


def in_any(x: Uid, ys: frozenset[Uid], store: Store) -> bool:
    if x in ys:
        return True
    found = store.get(x)
    return found is not None and not ys.isdisjoint(found.ancestors)


def is_(x: Any, type_: str) -> bool:
    if type(x) is not Uid:
        raise type_error("entity", x)
    return bool(x[0] == type_)


def string(x: Any) -> str:
    if type(x) is str:
        return x
    raise type_error("string", x)


def like(x: Any, pattern: re.Pattern[str]) -> bool:
    return pattern.fullmatch(string(x)) is not None


def like_pattern(parts: list[Any]) -> re.Pattern[str]:
    body = "".join(".*" if p == "Wildcard" else re.escape(p["Literal"]) for p in parts)
    return re.compile(body, re.DOTALL)


def cset(x: Any) -> CSet:
    if type(x) is CSet:
        return x
    raise type_error("set", x)


def contains(x: Any, y: Any) -> bool:
    return key(y) in cset(x).keys


def contains_all(x: Any, y: Any) -> bool:
    return cset(y).keys <= cset(x).keys


def contains_any(x: Any, y: Any) -> bool:
    return not cset(x).keys.isdisjoint(cset(y).keys)


def is_empty(x: Any) -> bool:
    return not cset(x).values


def get_tag(x: Any, tag: Any, store: Store) -> Any:
    name = string(tag)
    tags = entity(x, store).tags
    if name in tags:
        return tags[name]
    raise EvalError(f"`{x!r}` does not have the tag `{name}`")


def has_tag(x: Any, tag: Any, store: Store) -> bool:
    if type(x) is not Uid:
        raise type_error("entity", x)
    name = string(tag)
    found = store.get(x)
    return found is not None and name in found.tags


def mkset(items: list[Any]) -> CSet:
    return CSet(items)


def _ext(x: Any, cls: type[Any]) -> Any:
    if type(x) is cls:
        return x
    raise type_error(cls.cedar_type, x)


def _dec2(x: Any, y: Any) -> tuple[int, int]:
    return _ext(x, Decimal).v, _ext(y, Decimal).v


def _ip(x: Any) -> IpAddr:
    result: IpAddr = _ext(x, IpAddr)
    return result


def _dt(x: Any) -> DateTime:
    result: DateTime = _ext(x, DateTime)
    return result


def _dur(x: Any) -> Duration:
    result: Duration = _ext(x, Duration)
    return result


def _offset(x: Any, d: Any) -> DateTime:
    return DateTime(check_i64(_dt(x).ms + _dur(d).ms, "offset"))


def _since(x: Any, y: Any) -> Duration:
    return Duration(check_i64(_dt(x).ms - _dt(y).ms, "durationSince"))


def _to_date(x: Any) -> DateTime:
    return DateTime(check_i64(_dt(x).ms // DAY_MS * DAY_MS, "toDate"))


def _to_time(x: Any) -> Duration:
    return Duration(_dt(x).ms % DAY_MS)


def _ctor(cls: Any) -> Callable[[Any], Any]:
    def build(x: Any) -> Any:
        return cls.parse(string(x))

    return build


def _per(unit: int) -> Callable[[Any], int]:
    return lambda x: trunc_div(_dur(x).ms, unit)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "decimal": _ctor(Decimal),
    "ip": _ctor(IpAddr),
    "ipaddr": _ctor(IpAddr),
    "datetime": _ctor(DateTime),
    "duration": _ctor(Duration),
    "lessThan": lambda x, y: operator.lt(*_dec2(x, y)),
    "lessThanOrEqual": lambda x, y: operator.le(*_dec2(x, y)),
    "greaterThan": lambda x, y: operator.gt(*_dec2(x, y)),
    "greaterThanOrEqual": lambda x, y: operator.ge(*_dec2(x, y)),
    "isIpv4": lambda x: _ip(x).version == 4,
    "isIpv6": lambda x: _ip(x).version == 6,
    "isLoopback": lambda x: any(_ip(x).in_range(r) for r in LOOPBACK),
    "isMulticast": lambda x: any(_ip(x).in_range(r) for r in MULTICAST),
    "isInRange": lambda x, y: _ip(x).in_range(_ip(y)),
    "offset": _offset,
    "durationSince": _since,
    "toDate": _to_date,
    "toTime": _to_time,
    "toDays": _per(DAY_MS),
    "toHours": _per(3_600_000),
    "toMinutes": _per(60_000),
    "toSeconds": _per(1000),
    "toMilliseconds": lambda x: _dur(x).ms,
}
