"""Exact conversion of the gate's numbers into Cedar values.

Cedar has no floats. Money, quantities and ratios travel as Cedar ``decimal`` (a 64-bit
integer of ten-thousandths: 4 fractional digits, range -922337203685477.5808 ..
922337203685477.5807); times travel as ``Long`` nanoseconds.

A context value with more than 4 fractional digits is rounded in the direction that keeps
its policy comparison exact against a limit on the 4-digit grid: a value the policies
test with ``>`` / ``<=`` is rounded up (ceiling), one tested with ``>=`` / ``<`` is
rounded down (floor). For any grid limit L, ``ceil(v) > L`` iff ``v > L`` and
``floor(v) >= L`` iff ``v >= L``. Limits themselves must lie on the grid (checked when
the limits are loaded). A value outside Cedar's range, or not finite, is refused with
``InvalidInput`` naming the field and value: the gate then DENIES, it never guesses.
"""

from __future__ import annotations

import math
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, InvalidOperation, localcontext
from enum import StrEnum
from typing import Any

from tradeswarm.core.errors import InvalidInput

QUANTUM = Decimal("0.0001")
DECIMAL_MAX = Decimal("922337203685477.5807")
DECIMAL_MIN = Decimal("-922337203685477.5808")
LONG_MAX = 2**63 - 1
LONG_MIN = -(2**63)


class Rounding(StrEnum):
    """How a context value meets the 4-digit grid; see the module docstring."""

    UP = ROUND_CEILING
    DOWN = ROUND_FLOOR
    EXACT = "exact"


def _as_decimal(field: str, value: Decimal | float | int) -> Decimal:
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInput(field, value, "must be a finite number")
        return Decimal(value)  # the float's exact binary value, rounded below
    if isinstance(value, Decimal) and not value.is_finite():
        raise InvalidInput(field, value, "must be a finite number")
    return Decimal(value)


def to_grid(field: str, value: Decimal | float | int, rounding: Rounding) -> Decimal:
    """value on Cedar's 4-digit decimal grid, inside Cedar's range, or InvalidInput."""
    exact = _as_decimal(field, value)
    with localcontext() as ctx:
        ctx.prec = 60
        try:
            if rounding is Rounding.EXACT:
                grid = exact.quantize(QUANTUM)
                if grid != exact:
                    raise InvalidInput(field, value, "has more than 4 fractional digits")
            else:
                grid = exact.quantize(QUANTUM, rounding=rounding.value)
        except InvalidOperation as err:
            raise InvalidInput(field, value, _range_problem()) from err
    if not DECIMAL_MIN <= grid <= DECIMAL_MAX:
        raise InvalidInput(field, value, _range_problem())
    return grid


def _range_problem() -> str:
    return f"outside Cedar's decimal range {DECIMAL_MIN} .. {DECIMAL_MAX}"


def cedar_decimal(
    field: str, value: Decimal | float | int, rounding: Rounding = Rounding.EXACT
) -> dict[str, Any]:
    """The Cedar JSON form of a decimal: ``{"__extn": {"fn": "decimal", "arg": "1.2345"}}``."""
    grid = to_grid(field, value, rounding)
    return {"__extn": {"fn": "decimal", "arg": f"{grid:.4f}"}}


def cedar_long(field: str, value: int) -> int:
    """value as a Cedar Long (signed 64-bit), or InvalidInput."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(field, value, "must be an integer")
    if not LONG_MIN <= value <= LONG_MAX:
        raise InvalidInput(field, value, f"outside Cedar's Long range {LONG_MIN} .. {LONG_MAX}")
    return value


def decimal_arg(value: Any) -> Decimal | None:
    """The Decimal inside a Cedar JSON decimal value, or None when value is not one."""
    if isinstance(value, dict) and isinstance(value.get("__extn"), dict):
        ext = value["__extn"]
        if ext.get("fn") == "decimal":
            return Decimal(str(ext.get("arg")))
    return None
