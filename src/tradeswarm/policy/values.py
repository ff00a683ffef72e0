"""Cedar's runtime values in Python, and the evaluation error.

bool, long and string are Python's bool, int and str (a long is always ``type(x) is int``);
an entity uid is ``Uid`` (a tuple of type and id); a record is a dict; a set is ``CSet``;
the extension values are ``Decimal``, ``IpAddr``, ``DateTime`` and ``Duration``.
Cedar equality is structural and never mixes types (``1 != true``), so sets hash their
elements through ``key``, which keeps a bool apart from a long.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from typing import Any

I64_MIN = -(2**63)
I64_MAX = 2**63 - 1


class EvalError(Exception):
    """A Cedar evaluation error: the policy that raised it is skipped and reported."""


def check_i64(value: int, what: str = "arithmetic") -> int:
    if value < I64_MIN or value > I64_MAX:
        raise EvalError(f"integer overflow while attempting to evaluate {what}")
    return value


class Uid(tuple[str, str]):
    """An entity uid: ``Uid(("Type", "id"))``."""

    __slots__ = ()

    @property
    def type(self) -> str:
        return self[0]

    @property
    def id(self) -> str:
        return self[1]

    def __repr__(self) -> str:
        return f"{self[0]}::{_quote(self[1])}"


def _quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def uid(type_: str, id_: str) -> Uid:
    return Uid((type_, id_))


_BOOL = object()
_REC = object()


def key(value: Any) -> Any:
    """A hashable stand-in equal exactly when the Cedar values are equal."""
    kind = type(value)
    if kind is bool:
        return (_BOOL, value)
    if kind is dict:
        return (_REC, frozenset((k, key(v)) for k, v in value.items()))
    if kind is CSet:
        return value.keys
    return value


class CSet:
    """A Cedar set: deduplicated by Cedar equality, order irrelevant."""

    __slots__ = ("keys", "values")

    def __init__(self, items: Iterable[Any] = ()) -> None:
        seen: dict[Any, Any] = {}
        for item in items:
            seen.setdefault(key(item), item)
        self.keys = frozenset(seen)
        self.values = tuple(seen.values())

    def __eq__(self, other: object) -> bool:
        return type(other) is CSet and self.keys == other.keys

    def __hash__(self) -> int:
        return hash(self.keys)

    def __len__(self) -> int:
        return len(self.values)

    def __contains__(self, item: Any) -> bool:
        return key(item) in self.keys

    def __repr__(self) -> str:
        return "[" + ", ".join(map(repr, self.values)) + "]"


def ceq(a: Any, b: Any) -> bool:
    """Cedar ``==``: never an error, false across types."""
    ta = type(a)
    if ta is not type(b):
        return False
    if ta is dict:
        return a.keys() == b.keys() and all(ceq(v, b[k]) for k, v in a.items())
    return bool(a == b)


def type_name(value: Any) -> str:
    names = {bool: "bool", int: "long", str: "string", Uid: "entity", dict: "record", CSet: "set"}
    name = names.get(type(value))
    return name if name is not None else getattr(value, "cedar_type", type(value).__name__)


class _Ext:
    """Extension values compare by (class, fields); no cross-type equality."""

    __slots__ = ()
    cedar_type = "extension"

    def _fields(self) -> tuple[Any, ...]:
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash((type(self), self._fields()))


_DECIMAL_RE = re.compile(r"(-?)([0-9]+)\.([0-9]+)")


class Decimal(_Ext):
    """Cedar decimal: a signed 64-bit count of ten-thousandths."""

    __slots__ = ("v",)
    cedar_type = "decimal"

    def __init__(self, scaled: int) -> None:
        self.v = scaled

    def _fields(self) -> tuple[Any, ...]:
        return (self.v,)

    @staticmethod
    def parse(text: str) -> Decimal:
        m = _DECIMAL_RE.fullmatch(text) if type(text) is str else None
        if m is None:
            raise EvalError(f"`{text}` is not a well-formed decimal value")
        sign, whole, frac = m.groups()
        if len(frac) > 4:
            raise EvalError(f"too many digits after the decimal in `{text}`")
        scaled = int(whole) * 10_000 + int(frac.ljust(4, "0"))
        scaled = -scaled if sign else scaled
        if scaled < I64_MIN or scaled > I64_MAX:
            raise EvalError("overflow when converting to decimal")
        return Decimal(scaled)

    def __repr__(self) -> str:
        sign = "-" if self.v < 0 else ""
        whole, frac = divmod(abs(self.v), 10_000)
        return f'decimal("{sign}{whole}.{frac:04d}")'


_PREFIX_RE = re.compile(r"[0-9]{1,3}")


class IpAddr(_Ext):
    """Cedar ipaddr: an address with a prefix length (a single address has the full one)."""

    __slots__ = ("addr", "prefix", "version")
    cedar_type = "ipaddr"

    def __init__(self, version: int, addr: int, prefix: int) -> None:
        self.version = version
        self.addr = addr
        self.prefix = prefix

    def _fields(self) -> tuple[Any, ...]:
        return (self.version, self.addr, self.prefix)

    @property
    def bits(self) -> int:
        return 32 if self.version == 4 else 128

    def span(self) -> tuple[int, int]:
        host = (1 << (self.bits - self.prefix)) - 1
        start = self.addr & ~host
        return start, start | host

    def in_range(self, other: IpAddr) -> bool:
        if self.version != other.version:
            return False
        start, end = self.span()
        ostart, oend = other.span()
        return start >= ostart and end <= oend

    @staticmethod
    def parse(text: str) -> IpAddr:
        if type(text) is not str:
            raise EvalError(f"invalid IP address: {text!r}")
        addr_text, slash, prefix_text = text.partition("/")
        if ":" in addr_text and "." in addr_text:
            raise EvalError(f"We do not accept IPv4 embedded in IPv6: {text}")
        if "%" in addr_text:
            raise EvalError(f"invalid IP address: {text}")
        try:
            parsed = ipaddress.ip_address(addr_text)
        except ValueError as exc:
            raise EvalError(f"invalid IP address: {text}") from exc
        bits = 32 if parsed.version == 4 else 128
        prefix = bits
        if slash:
            if not _PREFIX_RE.fullmatch(prefix_text) or (
                len(prefix_text) > 1 and prefix_text[0] == "0"
            ):
                raise EvalError(f"error parsing prefix `{prefix_text}`")
            prefix = int(prefix_text)
            if prefix > bits:
                raise EvalError(f"error parsing prefix `{prefix_text}`: too large")
        return IpAddr(parsed.version, int(parsed), prefix)

    def __repr__(self) -> str:
        text = (
            ipaddress.IPv4Address(self.addr)
            if self.version == 4
            else ipaddress.IPv6Address(self.addr)
        )
        return f'ip("{text}/{self.prefix}")'


LOOPBACK = (IpAddr.parse("127.0.0.0/8"), IpAddr.parse("::1"))
MULTICAST = (IpAddr.parse("224.0.0.0/4"), IpAddr.parse("ff00::/8"))

_DATE_RE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_TIME_RE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.([0-9]{3}))?(Z|[+-][0-9]{4})"
)
DAY_MS = 86_400_000


def _days_from_civil(y: int, m: int, d: int) -> int:
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _month_days(y: int, m: int) -> int:
    if m == 2:
        return 29 if (y % 4 == 0 and y % 100 != 0) or y % 400 == 0 else 28
    return 30 if m in (4, 6, 9, 11) else 31


class DateTime(_Ext):
    """Cedar datetime: milliseconds since the Unix epoch (UTC), 64-bit."""

    __slots__ = ("ms",)
    cedar_type = "datetime"

    def __init__(self, ms: int) -> None:
        self.ms = ms

    def _fields(self) -> tuple[Any, ...]:
        return (self.ms,)

    @staticmethod
    def parse(text: str) -> DateTime:
        if type(text) is not str:
            raise EvalError(f"invalid datetime: {text!r}")
        m = _DATE_RE.fullmatch(text) or _TIME_RE.fullmatch(text)
        if m is None:
            raise EvalError(f"invalid date pattern: {text}")
        parts = m.groups()
        y, mo, d = int(parts[0]), int(parts[1]), int(parts[2])
        if not 1 <= mo <= 12 or not 1 <= d <= _month_days(y, mo):
            raise EvalError(f"invalid date: {text}")
        ms = _days_from_civil(y, mo, d) * DAY_MS
        if len(parts) > 3:
            hh, mm, ss = int(parts[3]), int(parts[4]), int(parts[5])
            if hh > 23 or mm > 59 or ss > 59:
                raise EvalError(f"invalid hour/minute/second: {text}")
            ms += ((hh * 60 + mm) * 60 + ss) * 1000 + int(parts[6] or 0)
            ms -= _offset_ms(parts[7], text)
        return DateTime(check_i64(ms, "datetime"))

    def __repr__(self) -> str:
        return f"datetime({self.ms}ms)"


def _offset_ms(zone: str, text: str) -> int:
    if zone == "Z":
        return 0
    hh, mm = int(zone[1:3]), int(zone[3:5])
    if hh > 23 or mm > 59:
        raise EvalError(f"invalid offset range: {text}")
    minutes = hh * 60 + mm
    return (minutes if zone[0] == "+" else -minutes) * 60_000


_DURATION_RE = re.compile(
    r"(-?)(?:([0-9]+)d)?(?:([0-9]+)h)?(?:([0-9]+)m(?!s))?(?:([0-9]+)s)?(?:([0-9]+)ms)?"
)
_UNITS = (DAY_MS, 3_600_000, 60_000, 1000, 1)


class Duration(_Ext):
    """Cedar duration: a signed 64-bit count of milliseconds."""

    __slots__ = ("ms",)
    cedar_type = "duration"

    def __init__(self, ms: int) -> None:
        self.ms = ms

    def _fields(self) -> tuple[Any, ...]:
        return (self.ms,)

    @staticmethod
    def parse(text: str) -> Duration:
        m = _DURATION_RE.fullmatch(text) if type(text) is str else None
        if m is None or all(g is None for g in m.groups()[1:]):
            raise EvalError(f"invalid duration pattern: {text!r}")
        total = sum(int(g) * u for g, u in zip(m.groups()[1:], _UNITS, strict=True) if g)
        total = -total if m.group(1) else total
        if total < I64_MIN or total > I64_MAX:
            raise EvalError("Duration overflows internal representation")
        return Duration(total)

    def __repr__(self) -> str:
        return f"duration({self.ms}ms)"


def trunc_div(a: int, b: int) -> int:
    q = abs(a) // b
    return -q if a < 0 else q
