"""Governed mode: the research run's trades, and a signed log an auditor verifies offline,
every table rebuilt from it; tampering, a forged principal and a reused store are caught."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgspec
import pytest
from bt_kit import OPEN_LIMITS

from pg_kit import fresh_database
from shared_data import MARKET_DATA
from tradeswarm.backtest.config import BacktestConfig, Mode
from tradeswarm.backtest.runner import run_backtest
from tradeswarm.core.config import convert_config
from tradeswarm.core.dburl import STATE_DIR_ENV
from tradeswarm.core.errors import ConfigurationError


def _config(db: str | Path | None = None, **extra: Any) -> BacktestConfig:
    raw = {
        "initial_cash": "1000000",
        "data": [{"path": str(MARKET_DATA / "stock_prices_20.csv")}],
        "strategies": [
            {
                "class": "tradeswarm.strategy.builtin:Momentum",
                "symbols": ["AAPL", "XOM"],
                "name": "momo",
                "params": {"notional": 120000},
            },
            {
                "class": "tradeswarm.strategy.builtin:MeanReversion",
                "symbols": ["JPM"],
                "name": "revert",
            },
        ],
        "start": "2014-01-01",
        "end": "2015-12-31",
        "risk": {**OPEN_LIMITS, "oversight_threshold": 100_000},
        **extra,
    }
    config = convert_config(raw, BacktestConfig)
    if db is not None:
        config = msgspec.structs.replace(config, mode=Mode.GOVERNED, db=str(db))
    return config


def _verify(db: Path) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("tradeswarm")
    return subprocess.run(
        [str(exe), "audit", "verify", "--db", str(db), "--demo-keys", "--all"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_governed_trades_as_research_and_its_log_verifies(tmp_path: Path) -> None:
    research, run = run_backtest(_config())
    governed, grun = run_backtest(_config(tmp_path / "run.sqlite"))
    assert [msgspec.to_builtins(t) for t in grun.trades] == [
        msgspec.to_builtins(t) for t in run.trades
    ]
    assert governed["final_equity"] == research["final_equity"]
    assert any(d.verdict == "REVIEW" for d in grun.decisions)  # oversight was exercised
    figures = governed["meta"]["governed"]
    assert figures["log_entries"] > 2 * len(grun.trades)
    done = _verify(tmp_path / "run.sqlite")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "every table: clean" in done.stdout


def test_an_edited_trade_is_caught_by_the_verifier(tmp_path: Path) -> None:
    db = tmp_path / "run.sqlite"
    run_backtest(_config(db))
    with sqlite3.connect(db) as con:
        con.execute("UPDATE trades SET price = price * 1.01 WHERE rowid = 1")
    done = _verify(db)
    assert done.returncode == 1 and "trades" in done.stdout


def test_a_governed_run_refuses_a_store_that_exists(tmp_path: Path) -> None:
    db = tmp_path / "run.sqlite"
    db.write_bytes(b"")
    with pytest.raises(ConfigurationError, match="new store"):
        run_backtest(_config(db))


def test_an_intent_signed_by_another_strategy_is_denied(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A compromised strategy publishes in another's name: the signature names the real
    sender, the gate decides on it, and the decision says so."""
    from tradeswarm.backtest.governed import GovernedLog

    real = GovernedLog.propose

    def forged(self: GovernedLog, strategy: str, intent: Any) -> tuple[str, str | None]:
        if strategy == "revert":  # revert's intents go out under momo's key
            self._traders["revert"] = self._traders["momo"]
        return real(self, strategy, intent)

    monkeypatch.setattr(GovernedLog, "propose", forged)
    _, run = run_backtest(_config(tmp_path / "run.sqlite"))
    reverts = [d for d in run.decisions if d.strategy == "revert"]
    assert reverts and all(d.final == "DENY" for d in reverts)
    assert all(d.reasons[0].startswith("identity:") for d in reverts)
    assert not [t for t in run.trades if t.strategy == "revert"]


def test_reviews_denied_by_policy_are_logged_with_the_humans_signed_answer(tmp_path: Path) -> None:
    db = tmp_path / "run.sqlite"
    _, run = run_backtest(_config(db, oversight={"policy": "deny"}))
    reviewed = [d for d in run.decisions if d.verdict == "REVIEW"]
    assert reviewed and {d.final for d in reviewed} == {"DENY"}
    with sqlite3.connect(db) as con:
        statuses = {r[0] for r in con.execute("SELECT status FROM oversight_requests")}
    assert statuses == {"DENIED"}
    done = _verify(db)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_governed_run_logs_into_an_empty_postgresql_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(STATE_DIR_ENV, str(tmp_path / "state"))
    with fresh_database() as url:
        governed, _ = run_backtest(_config(url))
        lite, _ = run_backtest(_config(tmp_path / "run.sqlite"))
        assert governed["final_equity"] == lite["final_equity"]
        assert (
            governed["meta"]["governed"]["log_entries"] == (lite["meta"]["governed"]["log_entries"])
        )
        done = subprocess.run(
            [str(Path(sys.executable).with_name("tradeswarm")), "audit", "verify", "--db", url,
             "--demo-keys", "--all"],
            capture_output=True, text=True, timeout=300, check=False,
            env={**os.environ, STATE_DIR_ENV: str(tmp_path / "state")},
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        with pytest.raises(ConfigurationError, match="holds a store"):
            run_backtest(_config(url))
