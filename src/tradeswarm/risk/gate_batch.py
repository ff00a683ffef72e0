"""A burst of (intent, RiskContext) pairs as the compiled engine's columns, without Cedar
JSON and without a dict per row: ``PolicyGate.decide_batch``'s conversion.

Each context field is read for the whole burst at once (``attrgetter`` over the pairs,
transposed) and converted column by column with the same rules as ``typed_request``:
money and ratios rounded onto Cedar's 4-digit grid in the direction ``MONEY`` says
(``grid_column``: exact, whole columns of Decimals or floats at a time), longs checked
against Cedar's range, strings as categories, the halted symbols as one set per distinct
set, the human approval as an optional record.

A row the columns cannot carry exactly as ``decide`` would see it is *slow*: a value the
grid or Cedar's range refuses (``decide``'s ``context_error`` DENY), a value of an
unexpected type, an instrument whose symbol is not the intent's, or another instrument
under a symbol the burst already holds. The gate decides slow rows one by one with
``decide``, so their verdicts (and exceptions) are exactly its.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal
from itertools import repeat
from operator import attrgetter
from typing import Any

import numpy as np

from tradeswarm.core.errors import InvalidInput
from tradeswarm.model.market import Instrument
from tradeswarm.model.messages import HumanApproval, TradeIntent
from tradeswarm.policy.batch.input import (
    CategoryColumn,
    DecimalColumn,
    RecordColumn,
    SharedSetColumn,
)
from tradeswarm.policy.values import CSet
from tradeswarm.risk.cedar_values import Rounding
from tradeswarm.risk.context import RiskContext
from tradeswarm.risk.policyset import ACTION, MONEY, grid_scaled

Pair = tuple[TradeIntent, RiskContext]
_EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)
#: |value| up to here scales to ten-thousandths well inside int64 (and Cedar's range).
_FAST_BOUND = Decimal(900_000_000_000_000)
_FLOAT_BOUND = 9.0e14
_INT64 = (-(2**63), 2**63 - 1)
_ROUND = {Rounding.UP: math.ceil, Rounding.DOWN: math.floor}


def _per_value(field: str, values: Sequence[Any], rounding: Rounding) -> tuple[Any, Any]:
    """``grid_scaled`` value by value; a row it refuses (or any other exception) is bad."""
    out = np.zeros(len(values), dtype=np.int64)
    bad = np.zeros(len(values), dtype=bool)
    for k, value in enumerate(values):
        try:
            out[k] = grid_scaled(field, value, rounding)
        except (InvalidInput, ArithmeticError, TypeError, ValueError):
            bad[k] = True
    return out, bad


def _decimals(values: Sequence[Decimal], rounding: Rounding) -> tuple[Any, Any]:
    """Finite Decimals of |v| <= _FAST_BOUND on the grid (exact: scaleb is exact at
    unbounded precision, then floor / ceil); None where EXACT has a 5th digit."""
    scaled = list(map(_EXACT.scaleb, values, repeat(4)))
    if rounding is Rounding.EXACT:
        low = np.array(list(map(math.floor, scaled)), dtype=np.int64)
        high = np.array(list(map(math.ceil, scaled)), dtype=np.int64)
        return low, low != high
    whole = np.array(list(map(_ROUND[rounding], scaled)), dtype=np.int64)
    return whole, np.zeros(len(values), dtype=bool)


def _floats(values: Sequence[float], rounding: Rounding) -> tuple[Any, Any, Any]:
    """Floats on the grid in exact integer arithmetic: ``v = m * 2**e`` (``frexp``, m an
    integer of 53 bits), so ``v * 10**4 = (m * 625) * 2**(e + 4)`` with ``m * 625`` inside
    int64, and a shift right floors. Not finite or |v| > _FLOAT_BOUND: ``unsure`` (left to
    ``grid_scaled``, which refuses them with its own message)."""
    v = np.array(values, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        unsure = ~np.isfinite(v) | (np.abs(v) > _FLOAT_BOUND)
        frac, exp = np.frexp(np.where(unsure, 0.0, v))
    m625 = np.ldexp(frac, 53).astype(np.int64) * 625
    shift = 53 - 4 - exp.astype(np.int64)  # v * 1e4 = m625 / 2**shift
    left = np.left_shift(m625, np.clip(-shift, 0, 62))
    right = np.clip(shift, 0, 62)
    floor = np.where(shift <= 0, left, np.right_shift(m625, right))
    floor = np.where(shift > 62, np.where(m625 < 0, -1, 0), floor)
    exact = np.where(shift <= 0, True, (m625 & ((np.int64(1) << right) - 1)) == 0)
    exact &= (shift <= 62) | (m625 == 0)
    if rounding is Rounding.DOWN:
        return floor, np.zeros(len(v), dtype=bool), unsure
    if rounding is Rounding.UP:
        return floor + ~exact, np.zeros(len(v), dtype=bool), unsure
    return floor, ~exact & ~unsure, unsure


def _fast_decimals(values: Sequence[Decimal]) -> bool:
    """Finite, and small enough that scaled they sit well inside int64."""
    if not all(map(Decimal.is_finite, values)):
        return False
    return bool(min(values) >= -_FAST_BOUND and max(values) <= _FAST_BOUND)


def grid_column(field: str, values: Sequence[Any], rounding: Rounding) -> tuple[Any, Any]:
    """``[grid_scaled(field, v, rounding) for v in values]`` as int64, and the rows where
    it raises (those hold 0)."""
    kinds = set(map(type, values))
    if kinds == {Decimal} and _fast_decimals(values):
        return _decimals(values, rounding)
    if kinds == {float}:
        whole, bad, unsure = _floats(values, rounding)
        if unsure.any():
            rows = np.flatnonzero(unsure).tolist()
            exact, refused = _per_value(field, [values[k] for k in rows], rounding)
            whole[rows], bad[rows] = exact, refused
        return whole, bad
    return _per_value(field, values, rounding)


def long_column(values: Sequence[Any]) -> tuple[Any, Any]:
    """Cedar Longs (``cedar_long``: ints, not bools, in range) and the rows refused."""
    if set(map(type, values)) == {int}:
        try:
            return np.array(values, dtype=np.int64), np.zeros(len(values), dtype=bool)
        except OverflowError:
            pass
    ok = [type(v) is int and _INT64[0] <= v <= _INT64[1] for v in values]
    good = np.array(ok, dtype=bool)
    return np.array([v if g else 0 for v, g in zip(values, ok, strict=True)], np.int64), ~good


def typed_column(values: Sequence[Any], kind: type, filler: Any) -> tuple[list[Any], Any]:
    """The values, with ``filler`` where a value is not exactly of ``kind``; those rows."""
    if set(map(type, values)) == {kind}:
        return list(values), np.zeros(len(values), dtype=bool)
    bad = np.array([type(v) is not kind for v in values], dtype=bool)
    return [filler if b else v for v, b in zip(values, bad.tolist(), strict=True)], bad


def categories(values: Sequence[str]) -> CategoryColumn:
    """Strings as codes into their distinct values (in order of first appearance)."""
    uniques = list(dict.fromkeys(values))
    where = {u: i for i, u in enumerate(uniques)}
    return CategoryColumn(
        np.fromiter(map(where.__getitem__, values), np.int64, len(values)), uniques
    )


def _halted(values: Sequence[Any]) -> tuple[SharedSetColumn, Any]:
    """The halted symbols: one CSet per distinct frozenset of strings."""
    uniques = list(dict.fromkeys(values))
    sets, good = [], []
    for u in uniques:
        ok = type(u) is frozenset and all(type(s) is str for s in u)
        sets.append(CSet(sorted(u)) if ok else CSet())
        good.append(ok)
    where = {u: i for i, u in enumerate(uniques)}
    codes = np.fromiter(map(where.__getitem__, values), np.int64, len(values))
    return SharedSetColumn(codes, sets), ~np.array(good, dtype=bool)[codes]


class _Builder:
    """The context columns of one burst, and its slow rows."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.slow = np.zeros(n, dtype=bool)
        self.context: dict[str, Any] = {}

    def money(self, intents: Sequence[TradeIntent], ctxs: Sequence[RiskContext]) -> None:
        read = _MONEY_READS
        for name, (_, rounding) in MONEY.items():
            values = read[name](intents, ctxs)
            scaled, bad = grid_column(name, values, rounding)
            self.context[name] = DecimalColumn(scaled)
            self.slow |= bad

    def longs(self, name: str, values: Sequence[Any]) -> None:
        column, bad = long_column(values)
        self.context[name] = column
        self.slow |= bad

    def bools(self, name: str, values: Sequence[Any]) -> None:
        column, bad = typed_column(values, bool, False)
        self.context[name] = np.array(column, dtype=bool)
        self.slow |= bad

    def strings(self, name: str, values: Sequence[Any]) -> None:
        column, bad = typed_column(values, str, "")
        self.context[name] = categories(column)
        self.slow |= bad

    def approvals(self, values: Sequence[Any]) -> None:
        present = [a is not None for a in values]
        if not any(present):
            return
        good = [a is None or type(a) is HumanApproval for a in values]
        self.slow |= ~np.array(good, dtype=bool)
        shown = [a if a is not None and g else None for a, g in zip(values, good, strict=True)]
        approved, bad_a = typed_column([a.approved if a else False for a in shown], bool, False)
        approver, bad_b = typed_column([a.approver if a else "" for a in shown], str, "")
        decided, bad_c = long_column([a.decided_ns if a else 0 for a in shown])
        self.slow |= bad_a | bad_b | bad_c
        fields = {
            "approved": np.array(approved, dtype=bool),
            "approver": categories(approver),
            "decided_ns": decided,
        }
        self.context["human_approval"] = RecordColumn(np.array(present, dtype=bool), fields)


