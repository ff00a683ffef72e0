"""Quant benchmark: time per call of tradeswarm.quant next to its oracle, in the same run.

Data (seeded, from real prices): the 20 stocks of ``stock_prices_20.csv`` on the days all
of them trade give daily returns; days are resampled with replacement to ``days`` rows and
each of ``assets`` synthetic assets is a random convex mix of two real stocks plus Gaussian
noise at half the mix's volatility, so the covariance has the real stocks' structure and
full rank. The feature snapshot runs on the real minute bars of
``2006-01-02-volume-min-001.txt``.

Pairs: ``ledoit_wolf`` vs sklearn's LedoitWolf and ``hrp`` vs PyPortfolioOpt's HRPOpt at
assets x days; ``mean_variance`` (ADMM, budget + box + L1 + turnover) vs cvxpy/Clarabel on
the same objective at ``mv_assets``; ``feature_snapshot`` vs pandas resampling plus TA-Lib
on the same indicators and timeframes.
"""

from __future__ import annotations

import gzip
import io
import sys
import time
from collections.abc import Callable
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from tradeswarm.quant import portfolio, risk

DATA = resources.files("tradeswarm.data") / "market"  # bundled copies, see its README.md


def synthetic_returns(assets: int, days: int, seed: int = 0) -> np.ndarray:
    """days x assets returns built from the real 20-stock returns (see module docstring)."""
    prices = pd.read_csv(_bundled("stock-prices-20-daily-1989-2018.csv.gz"), index_col=0).dropna()
    real = prices.pct_change().dropna().to_numpy()
    rng = np.random.default_rng(seed)
    rows = real[rng.integers(0, len(real), days)]
    pick = rng.integers(0, real.shape[1], (assets, 2))
    mix = rng.uniform(0, 1, assets)
    base = rows[:, pick[:, 0]] * mix + rows[:, pick[:, 1]] * (1 - mix)
    noise = rng.normal(0, 1, base.shape) * (0.5 * base.std(axis=0))
    return np.asarray(base + noise, dtype=np.float64)


