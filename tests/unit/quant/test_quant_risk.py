"""quant.risk against outside oracles: np.quantile, scipy.stats.norm, sklearn's LedoitWolf,
scipy's mahalanobis, on real prices from ../shared/data/market and on hypothesis inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.spatial.distance import mahalanobis
from scipy.stats import norm
from sklearn.covariance import LedoitWolf

from shared_data import MARKET_DATA
from tradeswarm.quant import risk

MARKET = MARKET_DATA
ALPHAS = (0.9, 0.95, 0.975, 0.99)


def _returns() -> np.ndarray:
    prices = pd.read_csv(MARKET / "stock_prices_20.csv", index_col=0).dropna()
    return prices.pct_change().dropna().to_numpy()


def _spy() -> np.ndarray:
    prices = pd.read_csv(MARKET / "spy_prices.csv", index_col=0)["SPY"].to_numpy()
    return np.diff(prices) / prices[:-1]


def _tail_oracle(r: np.ndarray, alpha: float) -> tuple[float, float]:
    losses = np.sort(-r)
    var = np.quantile(losses, alpha, method="inverted_cdf")
    # the seed's definition: VaR is the smallest m with P(L <= m) >= alpha
    k = int(np.ceil(alpha * losses.size)) - 1
    assert var == losses[k]
    # Acerbi-Tasche: the worst (1 - alpha) n losses, the boundary one counted fractionally
    tail = (1 - alpha) * losses.size
    whole = int(np.floor(tail + 1e-9))
    worst = losses[::-1]
    es = (worst[:whole].sum() + (tail - whole) * worst[whole]) / tail
    return float(var), float(es)


@pytest.mark.parametrize("alpha", ALPHAS)
def test_historical_var_and_es_equal_the_empirical_tail_on_spy(alpha: float) -> None:
    r = _spy()
    var, es = _tail_oracle(r, alpha)
    assert risk.var_historical(r, alpha) == pytest.approx(var, rel=1e-12)
    assert risk.es_historical(r, alpha) == pytest.approx(es, rel=1e-12)
    assert 0 < risk.var_historical(r, alpha) <= risk.es_historical(r, alpha)


def test_es_is_the_mean_of_the_worst_tail_even_with_ties_at_the_var() -> None:
    r = np.array([0.12] * 180 + [-0.88] * 20)
    assert risk.var_historical(r, 0.9) == pytest.approx(-0.12)
    assert risk.es_historical(r, 0.9) == pytest.approx(0.88)
    assert risk.es_historical(r, 0.95) == pytest.approx(0.88)


def test_higher_confidence_never_lowers_var_or_es() -> None:
    r = _spy()
    vars_ = [risk.var_historical(r, a) for a in ALPHAS]
    ess = [risk.es_historical(r, a) for a in ALPHAS]
    assert vars_ == sorted(vars_) and ess == sorted(ess)


@pytest.mark.parametrize("alpha", ALPHAS)
def test_normal_var_and_es_equal_scipy_norm(alpha: float) -> None:
    r = _spy()
    mu, sd = r.mean(), r.std(ddof=1)
    assert risk.var_normal(r, alpha) == pytest.approx(-norm.ppf(1 - alpha, mu, sd), rel=1e-10)
    es = norm.expect(lambda x: -x, loc=mu, scale=sd, ub=norm.ppf(1 - alpha, mu, sd)) / (1 - alpha)
    assert risk.es_normal(r, alpha) == pytest.approx(es, rel=1e-6)


def test_ledoit_wolf_equals_sklearn_on_twenty_stocks() -> None:
    r = _returns()
    lw = LedoitWolf().fit(r)
    got = risk.ledoit_wolf(r)
    assert got.shrinkage == pytest.approx(lw.shrinkage_, rel=1e-10)
    np.testing.assert_allclose(got.covariance, lw.covariance_, rtol=1e-10, atol=1e-16)


@settings(max_examples=60, deadline=None)
@given(
    arrays(
        np.float64,
        st.tuples(st.integers(2, 30), st.integers(1, 8)),
        # sklearn itself overflows on returns near 1e-159; real returns are 0 or >= 1e-6
        elements=st.one_of(st.just(0.0), st.floats(1e-6, 0.2), st.floats(-0.2, -1e-6)),
    )
)
def test_ledoit_wolf_equals_sklearn_on_any_returns(x: np.ndarray) -> None:
    lw = LedoitWolf().fit(x)
    got = risk.ledoit_wolf(x)
    assert 0.0 <= got.shrinkage <= 1.0
    np.testing.assert_allclose(got.covariance, lw.covariance_, rtol=1e-8, atol=1e-14)


def test_ledoit_wolf_of_constant_returns_is_the_zero_matrix() -> None:
    x = np.full((50, 3), 0.01)
    got = risk.ledoit_wolf(x)
    assert got.shrinkage == LedoitWolf().fit(x).shrinkage_ == 0.0
    np.testing.assert_allclose(got.covariance, 0.0, atol=1e-30)


def test_turbulence_equals_squared_mahalanobis_on_real_days() -> None:
    r = _returns()
    for day in (300, 500, len(r) - 1):
        hist = r[day - 250 : day]
        vi = np.linalg.inv(np.cov(hist, rowvar=False))
        expected = mahalanobis(r[day], hist.mean(axis=0), vi) ** 2
        assert risk.turbulence(r[day], hist) == pytest.approx(expected, rel=1e-8)


def test_turbulence_with_a_duplicated_asset_uses_the_pseudo_inverse() -> None:
    r = _returns()[:300, :4]
    dup = np.column_stack([r, r[:, 0]])
    today = np.append(r[-1], r[-1, 0])
    # the duplicate adds no new direction: the distance equals the one without it
    assert risk.turbulence(today, dup[:-1]) == pytest.approx(
        risk.turbulence(r[-1], r[:-1]), rel=1e-6
    )


def test_vol_target_scale_matches_the_formula_and_cap() -> None:
    r = _spy()[-252:]
    realised = r.std(ddof=1) * np.sqrt(252)
    assert risk.vol_target_scale(r, 0.10) == pytest.approx(0.10 / realised)
    assert risk.vol_target_scale(r, 10.0, max_scale=2.0) == 2.0
    assert risk.vol_target_scale(np.zeros(20), 0.1, floor=1e-4) == pytest.approx(0.1 / 1e-4)


def test_trade_var_impact_is_the_var_of_the_book_pnl() -> None:
    r = _returns()[:, :3]
    holdings, trade = np.array([1e5, 0.0, 2e4]), np.array([0.0, 5e4, -2e4])
    got = risk.trade_var_impact(r, holdings, trade, 0.99)
    assert got.var_before == pytest.approx(_tail_oracle(r @ holdings, 0.99)[0])
    var_after, es_after = _tail_oracle(r @ (holdings + trade), 0.99)
    assert (got.var_after, got.es_after) == pytest.approx((var_after, es_after))
    assert got.var_delta == pytest.approx(got.var_after - got.var_before)
    one = risk.trade_var_impact(r[:, 0], 1e5, 1e5)
    assert one.var_after == pytest.approx(2 * one.var_before)


def test_concentration() -> None:
    assert risk.concentration([0.0, 0.0]) == 0.0
    assert risk.concentration([50.0, -30.0, 20.0]) == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: risk.var_historical([0.1, np.nan], 0.95), "returns"),
        (lambda: risk.var_historical([], 0.95), "returns"),
        (lambda: risk.es_historical([0.1, 0.2], 0.05 - 0.06), "alpha"),
        (lambda: risk.var_normal([0.1], 0.95), "returns"),
        (lambda: risk.es_normal([0.1, 0.2], 1.0), "alpha"),
        (lambda: risk.ledoit_wolf(np.ones(5)), "returns"),
        (lambda: risk.turbulence([0.1], np.ones((5, 2))), "today"),
        (lambda: risk.vol_target_scale([0.1, 0.2], -1.0), "target_vol"),
        (lambda: risk.trade_var_impact(np.ones((5, 2)), [1.0], [1.0, 2.0]), "holdings"),
        (lambda: risk.concentration([np.inf]), "holdings"),
    ],
)
def test_bad_input_raises_a_value_error_naming_the_argument(call: object, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        call()  # type: ignore[operator]


def test_missing_shared_data_fails_loudly() -> None:
    assert (MARKET / "stock_prices_20.csv").is_file(), f"shared data missing at {MARKET}"
