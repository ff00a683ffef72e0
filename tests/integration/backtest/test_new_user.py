"""A new user's first hour: their own strategy file, their own CSV, a config pointing at
both, from a folder of their own, through the installed `tradeswarm` command only: a
backtest with its report, a rerun, and a paper run of the same strategy."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from shared_data import MARKET_DATA

STRATEGY = '''
from decimal import Decimal
from tradeswarm.strategy import Strategy, StrategyParams


class Params(StrategyParams, frozen=True):
    lookback: int = 20
    quantity: Decimal = Decimal(50)


class Breakout(Strategy):
    """Buy a close above the last `lookback` highs; sell a close below their lows."""

    Params = Params

    def on_bar(self, ctx, bar):
        p = self.params
        highs = ctx.history(bar.symbol, "high", p.lookback + 1)[:-1]
        lows = ctx.history(bar.symbol, "low", p.lookback + 1)[:-1]
        if len(highs) < p.lookback:
            return
        held = ctx.position(bar.symbol)
        if held == 0 and bar.close > highs.max():
            ctx.buy(bar.symbol, p.quantity, rationale="breakout")
        elif held > 0 and bar.close < lows.min():
            ctx.sell(bar.symbol, held, rationale="breakdown")
'''

CONFIG = """
initial_cash = "50000"
[[data]]
path = "prices/yhoo.csv"
symbol = "YHOO"
adjust = true
[[strategies]]
class = "my_strategies.breakout:Breakout"
name = "breakout"
symbols = ["YHOO"]
params = { lookback = 20, quantity = 100 }
[fills]
fee_bps = "5"
fee_min = "1"
[risk]
volatility_limit = 5.0
max_concentration = 1.0
max_var_95 = "0.5"
"""


def _tradeswarm(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("tradeswarm")
    return subprocess.run(
        [str(exe), *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )


def _user_folder(tmp_path: Path) -> Path:
    home = tmp_path / "quant-dev"
    (home / "my_strategies").mkdir(parents=True)
    (home / "my_strategies" / "__init__.py").write_text("")
    (home / "my_strategies" / "breakout.py").write_text(STRATEGY)
    (home / "prices").mkdir()
    shutil.copy(MARKET_DATA / "yhoo-1996-2014.txt", home / "prices" / "yhoo.csv")
    (home / "backtest.toml").write_text(CONFIG)
    return home


def test_a_new_user_backtests_their_own_strategy_on_their_own_data(tmp_path: Path) -> None:
    home = _user_folder(tmp_path)
    done = _tradeswarm(
        home,
        "backtest",
        "--config",
        "backtest.toml",
        "--from",
        "2005-01-01",
        "--to",
        "2012-12-31",
        "--json",
        "--report",
        "report.html",
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["meta"]["strategies"] == ["breakout"]
    assert result["meta"]["from"].startswith("2005-01-03")
    assert result["trades"] > 10
    assert set(result["decisions"]) <= {"PERMIT", "DENY", "REVIEW", "CANCELED"}
    assert (home / "report.html").stat().st_size > 100_000

    again = _tradeswarm(
        home,
        "backtest",
        "--config",
        "backtest.toml",
        "--from",
        "2005-01-01",
        "--to",
        "2012-12-31",
        "--json",
    )
    assert json.loads(again.stdout)["sha256"] == result["sha256"]  # bit-identical rerun
    assert again.stdout == done.stdout

    paper = _tradeswarm(
        home,
        "paper",
        "--config",
        "backtest.toml",
        "--state",
        "paper-run",
        "--from",
        "2005-01-01",
        "--to",
        "2012-12-31",
        "--speed",
        "1e9",
        "--json",
    )
    assert paper.returncode == 0, paper.stderr
    assert json.loads(paper.stdout) == result  # the paper run of the same strategy
    assert (home / "paper-run" / "journal.jsonl").exists()


def test_a_misspelt_param_is_refused_naming_it(tmp_path: Path) -> None:
    home = _user_folder(tmp_path)
    bad = CONFIG.replace("lookback = 20", "look_back = 20")
    (home / "backtest.toml").write_text(bad)
    done = _tradeswarm(home, "backtest", "--config", "backtest.toml")
    assert done.returncode == 2
    assert "strategies[0].params" in done.stderr and "look_back" in done.stderr


def test_a_class_that_is_not_a_strategy_is_refused(tmp_path: Path) -> None:
    home = _user_folder(tmp_path)
    (home / "backtest.toml").write_text(CONFIG.replace(":Breakout", ":Params"))
    done = _tradeswarm(home, "backtest", "--config", "backtest.toml")
    assert done.returncode == 2 and "not a subclass" in done.stderr
