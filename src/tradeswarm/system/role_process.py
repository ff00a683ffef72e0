"""One agent in its own process (`tradeswarm run ROLE`): the same agent class the kernel
would build, on a bus of its own that holds only this agent's key, driven by the
kernel's calls (`bus.rpc`): it publishes nothing to anyone but the kernel, which admits
what it answers only through its VerifyingGate. Its state is a fold of the calls, so a
restarted process is rebuilt by the kernel's journal, and nothing it did twice counts
twice (the kernel's gate and bus drop a msg_id seen before)."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Sequence
from decimal import Decimal

import msgspec

from tradeswarm.agents.analyzer import MarketAnalyzer
from tradeswarm.agents.strategy_host import StrategyAgent
from tradeswarm.agents.trader import TradingAgent
from tradeswarm.bus.inproc import InProcessBus
from tradeswarm.bus.rpc import RpcServer
from tradeswarm.bus.signing import BusSigning
from tradeswarm.bus.transport import Transport
from tradeswarm.core.clock import SimClock
from tradeswarm.core.errors import ConfigurationError
from tradeswarm.crypto.contexts import MESSAGE_TYPES
from tradeswarm.crypto.identity import AgentIdentity
from tradeswarm.crypto.keys import Algorithm
from tradeswarm.crypto.provision import demo_identities
from tradeswarm.crypto.registry import KeyRegistry
from tradeswarm.model.envelope import Envelope, decode_envelope, encode_envelope
from tradeswarm.strategy.loader import load_strategies
from tradeswarm.system.config import SwarmConfig
from tradeswarm.system.identities import load_identities
from tradeswarm.system.role_calls import (
    CALL,
    ENCODER,
    BarItem,
    DeliverItem,
    RestoreItem,
    RoleAnswer,
    RoleCall,
    agent_name,
    channel_of,
    remote_slot,
    role_of,
)
from tradeswarm.system.role_seal import KERNEL, ChannelSeal

RoleAgent = MarketAnalyzer | StrategyAgent


class _Captured:
    """The local bus's sink: what the agent published, for the answer."""

    def __init__(self) -> None:
        self.envs: list[Envelope] = []

    def append_events(self, envs: Sequence[Envelope]) -> list[int | None]:
        self.envs.extend(envs)
        return [None] * len(envs)


class RoleProcess:
    """The agent of one slot (`analyzer`, `trader`, `strategy:NAME`) behind an RpcServer."""

    def __init__(self, config: SwarmConfig, slot: str, transport: Transport) -> None:
        self.slot = remote_slot(config, slot)
        self.config = config
        self.name = agent_name(slot)
        self.keys, registry = _own_keys(config, self.name, str(role_of(slot)))
        self.sealing = ChannelSeal(channel_of(slot), self.keys, KERNEL, registry, self._now)
        signer = self.keys.signer(Algorithm.ED25519)  # its answers: the kernel checks them
        self.server = RpcServer(transport, channel_of(slot), self.apply, self.reset, signer)
        self.books: tuple[Decimal, Decimal] | None = None
        # everything it sends crosses a process boundary: a VerifyingGate admits only
        # signed envelopes, so every type is signed here (in the policy's algorithms)
        policy = config.signing.policy()
        self.policy = msgspec.structs.replace(policy, signed_types=frozenset(MESSAGE_TYPES))
        self.reset()

    def _now(self) -> int:
        return self.clock.now_ns()  # the clock of the current agent (reset replaces it)

    def reset(self) -> None:
        """A fresh agent: the kernel replays what it needs (a new epoch, or a failure)."""
        self.clock = SimClock()
        self.captured = _Captured()
        signing = BusSigning(self.policy, [self.keys])
        self.bus = InProcessBus(self.clock, sink=self.captured, signing=signing, random_nonces=True)
        self.agent = self._build()

    def _build(self) -> RoleAgent:
        if self.slot == "analyzer":
            return MarketAnalyzer(self.name, self.bus, self.clock)
        if self.slot == "trader":
            return TradingAgent(self.name, self.bus, self.clock, self.config.trader)
        ((name, spec, strategy),) = [
            s for s in load_strategies(self.config.strategies) if s[0] == self.name
        ]
        return StrategyAgent(name, self.bus, self.clock, strategy, list(spec.symbols), self._books)

    def _books(self) -> tuple[Decimal, Decimal]:
        if self.books is None:
            raise ConfigurationError("books", None, "the kernel sent no books with this call")
        return self.books

    async def apply(self, body: bytes) -> bytes:
        """A sealed call in, a sealed answer out (a call that does not open raises:
        the kernel hears of it as an error answer)."""
        answer = await self.respond(CALL.decode(self.sealing.open(body, "call")))
        return self.sealing.seal(ENCODER.encode(answer), "answer")

    async def respond(self, call: RoleCall) -> RoleAnswer:
        """Apply a call's items to the agent, in order; what it published."""
        if call.now_ns > self.clock.now_ns():
            self.clock.set(call.now_ns)
        self.books = call.books
        for item in call.items:
            if isinstance(item, BarItem):
                self.agent.on_bar(item.bar, publish=item.publish)
            elif isinstance(item, RestoreItem):
                if isinstance(self.agent, StrategyAgent):
                    self.agent.restore(decode_envelope(item.envelope))
            elif isinstance(item, DeliverItem):
                for wire in item.envelopes:
                    self.bus.inject(decode_envelope(wire))
            await self.bus.drain()
        published, self.captured.envs = self.captured.envs, []
        return RoleAnswer([encode_envelope(e) for e in published])


def _own_keys(config: SwarmConfig, name: str, role: str) -> tuple[AgentIdentity, KeyRegistry]:
    """This agent's keys only, and where the kernel's public keys are: the keystore's
    (its own key file decrypted, no other) and registry, or the demo's public-seed ones."""
    loaded = load_identities(config.identities, only=name)
    if loaded is None:
        (identity,) = demo_identities([(name, role)])
        (kernel,) = demo_identities([KERNEL])
        return identity, KeyRegistry([kernel.public()])
    (identity,), registry = loaded
    if identity.role != role:
        raise ConfigurationError("identities", name, f"no {role} identity with this name")
    return identity, registry


async def serve_role(
    config: SwarmConfig,
    slot: str,
    emit: Callable[[str], None],
    stop: asyncio.Event | None = None,
) -> None:
    """`tradeswarm run SLOT`: connect to the configured wire, answer the kernel's calls
    until stop is set (SIGTERM or Ctrl-C when None). A wire that drops is waited for
    (the client reconnects; the kernel resends what got no answer)."""
    if config.bus.backend == "memory":
        raise ConfigurationError(
            "bus.backend", "memory", "an agent in its own process needs a server (nats or redis)"
        )
    from tradeswarm.bus.factory import open_transport

    transport = open_transport(config.bus.transport())
    role = RoleProcess(config, slot, transport)  # config errors before any connection
    await transport.connect()
    stop = stop or _stop_on_signals()
    emit(f"ready {slot} as {role.keys.principal} on {config.bus.backend} {config.bus.url}")
    try:
        await role.server.serve(
            stop,
            lambda err: emit(f"warning: the wire failed ({type(err).__name__}: {err}); retrying"),
        )
    finally:
        await role.server.close()
        await transport.close()


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop
