"""A user's strategy in a process of its own (`[bus] remote_agents = ["strategy:NAME"]`):
the same intents, decisions and story as when it runs in the kernel; the account's books
it reads (cash, equity) are the kernel's, sent with each call."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from tradeswarm.bus.memory_transport import MemoryTransport
from tradeswarm.system.config import SwarmConfig, load_config
from tradeswarm.system.demo import run_demo
from tradeswarm.system.role_process import RoleProcess

STRATEGY = '''
from decimal import Decimal
from tradeswarm.strategy import Strategy, StrategyParams


class Params(StrategyParams, frozen=True):
    every: int = 45
    quantity: Decimal = Decimal(4)


class Pulse(Strategy):
    """Buys every `every` bars while flat, sells what it holds `every` bars later; says
    what the account's books were when it decided."""

    Params = Params

    def on_bar(self, ctx, bar):
        if ctx.bars_seen(bar.symbol) % self.params.every:
            return
        held = ctx.position(bar.symbol)
        books = f"cash {ctx.cash:.2f} equity {ctx.equity:.2f}"
        if held > 0:
            ctx.sell(bar.symbol, held, rationale=f"pulse out, {books}")
        else:
            ctx.buy(bar.symbol, self.params.quantity, rationale=f"pulse in, {books}")
'''
CONFIG = """
[[strategies]]
class = "remote_user_strategies:Pulse"
name = "pulse-01"
symbols = ["IDXF"]
"""


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    (tmp_path / "remote_user_strategies.py").write_text(STRATEGY)
    (tmp_path / "swarm.toml").write_text(CONFIG)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    sys.modules.pop("remote_user_strategies", None)


def _remote(config: SwarmConfig, slots: list[str]) -> SwarmConfig:
    bus = msgspec.structs.replace(config.bus, remote_agents=slots, ack_wait_s=0.3)
    return msgspec.structs.replace(config, bus=bus)


async def _day(config: SwarmConfig, db: Path) -> list[str]:
    wire = MemoryTransport(config.bus.transport())
    roles = [RoleProcess(config, slot, wire) for slot in config.bus.remote_agents]
    stop, out = asyncio.Event(), []
    tasks = [asyncio.create_task(r.server.serve(stop)) for r in roles]
    await run_demo(db, config, out.append, wire=wire if roles else None)
    stop.set()
    await asyncio.gather(*tasks)
    return [str(x) for x in out if not str(x).startswith("  ✓ order ")]


def test_a_user_strategy_in_its_own_process_trades_as_it_does_in_the_kernel(home: Path) -> None:
    config = load_config(home / "swarm.toml")
    here = asyncio.run(_day(config, home / "here.sqlite"))
    away = asyncio.run(_day(_remote(config, ["strategy:pulse-01", "trader"]), home / "away.sqlite"))
    assert away == here
    pulses = [line for line in away if "pulse-01" in line and "INTENT" in line]
    assert len(pulses) > 5 and all("equity" in line for line in pulses)
