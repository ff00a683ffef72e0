"""The VaR and ES impact of many trades in one symbol, from one pass over its returns.

Each trade's one-bar historical 95% VaR and expected shortfall, before and after it, as
`tradeswarm.quant.risk.trade_var_impact` defines them (inverted-CDF quantile of the
losses, the tail mean of Rockafellar-Uryasev), for a whole burst at once: the P&L of
every trade over the window is one (trades x bars) array, its quantiles and tail means
one numpy call each. A single intent is a burst of one, so one trade and many are the
same arithmetic. Inputs or P&L that are not finite take `trade_var_impact` itself, whose
ValueError is what the gate denies with.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal
from typing import NamedTuple

import numpy as np

from tradeswarm.quant.risk import trade_var_impact

ALPHA = 0.95
MIN_VAR_RETURNS = 2
_ZERO4 = (0.0, 0.0, 0.0, 0.0)


class TailRisk(NamedTuple):
    """Historical 95% VaR and expected shortfall of the symbol's position, before and
    after the trade, as fractions of equity (positive losses)."""

    var_before: float
    var_after: float
    es_before: float
    es_after: float


def var_index(n: int) -> int:
    """The order statistic numpy's ``quantile(..., ALPHA, method="inverted_cdf")`` picks
    from n sorted values: ceil(n x ALPHA) - 1 (tests/property check it against numpy)."""
    return max(math.ceil(n * ALPHA) - 1, 0)


def _var_es(pnl: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise historical VaR and ES of a (rows x bars) P&L array. The quantile is the
    sorted row's `var_index` element: what np.quantile's inverted CDF returns, without
    its per-call overhead (a tenth of a gate decision's time)."""
    losses = -pnl
    var = np.sort(losses, axis=1)[:, var_index(losses.shape[1])]
    shortfall = np.maximum(losses - var[:, None], 0.0).mean(axis=1)
    return var, var + shortfall / (1.0 - ALPHA)


def _scale(values: tuple[float, ...], equity: float) -> TailRisk:
    # + 0.0: a zero loss is +0.0 whichever sign the zero P&L it came from had
    return TailRisk(*(max(v, 0.0) / equity + 0.0 for v in values))


def tail_risks(
    returns: Sequence[float], held_value: float, trade_values: Sequence[float], equity: Decimal
) -> list[TailRisk | ValueError]:
    """The TailRisk of each trade value against the position held_value, or the
    ValueError `trade_var_impact` raises for it.

    All 0 when the history is too short or equity is not positive; the gate denies those
    cases (the history and concentration policies), so a 0 here never permits."""
    n = len(trade_values)
    if len(returns) < MIN_VAR_RETURNS or equity <= 0:
        return [TailRisk(*_ZERO4) for _ in range(n)]
    r = np.asarray(returns, dtype=np.float64)
    with np.errstate(all="ignore"):  # rows that are not finite are answered below
        after = held_value + np.asarray(trade_values, dtype=np.float64)
        before = r * held_value
        pnl = r[None, :] * after[:, None]
        finite = np.asarray(np.isfinite(pnl).all(axis=1) & bool(np.isfinite(before).all()))
        var_b, es_b = _var_es(before[None, :])
        var_a, es_a = _var_es(pnl)
    scale = float(equity)
    out: list[TailRisk | ValueError] = []
    for k in range(n):
        if not finite[k]:
            out.append(_quant_error(returns, held_value, trade_values[k]))
            continue
        values = (float(var_b[0]), float(var_a[k]), float(es_b[0]), float(es_a[k]))
        out.append(_scale(values, scale))
    return out


def _quant_error(returns: Sequence[float], held: float, trade: float) -> ValueError:
    """What trade_var_impact says of a row whose numbers are not finite."""
    try:
        trade_var_impact(list(returns), [held], [trade], alpha=ALPHA)
    except ValueError as err:
        return err
    return ValueError(f"non-finite P&L for a trade of {trade!r} against {held!r}")


def tail_risk(
    returns: Sequence[float], held_value: float, trade_value: float, equity: Decimal
) -> TailRisk:
    """One trade's TailRisk (a burst of one); raises the ValueError of a bad input."""
    found = tail_risks(returns, held_value, [trade_value], equity)[0]
    if isinstance(found, ValueError):
        raise found
    return found
