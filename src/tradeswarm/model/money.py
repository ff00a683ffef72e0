"""Decimal money, price and quantity helpers that refuse floats, NaN and infinity."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from tradeswarm.core.errors import InvalidInput

CENT = Decimal("0.01")
PRICE_TICK = Decimal("0.0001")
ZERO = Decimal(0)


def to_decimal(value: object, field: str) -> Decimal:
    """Convert str/int/Decimal to a finite Decimal; name the field on failure.

    Floats are refused: money never passes through binary floating point.
    """
    if isinstance(value, bool | float):
        raise InvalidInput(field, value, "must be a decimal string or integer, not a float")
    if isinstance(value, Decimal):
        dec = value
    elif isinstance(value, int | str):
        try:
            dec = Decimal(value)
        except InvalidOperation as err:
            raise InvalidInput(field, value, "not a number") from err
    else:
        raise InvalidInput(field, value, f"unsupported type {type(value).__name__}")
    if not dec.is_finite():
        raise InvalidInput(field, value, "must be finite (not NaN or infinity)")
    return dec


def require_positive(value: Decimal, field: str) -> Decimal:
    if not value.is_finite() or value <= 0:
        raise InvalidInput(field, value, "must be a finite number greater than zero")
    return value


def round_money(value: Decimal) -> Decimal:
    """Round to cents, banker's rounding."""
    return value.quantize(CENT, rounding=ROUND_HALF_EVEN)


def round_price(value: Decimal) -> Decimal:
    return value.quantize(PRICE_TICK, rounding=ROUND_HALF_EVEN)
