"""The seed's load scenarios ("Demo 1" §12.1) as synthetic traffic for `bench pipeline`.

A scenario fixes the offered load (orders per second of simulated time, an initial
burst), how many trading agents and symbols share it, the trade sizes (a mixture of
uniform dollar ranges), the share of symbols halted, the volatility of the synthetic
prices, and the share of trades large enough to need a human (the oversight threshold
is set to the size quantile that gives that share). Prices follow a seeded geometric
random walk per symbol, one bar per unit of work; every intent is a MARKET buy valued
at its symbol's last price, so each one is decided by the full gate and, when
permitted, filled at the next bar.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from decimal import Decimal
from typing import NamedTuple

from tradeswarm.core.errors import InvalidInput
from tradeswarm.core.ids import derived_id
from tradeswarm.model.enums import TimeInForce
from tradeswarm.model.market import Bar, Instrument
from tradeswarm.model.messages import TradeIntent
from tradeswarm.testkit import make_intent

#: (share of trades, low $, high $): the seed's 70% $1k-10k, 25% $10k-50k, 5% $50k-150k.
SEED_SIZES = ((0.70, 1_000, 10_000), (0.25, 10_000, 50_000), (0.05, 50_000, 150_000))
BARS_PER_YEAR = 252 * 390  # one-minute bars of a US equity session


class Scenario(NamedTuple):
    name: str
    offered_per_sec: int
    initial_burst: int  # orders offered within the first second, before the sustained rate
    agents: int
    symbols: int
    halted_share: float
    volatility: float  # annualised, of the synthetic prices
    oversight_share: float
    sizes: tuple[tuple[float, int, int], ...] = SEED_SIZES

    def oversight_threshold(self) -> Decimal:
        """The trade value exceeded by `oversight_share` of the size mixture."""
        lo, hi = 0.0, float(max(h for _, _, h in self.sizes))
        for _ in range(60):  # bisection on the mixture's survival function
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if self._above(mid) > self.oversight_share else (lo, mid)
        return Decimal(round(hi))

    def _above(self, value: float) -> float:
        return sum(
            share * min(1.0, max(0.0, (high - value) / (high - low)))
            for share, low, high in self.sizes
        )


SCENARIOS = {
    "normal": Scenario("normal", 1_000, 0, 10, 20, 0.0, 0.20, 0.001),
    "high_volatility": Scenario("high_volatility", 5_000, 0, 50, 50, 0.10, 0.35, 0.15),
    "market_open": Scenario("market_open", 10_000, 50_000, 100, 100, 0.0, 0.25, 0.001),
}


def scenario(name: str) -> Scenario:
    found = SCENARIOS.get(name)
    if found is None:
        raise InvalidInput("--scenario", name, f"use one of {sorted(SCENARIOS)}")
    return found


class Traffic:
    """A scenario's seeded traffic: symbols, agents, prices and intents, unit by unit."""

    def __init__(self, sc: Scenario, seed: int = 7, part: tuple[int, int] = (0, 1)) -> None:
        """part=(k, n): the k-th of n disjoint shares of the symbols and agents (a shard)."""
        k, n = part
        self.scenario = sc
        self.rng = random.Random(f"{seed}:{k}")
        self.symbols = [f"S{i:03d}" for i in range(sc.symbols) if i % n == k]
        self.agents = [f"bench-trader-{i:03d}" for i in range(sc.agents) if i % n == k]
        if not self.symbols or not self.agents:
            raise InvalidInput("--shards", n, f"more than {sc.name}'s symbols or agents")
        halted = round(len(self.symbols) * sc.halted_share)
        self.halted = frozenset(self.symbols[:halted])
        self.prices = {s: self.rng.uniform(20, 500) for s in self.symbols}
        self._step = sc.volatility / math.sqrt(BARS_PER_YEAR)
        self._n = 0

    def instruments(self) -> list[Instrument]:
        return [
            Instrument(symbol=s, asset_class="equity", calendar="24/7", venue="PAPER")
            for s in self.symbols
        ]

    def step(self) -> None:
        """Move every price one step of the random walk."""
        for symbol, price in self.prices.items():
            self.prices[symbol] = price * math.exp(self.rng.gauss(0.0, self._step))

    def bars(self, ts: int) -> list[Bar]:
        """Every symbol's bar at ts, at its current price."""
        out = []
        for symbol, price in self.prices.items():
            p = Decimal(f"{price:.2f}")
            volume = Decimal(10**9)
            out.append(
                Bar(symbol=symbol, ts_event=ts, open=p, high=p, low=p, close=p, volume=volume)
            )
        return out

    def intents(self, count: int, ts: int) -> Iterator[TradeIntent]:
        """count intents at ts, each from a random agent on a random symbol."""
        for _ in range(count):
            self._n += 1
            symbol = self.rng.choice(self.symbols)
            price = Decimal(f"{self.prices[symbol]:.2f}")
            qty = max(1, int(self._size() / float(price)))
            yield make_intent(
                intent_id=derived_id(ts, "bench", str(self._n)),
                agent_id=self.rng.choice(self.agents),
                symbol=symbol,
                quantity=Decimal(qty),
                time_in_force=TimeInForce.GTC,
                reference_price=price,
                strategy="bench",
                rationale="synthetic",
                ts_event=ts,
            )

    def _size(self) -> float:
        pick, acc = self.rng.random(), 0.0
        for share, low, high in self.scenario.sizes:
            acc += share
            if pick <= acc:
                return self.rng.uniform(low, high)
        _, low, high = self.scenario.sizes[-1]
        return self.rng.uniform(low, high)


def units(sc: Scenario, orders: int, batch: int) -> Iterator[tuple[int, int]]:
    """(orders, simulated ns) per unit of work: the initial burst within its first second,
    then the sustained rate, `batch` orders a unit."""
    done = 0
    while done < orders:
        burst = done < sc.initial_burst
        count = min(batch, orders - done, sc.initial_burst - done if burst else batch)
        rate = sc.initial_burst if burst else sc.offered_per_sec
        yield count, max(1, count * 1_000_000_000 // rate)
        done += count
