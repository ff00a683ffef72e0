"""The story prints the agents' own words as they are: a strategy's label in brackets
stays, and a rationale written as console markup (a hostile agent's `[/bold]`, which
made rich raise in the kernel at every rerun of its bar) is printed, not obeyed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

STRATEGY = '''
from decimal import Decimal
from tradeswarm.strategy import Strategy


class Shouter(Strategy):
    """Buys once, with a rationale that is console markup."""

    sent = False

    def on_bar(self, ctx, bar):
        if not self.sent:  # proposals are not sent while it warms up ("warm-up")
            markup = "[/bold] [link=https://x.invalid]click[/link]"
            self.sent = ctx.buy(bar.symbol, Decimal(1), rationale=markup) != "warm-up"
'''
CONFIG = """
[[strategies]]
class = "shouting_strategies:Shouter"
name = "shouter-01"
symbols = ["IDXF"]
"""


def test_a_rationale_written_as_markup_is_printed_not_obeyed(tmp_path: Path) -> None:
    (tmp_path / "shouting_strategies.py").write_text(STRATEGY)
    (tmp_path / "swarm.toml").write_text(CONFIG)
    argv = [sys.executable, "-m", "tradeswarm.cli.main", "demo", "--config", "swarm.toml"]
    done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "[shouter-01] [/bold] [link=https://x.invalid]click[/link]" in done.stdout
    assert "[momentum]" in done.stdout  # the built-in trader's label, no longer swallowed