def _reads() -> dict[str, Callable[[Sequence[TradeIntent], Sequence[RiskContext]], list[Any]]]:
    """MONEY's values, a whole column at a time (the same reads as its lambdas)."""

    def of(name: str) -> Callable[[Sequence[TradeIntent], Sequence[RiskContext]], list[Any]]:
        get = attrgetter(name)
        return lambda intents, ctxs: list(map(get, ctxs))

    reads = {name: of(attr) for name, attr in _MONEY_ATTRS.items()}
    reads["position_after_abs"] = lambda i, c: list(map(abs, map(attrgetter("post_position"), c)))
    reads["quantity"] = lambda i, c: list(map(attrgetter("quantity"), i))
    return reads


_MONEY_ATTRS = {
    "trade_amount": "notional",
    "current_position": "current_position",
    "position_after": "post_position",
    "portfolio_value": "equity",
    "concentration_after": "concentration_after",
    "daily_loss": "daily_loss",
    "var_95_before": "var_95_before",
    "var_95_after": "var_95_after",
    "es_95_before": "es_95_before",
    "es_95_after": "es_95_after",
    "market_volatility": "volatility",
    "price_deviation": "price_deviation",
    "price_deviation_ticks": "price_deviation_ticks",
    "gross_exposure_after": "gross_exposure_after",
}
_MONEY_READS = _reads()
_LONGS = {
    "intents_last_second": "intents_last_second",
    "intents_last_minute": "intents_last_minute",
    "open_orders": "open_orders",
    "history_bars": "history_bars",
    "mark_age_ns": "mark_age_ns",
    "now_ns": "now_ns",
}
_BOOLS = {
    "kill_switch": "kill_switch",
    "insider_trading_window": "insider_window",
    "off_lot": "off_lot",
    "off_tick": "off_tick",
}


