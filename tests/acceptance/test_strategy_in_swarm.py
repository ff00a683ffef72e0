"""A user's strategy inside the swarm: one more trading agent, its intents signed with its
own identity, decided by the risk manager, sent by the execution agent alone, filled by
the paper broker, in the audit log; a stopped day resumes to the same books."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from acceptance_kit import books, query, status_json

STRATEGY = '''
from decimal import Decimal
from tradeswarm.strategy import Strategy, StrategyParams


class Params(StrategyParams, frozen=True):
    every: int = 45
    quantity: Decimal = Decimal(4)


class Pulse(Strategy):
    """Buys every `every` bars while flat, sells what it holds `every` bars later."""

    Params = Params

    def __init__(self, params=None):
        super().__init__(params)
        self.fills = 0

    def on_fill(self, ctx, fill):
        self.fills += 1

    def on_bar(self, ctx, bar):
        if ctx.bars_seen(bar.symbol) % self.params.every:
            return
        held = ctx.position(bar.symbol)
        if held > 0:
            ctx.sell(bar.symbol, held, rationale="pulse out")
        else:
            ctx.buy(bar.symbol, self.params.quantity, rationale="pulse in")
'''
CONFIG = """
[[strategies]]
class = "user_strategies:Pulse"
name = "pulse-01"
symbols = ["IDXF"]
params = { every = 45, quantity = 4 }
"""
EXE = str(Path(sys.executable).with_name("tradeswarm"))


def _demo(home: Path, db: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [EXE, "demo", "--db", db, "--config", "swarm.toml", *extra],
        cwd=home,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.fixture
def home(tmp_path: Path) -> Path:
    (tmp_path / "user_strategies.py").write_text(STRATEGY)
    (tmp_path / "swarm.toml").write_text(CONFIG)
    return tmp_path


@pytest.mark.slow
def test_a_user_strategy_trades_through_the_swarm_and_resumes(home: Path) -> None:
    whole = _demo(home, "whole.sqlite")
    assert whole.returncode == 0, whole.stderr
    assert "pulse-01" in whole.stdout and "every table: clean" in whole.stdout
    db = home / "whole.sqlite"
    intents = query(
        db,
        "SELECT COUNT(*) FROM events WHERE type = 'TradeIntent' AND instr(body, ?) > 0",
        b'"sender":"trading-agent:pulse-01"',
    )
    assert intents[0][0] >= 10
    fills = query(
        db, "SELECT side, SUM(quantity) FROM trades WHERE agent_id = 'pulse-01' GROUP BY side"
    )
    assert dict(fills)["BUY"] > 0 and dict(fills)["SELL"] > 0
    decided = query(db, "SELECT COUNT(*) FROM risk_events WHERE agent_id = 'pulse-01'")
    assert decided[0][0] == intents[0][0]  # the risk manager decided every one
    report = status_json(db)
    assert report["duplicate_client_order_ids"] == 0 and report["reconciled"]

    first = _demo(home, "split.sqlite", "--until", "12:00")
    assert first.returncode == 0, first.stderr
    rest = _demo(home, "split.sqlite")
    assert rest.returncode == 0 and "resumed this store" in rest.stdout
    assert books(home / "split.sqlite") == books(db)


def test_a_strategy_in_an_unknown_tier_is_refused(home: Path) -> None:
    (home / "swarm.toml").write_text(CONFIG + 'tier = "gold"\n')
    done = _demo(home, "x.sqlite")
    assert done.returncode == 2 and "tier" in done.stderr
    assert not (home / "x.sqlite").exists()


def test_a_strategy_on_a_symbol_the_master_lacks_is_refused(home: Path) -> None:
    (home / "swarm.toml").write_text(CONFIG.replace('symbols = ["IDXF"]', 'symbols = ["NOPE"]'))
    done = _demo(home, "x.sqlite")
    assert done.returncode == 2 and "strategies[0].symbols" in done.stderr
    assert not (home / "x.sqlite").exists()  # refused before any file was made
