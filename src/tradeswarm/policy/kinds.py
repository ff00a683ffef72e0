"""The kinds of value every backend reasons about: one vocabulary for the type tags.

A kind says what a compiled expression, a context attribute, an entity-table column or a
batch column holds when it is known. ``ANY`` is a value of no static kind (the generic
code checks it at run time); ``ERR`` marks an input that raised (a leaf of the typed path,
a column of the batch path), whose readers take the generic route.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from tradeswarm.policy.values import CSet, Decimal, Uid


class Kind(StrEnum):
    BOOL = "bool"
    LONG = "long"
    STRING = "str"
    DECIMAL = "decimal"  # a Cedar decimal (the scaled int of ten-thousandths, typed)
    SET = "set"
    ENTITY = "entity"  # an entity uid
    RECORD = "record"
    ANY = "any"  # no static kind: checked at run time
    ERR = "err"  # raised


_OF_TYPE: dict[type, Kind] = {
    bool: Kind.BOOL,
    int: Kind.LONG,
    str: Kind.STRING,
    Decimal: Kind.DECIMAL,
    CSet: Kind.SET,
    Uid: Kind.ENTITY,
    dict: Kind.RECORD,
}

#: Schema type names (cedarpy's validator) -> kinds.
OF_SCHEMA: dict[str, Kind] = {
    "decimal": Kind.DECIMAL,
    "long": Kind.LONG,
    "bool": Kind.BOOL,
    "string": Kind.STRING,
    "set": Kind.SET,
    "entity": Kind.ENTITY,
    "record": Kind.RECORD,
}

#: The kinds ``==`` compares without a helper.
EQUATABLE = (Kind.BOOL, Kind.LONG, Kind.STRING, Kind.DECIMAL, Kind.ENTITY)


def kind_of(value: Any) -> Kind:
    """The kind of a runtime value (``ANY`` for anything else, an extension value say)."""
    return _OF_TYPE.get(type(value), Kind.ANY)
