"""What the kernel sends an agent in its own process, and what it answers (the bodies of
`bus.rpc` calls): bars, the envelopes the kernel's bus delivers to the agent, the log's
envelopes it rebuilds its state from after a restart; and the envelopes it published,
signed with its own key, for the kernel's VerifyingGate."""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

import msgspec

from tradeswarm.agents.trader import Sizing
from tradeswarm.bus.topics import FILLS, ORDERS, RISK_DECISIONS, SIGNALS, Role, Topic
from tradeswarm.core.errors import ConfigurationError
from tradeswarm.model.market import Bar
from tradeswarm.model.messages import Message
from tradeswarm.strategy.loader import StrategySpec

if TYPE_CHECKING:
    from tradeswarm.system.config import SwarmConfig


class BarItem(msgspec.Struct, frozen=True, tag="bar"):
    bar: Bar
    publish: bool
    """False: a bar of the warm-up or of work already done (nothing is published)."""


class RestoreItem(msgspec.Struct, frozen=True, tag="restore"):
    envelope: bytes
    """A log entry the agent rebuilds its books from (`StrategyAgent.restore`)."""


class DeliverItem(msgspec.Struct, frozen=True, tag="deliver"):
    envelopes: list[bytes]
    """A run of one topic the kernel's bus delivers to the agent."""


Item = BarItem | RestoreItem | DeliverItem


class RoleCall(msgspec.Struct, frozen=True):
    now_ns: int
    """The kernel's clock: the agent's clock is set to it before the items are applied."""
    items: list[Item]
    books: tuple[Decimal, Decimal] | None = None
    """(cash, equity) for a strategy's context, read by the kernel as the call is made."""


class RoleAnswer(msgspec.Struct, frozen=True):
    envelopes: list[bytes]
    """What the agent published while applying the call, in order, canonical bytes."""


ENCODER = msgspec.msgpack.Encoder()
CALL = msgspec.msgpack.Decoder(RoleCall)
ANSWER = msgspec.msgpack.Decoder(RoleAnswer)

#: What a strategy agent (the trader among them) is delivered; `StrategyAgent.subscribe`
#: subscribes to exactly these (tests/unit/system/test_remote_agents.py holds it to it).
STRATEGY_INPUTS: tuple[Topic[Message], ...] = (SIGNALS, ORDERS, FILLS, RISK_DECISIONS)  # type: ignore[assignment]

#: The agents that may run in their own process, by slot; the rest share the kernel's
#: books (risk, execution, compliance, the desk) and stay in it.
REMOTE_SLOTS = ("analyzer", "trader")
KERNEL_SLOTS = ("risk", "execution", "compliance", "desk")


def strategy_names(specs: Sequence[StrategySpec]) -> list[str]:
    """Each strategy's agent name, as `strategy.loader.load_strategies` names it."""
    return [spec.name or f"strategy-{k + 1}" for k, spec in enumerate(specs)]


def remote_slot(config: SwarmConfig, slot: str) -> str:
    """slot, if its agent may run in its own process under config; ConfigurationError
    naming the field otherwise (the one check the kernel, `run` and `up` all make)."""
    _check_slot(slot, strategy_names(config.strategies))
    if slot == "trader" and config.trader.sizing is Sizing.PORTFOLIO:
        raise ConfigurationError(
            "trader.sizing",
            "portfolio",
            "portfolio sizing reads the kernel's books: leave the trader out of bus.remote_agents",
        )
    return slot


def remote_slots(config: SwarmConfig) -> list[str]:
    """config.bus.remote_agents, each checked (`remote_slot`)."""
    return [remote_slot(config, slot) for slot in config.bus.remote_agents]


def _check_slot(slot: str, strategies: list[str]) -> str:
    """slot, if an agent of that slot may run in its own process."""
    if slot in REMOTE_SLOTS:
        return slot
    if slot.startswith("strategy:") and slot.removeprefix("strategy:") in strategies:
        return slot
    if slot in KERNEL_SLOTS:
        why = "runs in the kernel process: it shares the swarm's books"
    else:
        known = [*REMOTE_SLOTS, *(f"strategy:{n}" for n in strategies)]
        why = f"is no agent that can run on its own; one of {known}"
    raise ConfigurationError("bus.remote_agents", slot, why)


def channel_of(slot: str) -> str:
    """The rpc channel of a slot: `strategy:Momo-1` -> `strategy_momo_1`."""
    word = re.sub(r"[^a-z0-9_]", "_", slot.lower())
    return word if word[:1].isalpha() else f"a{word}"


def agent_name(slot: str) -> str:
    """The identity name of a slot's agent: `trader` -> trading-agent-01, `strategy:x` -> x."""
    from tradeswarm.system.agents import AGENT_NAMES

    return AGENT_NAMES[slot] if slot in AGENT_NAMES else slot.removeprefix("strategy:")


def role_of(slot: str) -> Role:
    return Role.ANALYZER if slot == "analyzer" else Role.TRADER
