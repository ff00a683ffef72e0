"""Build the five agents, the oversight desk, the bus, the store and the paper broker."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path

import msgspec

from tradeswarm.agents.analyzer import MarketAnalyzer
from tradeswarm.agents.strategy_host import StrategyAgent
from tradeswarm.agents.trader import Sizer, Sizing, TradingAgent
from tradeswarm.audit.charter import make_charter
from tradeswarm.brokers.paper import PaperBroker
from tradeswarm.brokers.paper_config import PaperBrokerConfig
from tradeswarm.bus.inproc import InProcessBus
from tradeswarm.bus.rpc import ANSWER_TYPE, AnswerCheck, RpcClient
from tradeswarm.bus.signed import VerifyingGate
from tradeswarm.bus.topics import HUMAN_COMMANDS, Role, Topic
from tradeswarm.bus.transport import Transport
from tradeswarm.compliance.agent import ComplianceAgent
from tradeswarm.core.clock import Clock, Sleeper
from tradeswarm.core.dburl import is_url
from tradeswarm.core.errors import ConfigurationError
from tradeswarm.crypto.contexts import SigningPolicy
from tradeswarm.crypto.identity import AgentIdentity
from tradeswarm.crypto.keys import Signer
from tradeswarm.crypto.reasons import SignatureInvalid
from tradeswarm.crypto.signing import verify_bytes
from tradeswarm.data.view import MarketView
from tradeswarm.execution.agent import ExecutionAgent
from tradeswarm.execution.pretrade import Collar
from tradeswarm.instruments import InstrumentMaster, load_master
from tradeswarm.model.market import Bar
from tradeswarm.model.messages import Message, OversightRequested
from tradeswarm.oversight.desk import OversightDesk
from tradeswarm.risk.limits import RiskLimits
from tradeswarm.risk.manager import RiskManager
from tradeswarm.store import Store
from tradeswarm.strategy.loader import load_strategies
from tradeswarm.system.agents import AGENT_NAMES, AGENTS, SwarmAgent
from tradeswarm.system.audit_wiring import build_audit_log
from tradeswarm.system.config import SwarmConfig
from tradeswarm.system.identities import SwarmIdentities, load_identities
from tradeswarm.system.killswitch import KillSwitchState
from tradeswarm.system.remote_agent import RemoteAgent, health
from tradeswarm.system.role_calls import STRATEGY_INPUTS, channel_of, remote_slots
from tradeswarm.system.role_seal import KERNEL, ChannelSeal
from tradeswarm.system.wire import LogShipper


def broker_path_for(db: str | Path) -> str:
    """The paper broker keeps its own books beside the swarm's: DB -> DB.broker; for a
    store at a PostgreSQL URL, the same database (the broker's tables in a schema of
    their own, `brokers.paper_state.BROKER_SCHEMA`)."""
    if is_url(db):
        return str(db)
    return ":memory:" if str(db) == ":memory:" else f"{db}.broker"


#: The store's meta key under which the kernel keeps its remote agents' health (JSON).
HEALTH_KEY = "agents.health"


class Swarm:
    """Everything one swarm is made of, wired once from one config."""

    def __init__(
        self,
        config: SwarmConfig,
        db: str | Path,
        clock: Clock,
        sleeper: Sleeper,
        notify: Callable[[OversightRequested], None] | None = None,
        broker_db: str | Path | None = None,
        identities: list[AgentIdentity] | None = None,
        signing: SigningPolicy | None = None,
        instruments: InstrumentMaster | None = None,
        broker_symbols: Sequence[str] | None = None,
        burst: bool = True,
        wire: Transport | None = None,
        trace_replay: bool = False,
    ) -> None:
        """wire: a connected transport the swarm streams its log to (`system.wire.
        LogShipper`, after each unit of work; `[bus] backend` other than memory needs
        one); identities: given here, else from config.identities (a keystore, or the demo's
        keys derived from a public seed); signing: which message types are signed with what
        (default: config.signing); instruments: the instrument master (default: the one
        config.instruments names); broker_symbols: what the paper broker lists (default:
        config.symbol); burst=False: the risk manager and the execution agent take their
        one-at-a-time paths (the reference, and the naive peer of `bench pipeline`).
        `self.registry` holds every public key, for verifiers. trace_replay: the remote
        agents' answers come from a trace served in this process (`system.trace`):
        neither signed nor sealed on a wire that is not there (each call is checked
        against the trace's hash, each envelope by the gate)."""
        self._trace_replay = trace_replay
        if config.bus.backend != "memory" and wire is None:  # before any file
            raise ConfigurationError(
                "bus.backend",
                config.bus.backend,
                "this entry point runs the swarm on the in-process bus only (the demo "
                "streams its log to the server: `tradeswarm demo --config`)",
            )
        self.remote_slots = remote_slots(config)
        if self.remote_slots and wire is None:
            raise ConfigurationError(
                "bus.remote_agents",
                config.bus.remote_agents,
                "agents in processes of their own need the wire: set bus.backend and bus.url",
            )
        self.wire = wire
        self.config = config
        self.clock = clock
        self.burst = burst
        if broker_symbols is None and config.strategies:  # the strategies' symbols listed too
            wanted = {config.symbol} | {s for spec in config.strategies for s in spec.symbols}
            broker_symbols = [config.symbol, *sorted(wanted - {config.symbol})]
        broker_config = _broker_config(config, broker_symbols)  # validated before any file
        self.instruments = traded_master(config, instruments)
        for k, spec in enumerate(config.strategies):
            for symbol in spec.symbols:
                found = self.instruments.get(symbol)
                if found is None or not found.tradable:
                    why = "is not in the instrument master" if found is None else "is not tradable"
                    field = f"strategies[{k}].symbols"
                    raise ConfigurationError(field, symbol, f"{why} ({self.instruments.source})")
        loaded = None if identities is not None else load_identities(config.identities)
        self._strategies = load_strategies(config.strategies) if config.strategies else []
        self._risk_limits = self._limits()  # a strategy's unknown tier: before any file
        members = [
            *AGENTS,
            *(SwarmAgent(f"strategy:{n}", n, Role.TRADER) for n, *_ in self._strategies),
        ]
        self.identities = SwarmIdentities.for_swarm(
            members,
            config.operator.approver,
            signing or config.signing.policy(),
            identities if loaded is None else loaded[0],
            None if loaded is None else loaded[1],
            humans=config.killswitch.approvers,
        )
        self.registry = self.identities.registry
        keystore = str(config.identities.keystore)  # checked before any file is created
        audit_keys = None if loaded is None else self.identities.audit_keys(keystore)
        self.store = Store.open(db, writer=True)  # the one process appending to its log
        self.store.set_initial_cash(config.initial_cash)
        cash = self.store.get_initial_cash() or config.initial_cash
        quorum = config.killswitch.rule()
        charter = make_charter(self.registry, self.identities.policy, cash, clock.now_ns(), quorum)
        self.audit = build_audit_log(self.store, clock, db, charter, audit_keys)
        self.shipper = None if wire is None else LogShipper(self.store, wire)
        broker_path = broker_path_for(db) if broker_db is None else broker_db
        self.broker = PaperBroker(clock, broker_config, broker_path)
        self.bus = InProcessBus(
            clock,
            sink=self.audit,
            group_log_writes=True,
            signing=self.identities.signing,
            max_batch=config.bus.max_batch,
        )
        self.gate = VerifyingGate(
            self.bus,
            self.registry,
            clock,
            policy=self.identities.policy,
            topics=HUMAN_COMMANDS,
            logged=self.store.has_event,
        )
        # before the agents' handlers: they read the flag this sets
        self.killswitch = KillSwitchState(self.bus, self.store, quorum)
        self.market = MarketView(
            spread=config.quote_spread, window=max(30, config.risk.min_history_bars)
        )
        self.remote: list[RemoteAgent] = []
        self._agent_gate: VerifyingGate | None = None
        self._build_agents(notify, sleeper)

    def _build_agents(
        self, notify: Callable[[OversightRequested], None] | None, sleeper: Sleeper
    ) -> None:
        c, bus, clock, n = self.config, self.bus, self.clock, AGENT_NAMES
        self.analyzer: MarketAnalyzer | RemoteAgent = (
            self._remote("analyzer", n["analyzer"], Role.ANALYZER)
            if "analyzer" in self.remote_slots
            else MarketAnalyzer(n["analyzer"], bus, clock)
        )
        self.trader: TradingAgent | RemoteAgent = (
            self._remote("trader", n["trader"], Role.TRADER, STRATEGY_INPUTS)
            if "trader" in self.remote_slots
            else TradingAgent(n["trader"], bus, clock, c.trader, self._sizer())
        )
        self.risk = RiskManager(
            n["risk"],
            bus,
            clock,
            store=self.store,
            market=self.market,
            limits=self._risk_limits,
            instruments=self.instruments,
            registry=self.registry,
            signing=self.identities.policy,
            oversight_timeout_s=c.oversight_timeout_s,
            burst=self.burst,
        )
        self.execution = ExecutionAgent(
            n["execution"],
            bus,
            clock,
            broker=self.broker,
            store=self.store,
            market=self.market,
            sleeper=sleeper,
            instruments=self.instruments,
            collar=Collar(_grid(c.risk.price_collar), c.risk.price_collar_ticks),
            config=c.execution,
            burst=self.burst,
        )
        self.compliance = ComplianceAgent(
            n["compliance"], bus, clock, store=self.store, config=c.compliance
        )
        self.desk = OversightDesk(n["desk"], bus, clock, store=self.store, notify=notify)
        self.strategies: list[StrategyAgent | RemoteAgent] = [
            self._remote(f"strategy:{name}", name, Role.TRADER, STRATEGY_INPUTS, self._books)
            if f"strategy:{name}" in self.remote_slots
            else StrategyAgent(name, bus, clock, strategy, list(spec.symbols), self._books)
            for name, spec, strategy in self._strategies
        ]

    def _remote(
        self,
        slot: str,
        name: str,
        role: Role,
        inputs: Sequence[Topic[Message]] = (),
        books: Callable[[], tuple[Decimal, Decimal]] | None = None,
    ) -> RemoteAgent:
        """The stand-in for slot's agent in its own process; every stand-in admits what
        its agent answers through one gate (`system.remote_agent`)."""
        assert self.wire is not None
        if self._agent_gate is None:
            self._agent_gate = VerifyingGate(
                self.bus,
                self.registry,
                self.clock,
                policy=self.identities.policy,
                logged=self.store.has_event,
            )
        bus_cfg, channel = self.config.bus, channel_of(slot)
        client = RpcClient(
            self.wire,
            channel,
            epoch=self._next_epoch(channel),
            retry_s=bus_cfg.call_retry_s,
            timeout_s=bus_cfg.call_timeout_s,
            check=None if self._trace_replay else self._signed_by(f"{role}:{name}"),
        )
        sealing = None
        if not self._trace_replay:
            kernel = self.identities.by_name[KERNEL[0]]
            peer = (name, str(role))
            sealing = ChannelSeal(client.channel, kernel, peer, self.registry, self.clock.now_ns)
        agent = RemoteAgent(
            name, role, self.bus, self.clock, self._agent_gate, client, inputs, books, sealing
        )
        self.remote.append(agent)
        return agent

    def _next_epoch(self, channel: str) -> int:
        """This kernel run's epoch on channel: its start, and past every earlier run's on
        this store even when the wall clock went back (an agent process that outlived
        the last kernel drops calls of an older epoch)."""
        key = f"rpc.epoch.{channel}"
        epoch = max(time.time_ns(), int(self.store.get_meta(key) or 0) + 1)
        self.store.set_meta(key, str(epoch))
        return epoch

    def _signed_by(self, principal: str) -> AnswerCheck:
        """Accepts a signature block by one of principal's keys valid now (the registry's,
        the checks every signature here takes: `crypto.signing.verify_bytes`)."""

        def check(block: bytes, data: bytes) -> bool:
            try:
                verify_bytes(
                    ANSWER_TYPE, data, block, self.registry,
                    principal=principal, signed_ns=self.clock.now_ns(),
                )  # fmt: skip
            except SignatureInvalid:
                return False
            return True

        return check

    def record_health(self) -> None:
        """What the kernel saw of each remote agent, in the store's meta (`HEALTH_KEY`),
        inside the current unit of work: `tradeswarm health` reads it."""
        if not self.remote:
            return
        report = {"updated_ns": time.time_ns(), "agents": [health(a) for a in self.remote]}
        self.store.set_meta(HEALTH_KEY, json.dumps(report))

    async def feed_bar(self, bar: Bar) -> None:
        """A closed bar to the analyzer and the strategies, in that order (whatever they
        publish is queued on the bus, as if they all ran here)."""
        self.analyzer.on_bar(bar)
        for agent in self.strategies:
            agent.on_bar(bar)
        for remote in (self.analyzer, *self.strategies):
            if isinstance(remote, RemoteAgent):
                await remote.flush()

    def _limits(self) -> RiskLimits:
        """The configured limits, each strategy agent under the tier its spec names."""
        limits = self.config.risk
        tiers = {name: spec.tier for name, spec, _ in self._strategies}
        for name, tier in tiers.items():
            if tier not in limits.tiers:
                raise ConfigurationError(
                    f"strategies[{name}].tier", tier, f"not in {sorted(limits.tiers)}"
                )
        if not tiers:
            return limits
        return msgspec.structs.replace(limits, agent_tiers={**limits.agent_tiers, **tiers})

    def _books(self) -> tuple[Decimal, Decimal]:
        """(cash, equity) from the swarm's books, positions at the market view's marks."""
        cash = self.store.get_cash()
        marks = self.market.marks()
        value = sum(
            (
                p.quantity * marks.get(s, p.avg_cost) * self.instruments[s].multiplier
                for s, p in self.store.get_positions().items()
                if s in self.instruments
            ),
            Decimal(0),
        )
        return cash, cash + value

    def _sizer(self) -> Sizer | None:
        if self.config.trader.sizing is not Sizing.PORTFOLIO:
            return None
        from tradeswarm.system.sizing import PortfolioSizer

        multipliers = {s: i.multiplier for s, i in self.instruments.items()}
        return PortfolioSizer(self.config.trader.portfolio, self.market, self.store, multipliers)

    def pump_inbox(self) -> int:
        """Pass every envelope waiting in the inbox (the CLI's, the scripted human's)
        through the swarm's VerifyingGate, inside the current unit of work: admitted ones
        are logged and queued on the bus, refusals are logged. Returns how many."""
        wires = self.store.take_inbox()
        for wire in wires:
            self.gate.receive_bytes(wire)
        return len(wires)

    def human_signer(self) -> Signer:
        """The configured human approver's key (config.operator.approver)."""
        return self.identities.human_signer(self.config.operator.approver)

    def close(self) -> None:
        self.broker.close()
        self.store.close()


def traded_master(config: SwarmConfig, given: InstrumentMaster | None = None) -> InstrumentMaster:
    """The instrument master (given, else the configured one); ConfigurationError unless it
    lists the traded symbol as tradable."""
    master = given if given is not None else load_master(config.instruments.file)
    found = master.get(config.symbol)
    if found is None or not found.tradable:
        why = "is not in the instrument master" if found is None else "is not tradable"
        raise ConfigurationError("symbol", config.symbol, f"{why} ({master.source})")
    return master


def _grid(fraction: float) -> Decimal:
    return Decimal(repr(fraction))


def _broker_config(config: SwarmConfig, symbols: Sequence[str] | None) -> PaperBrokerConfig:
    fees = config.broker
    return PaperBrokerConfig(
        initial_cash=config.initial_cash,
        symbols=[config.symbol] if symbols is None else list(symbols),
        fee_bps=fees.fee_bps,
        fee_min=fees.fee_min,
        slippage_bps=fees.slippage_bps,
        participation=fees.participation,
        rate_limit_per_sec=fees.rate_limit_per_sec,
        allow_short=config.risk.allow_short,
    )
