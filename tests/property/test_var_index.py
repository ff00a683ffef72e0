"""The gate's VaR picks the order statistic numpy's inverted-CDF quantile picks, for any
window length and any finite P&L, ties included (numpy is the oracle)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tradeswarm.risk.tails import ALPHA, _var_es, var_index

finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.lists(finite, min_size=1, max_size=300), min_size=1, max_size=4), st.data())
def test_var_is_numpys_inverted_cdf_quantile(rows: list[list[float]], data: st.DataObject) -> None:
    n = min(len(r) for r in rows)
    pnl = np.asarray([r[:n] for r in rows], dtype=np.float64)
    if data.draw(st.booleans()):
        pnl = np.round(pnl, -6)  # many ties
    var, es = _var_es(pnl)
    oracle = np.quantile(-pnl, ALPHA, axis=1, method="inverted_cdf")
    assert np.array_equal(var, oracle)
    assert np.sort(-pnl, axis=1)[:, var_index(n)].tolist() == oracle.tolist()
    assert (es >= var).all()