def _time(fn: Callable[[], Any], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _pair(
    name: str, ours: Callable[[], Any], peer: Callable[[], Any], repeat: int, progress: bool
) -> dict[str, float]:
    if progress:
        print(f"bench quant: {name} ...", file=sys.stderr, flush=True)
    t_ours, t_peer = _time(ours, repeat), _time(peer, repeat)
    return {
        "ours_ms": round(t_ours * 1e3, 3),
        "peer_ms": round(t_peer * 1e3, 3),
        "ratio": round(t_ours / t_peer, 3),
    }


def _mv_pair(r: np.ndarray, repeat: int, progress: bool) -> dict[str, float]:
    import importlib

    cp: Any = importlib.import_module("cvxpy")  # untyped: the oracle, not our code

    mu, cov = r.mean(axis=0), np.cov(r, rowvar=False)
    n = mu.size
    kw: dict[str, Any] = {
        "w_prev": np.full(n, 1.0 / n),
        "lam": 0.05,
        "tau": 1e-5,
        "kappa": 1e-5,
        "lower": 0.0,
        "upper": 0.1,
    }

    def ours() -> float:
        return portfolio.mean_variance(mu, cov, A=np.ones((1, n)), b=[1.0], **kw).objective

    def peer() -> float:
        w = cp.Variable(n)
        obj = (
            0.5 * cp.quad_form(w, cp.psd_wrap(cov))
            - kw["lam"] * mu @ w
            + kw["tau"] * cp.norm1(w - kw["w_prev"])
            + kw["kappa"] * cp.norm1(w)
        )
        prob = cp.Problem(cp.Minimize(obj), [w >= 0, w <= 0.1, cp.sum(w) == 1])
        return float(prob.solve(solver=cp.CLARABEL))

    out = _pair("mean_variance vs cvxpy", ours, peer, repeat, progress)
    out["objective_gap"] = float(f"{ours() - peer():.3e}")
    return out


def _bundled(name: str) -> Any:
    """A gzipped CSV shipped with the package, opened for pandas."""
    return gzip.open(io.BytesIO((DATA / name).read_bytes()))


def _minute_bars() -> dict[str, np.ndarray]:
    names = ["date", "time", "open", "high", "low", "close", "volume", "oi"]
    df = pd.read_csv(_bundled("idxf-2006-01-1min.csv.gz"), names=names, header=0)
    ts = pd.to_datetime(df["date"] + " " + df["time"]).astype("int64").to_numpy()
    out = {k: df[k].to_numpy(float) for k in ("open", "high", "low", "close", "volume")}
    return {"ts": ts, **out}


def _talib_peer(bars: dict[str, np.ndarray], timeframes: tuple[str, ...]) -> dict[str, float]:
    import talib

    frame = pd.DataFrame(
        {k: v for k, v in bars.items() if k != "ts"}, index=pd.to_datetime(bars["ts"])
    )
    agg = {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}
    out: dict[str, float] = {}
    for tf in timeframes:
        rule = {"1m": "1min", "5m": "5min", "15m": "15min", "1h": "1h", "1d": "1D"}[tf]
        b = frame.resample(rule).agg(agg).dropna()
        h, lo, c, v = (b[k].to_numpy() for k in ("high", "low", "close", "volume"))
        upper, _, lower = talib.BBANDS(c, 20)
        series = {
            "rsi_14": talib.RSI(c, 14),
            "atr_14": talib.ATR(h, lo, c, 14),
            "sma_20": talib.SMA(c, 20),
            "sma_50": talib.SMA(c, 50),
            "ema_12": talib.EMA(c, 12),
            "ema_26": talib.EMA(c, 26),
            "bbupper_20": upper,
            "bblower_20": lower,
            "stochk_14": talib.STOCH(h, lo, c, 14)[0],
            "volsma_20": talib.SMA(v, 20),
        }
        for key, s in series.items():
            tail = s[~np.isnan(s)][-100:]
            if tail.size == 0:  # too few bars on this timeframe: the key is left out
                continue
            last = tail[-1]
            out[f"{key}_{tf}"] = float(last)
            out[f"zscore_{key}_{tf}"] = float((last - tail[-20:].mean()) / (tail[-20:].std() or 1))
            out[f"percentile_{key}_{tf}"] = float((tail < last).mean() * 100)
    return out


def _snapshot_pair(repeat: int, progress: bool) -> dict[str, Any]:
    try:
        from tradeswarm.quant.indicators import feature_snapshot
    except ImportError:  # pragma: no cover - indicators ship with the quant room
        return {"skipped": "tradeswarm.quant.indicators.feature_snapshot not available"}
    bars = _minute_bars()
    tfs = ("1m", "5m", "15m", "1h", "1d")
    out: dict[str, Any] = _pair(
        "feature_snapshot vs pandas+TA-Lib",
        lambda: feature_snapshot(bars, tfs),
        lambda: _talib_peer(bars, tfs),
        repeat,
        progress,
    )
    out["bars"] = len(bars["ts"])
    out["keys"] = len(feature_snapshot(bars, tfs))
    return out


def run_quant_bench(
    assets: int = 500,
    days: int = 2520,
    mv_assets: int = 100,
    repeat: int = 3,
    progress: bool = True,
) -> dict[str, Any]:
    """Time each quant function and its oracle in this run; ratio = ours / peer."""
    from pypfopt import HRPOpt
    from sklearn.covariance import LedoitWolf

    r = synthetic_returns(assets, days)
    frame = pd.DataFrame(r)
    return {
        "bench": "quant",
        "assets": assets,
        "days": days,
        "mv_assets": mv_assets,
        "data": "seeded mixes of the 20 real stocks (stock_prices_20.csv), days resampled",
        "ledoit_wolf_vs_sklearn": _pair(
            "ledoit_wolf vs sklearn",
            lambda: risk.ledoit_wolf(r),
            lambda: LedoitWolf().fit(r),
            repeat,
            progress,
        ),
        "hrp_vs_pypfopt": _pair(
            "hrp vs PyPortfolioOpt",
            lambda: portfolio.hrp(r),
            lambda: HRPOpt(frame).optimize("single"),
            repeat,
            progress,
        ),
        "mean_variance_vs_cvxpy": _mv_pair(r[:, :mv_assets], repeat, progress),
        "feature_snapshot_vs_talib": _snapshot_pair(repeat, progress),
    }