def _column(values: Sequence[str], type_name: str) -> dict[str, Any]:
    column = categories(values)
    return {"type": type_name, "codes": column.codes, "ids": column.categories}


class BurstColumns:
    """One burst as the engine's columnar request (``columns``), its slow rows, and the
    instrument each symbol of its fast rows stands for."""

    def __init__(self, pairs: Sequence[Pair]) -> None:
        intents = [p[0] for p in pairs]
        ctxs = [p[1] for p in pairs]
        b = _Builder(len(pairs))
        b.money(intents, ctxs)
        for name, attr in _LONGS.items():
            b.longs(name, list(map(attrgetter(attr), ctxs)))
        b.longs("duplicate_intents", [1 if d else 0 for d in map(attrgetter("duplicate_of"), ctxs)])
        for name, attr in _BOOLS.items():
            b.bools(name, list(map(attrgetter(attr), ctxs)))
        b.strings("side", list(map(str, map(attrgetter("side"), intents))))
        b.strings("order_type", list(map(str, map(attrgetter("order_type"), intents))))
        b.strings("market_status", list(map(str, map(attrgetter("market_status"), ctxs))))
        b.strings("compliance_status", list(map(attrgetter("compliance_status"), ctxs)))
        halted, bad = _halted(list(map(attrgetter("halted_symbols"), ctxs)))
        b.context["halted_symbols"] = halted
        b.slow |= bad
        b.approvals(list(map(attrgetter("approval"), ctxs)))
        principals, bad_p = typed_column(list(map(attrgetter("principal"), ctxs)), str, "")
        symbols, bad_s = typed_column(list(map(attrgetter("symbol"), intents)), str, "")
        b.slow |= bad_p | bad_s
        self.instruments = self._instruments(ctxs, symbols, b.slow)
        self.approved = [a is not None for a in map(attrgetter("approval"), ctxs)]
        self.slow = np.flatnonzero(b.slow).tolist()
        self.columns = {
            "n": len(pairs),
            "principal": _column(principals, "Agent"),
            "action": ACTION,
            "resource": _column(symbols, "Instrument"),
            "context": b.context,
        }

    @staticmethod
    def _instruments(
        ctxs: Sequence[RiskContext], symbols: list[str], slow: Any
    ) -> dict[str, Instrument]:
        """Symbol -> instrument of the fast rows (the first of the burst for its symbol);
        marks slow a row whose instrument is not its intent's symbol or not that one."""
        chosen: dict[str, Instrument] = {}
        for k, ctx in enumerate(ctxs):
            instrument = ctx.instrument
            if slow[k]:
                continue
            symbol = symbols[k]
            if type(instrument) is not Instrument or instrument.symbol != symbol:
                slow[k] = True
                continue
            first = chosen.setdefault(symbol, instrument)
            if first != instrument:
                slow[k] = True
        return chosen
