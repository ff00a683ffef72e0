"""SwarmConfig: one frozen, typed config for the whole swarm; unknown keys are errors."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import msgspec

from tradeswarm.agents.trader import TraderConfig
from tradeswarm.bus.inproc import MAX_BATCH
from tradeswarm.bus.transport import TransportConfig
from tradeswarm.compliance.agent import ComplianceConfig
from tradeswarm.core.config import ConfigBase, load_toml
from tradeswarm.core.errors import ConfigurationError
from tradeswarm.crypto.contexts import NON_REPUDIABLE, SigningPolicy
from tradeswarm.crypto.keys import signing_algorithm
from tradeswarm.data.csv_bars import BUNDLED_SYMBOL
from tradeswarm.execution.pretrade import ExecutionConfig
from tradeswarm.model.killswitch import HUMAN_PREFIX, KillSwitchQuorum
from tradeswarm.risk.limits import RiskLimits
from tradeswarm.strategy.loader import StrategySpec


class OperatorConfig(ConfigBase, frozen=True):
    """The demo's scripted human: approves every other request, ignores the rest."""

    approver: str = "jane.doe@desk"
    respond_after_s: int = 96
    approve_every: int = 2  # approve requests 1, 3, 5 ...; leave 2, 4 ... unanswered


class FeeConfig(ConfigBase, frozen=True):
    fee_bps: Decimal = Decimal("0.5")
    fee_min: Decimal = Decimal("2.50")
    slippage_bps: Decimal = Decimal("0.5")
    participation: Decimal = Decimal("0.1")
    rate_limit_per_sec: int = 50


class SigningConfig(ConfigBase, frozen=True):
    """[signing]: which message types the bus signs, with which algorithm.

    signed_types: message type names (default: the non-repudiable ones);
    default_algorithm: "ed25519" or "ml-dsa-87"; algorithms: per-type overrides,
    e.g. {OversightDecided = "ml-dsa-87"} (it also sets the algorithm of the human's own
    signature on oversight decisions). Verifiers given the policy refuse a downgrade.
    per_message_types: the signed types never signed by a burst's Merkle root, each
    envelope of them keeping a signature of its own (default: none).
    """

    signed_types: list[str] = msgspec.field(default_factory=lambda: sorted(NON_REPUDIABLE))
    default_algorithm: str = "ed25519"
    algorithms: dict[str, str] = msgspec.field(default_factory=dict)
    per_message_types: list[str] = msgspec.field(default_factory=list)

    def __post_init__(self) -> None:
        self.policy()  # every name and algorithm checked at load time

    def policy(self) -> SigningPolicy:
        """The SigningPolicy this section describes (ConfigurationError naming the field)."""
        return SigningPolicy(
            signed_types=frozenset(self.signed_types),
            default_algorithm=signing_algorithm(
                self.default_algorithm, "signing.default_algorithm"
            ),
            algorithms={
                name: signing_algorithm(alg, f"signing.algorithms.{name}")
                for name, alg in self.algorithms.items()
            },
            per_message_types=frozenset(self.per_message_types),
        )


class BusConfig(ConfigBase, frozen=True):
    """[bus]: max_batch bounds the run of one topic's envelopes the bus delivers to a
    batch subscriber in one call (a burst decided, submitted, written and logged at once);
    larger runs cost fewer calls per message, smaller ones bound a message's wait.

    The wire between processes (`bus.transport`): backend ("memory", "nats", "redis"),
    url, namespace and the delivery limits, checked by `tradeswarm bus check` and read by
    `tradeswarm bus dead-letters`; the demo streams its log to it.

    remote_agents: the agents that run in processes of their own (`tradeswarm run SLOT`,
    started by `tradeswarm up`): "analyzer", "trader", "strategy:NAME"; the kernel
    process keeps the rest (risk, execution, compliance, the desk: they share the books)
    and the log. call_timeout_s: how long the kernel waits for such an agent to answer
    one call (resending it every call_retry_s) before it stops the day.
    """

    max_batch: int = MAX_BATCH
    backend: str = "memory"
    url: str = ""
    namespace: str = "ts"
    ack_wait_s: float = 5.0
    max_deliver: int = 3
    max_redeliver: int = 20
    max_in_flight: int = 1_000
    connect_timeout_s: float = 5.0
    remote_agents: list[str] = msgspec.field(default_factory=list)
    call_retry_s: float = 2.0
    call_timeout_s: float = 60.0

    def __post_init__(self) -> None:
        if self.max_batch < 1:
            raise ConfigurationError("bus.max_batch", self.max_batch, "must be at least 1")
        self.transport()  # every wire field checked at load, naming it
        if not 0 < self.call_retry_s <= self.call_timeout_s:
            raise ConfigurationError(
                "bus.call_retry_s", self.call_retry_s, "must be in (0, bus.call_timeout_s]"
            )
        if len(set(self.remote_agents)) != len(self.remote_agents):
            raise ConfigurationError("bus.remote_agents", self.remote_agents, "names one twice")

    def transport(self) -> TransportConfig:
        """The wire's settings (`bus.transport.TransportConfig`)."""
        return TransportConfig(
            backend=self.backend,
            url=self.url,
            namespace=self.namespace,
            ack_wait_s=self.ack_wait_s,
            max_deliver=self.max_deliver,
            max_redeliver=self.max_redeliver,
            max_in_flight=self.max_in_flight,
            connect_timeout_s=self.connect_timeout_s,
        )


class KillSwitchConfig(ConfigBase, frozen=True):
    """[killswitch]: how many humans must sign a kill or a resume.

    approvers: the human names whose votes count (empty: any human in the registry);
    activate_quorum / resume_quorum: how many distinct approvers must have voted the
    same way since the flag was last set (default 1: any one of them, as before). An
    automatic halt (execution, risk, compliance, system) stops trading at once whatever
    the quorum. The swarm records the rule in its charter; the verifier applies it.
    """

    approvers: list[str] = msgspec.field(default_factory=list)
    activate_quorum: int = 1
    resume_quorum: int = 1

    def __post_init__(self) -> None:
        for name in self.approvers:
            if not name.strip() or name.startswith(HUMAN_PREFIX):
                why = "each approver must be a non-empty name, without the human: prefix"
                raise ConfigurationError("killswitch.approvers", self.approvers, why)
        if len(set(self.approvers)) != len(self.approvers):
            dup = sorted({a for a in self.approvers if self.approvers.count(a) > 1})
            raise ConfigurationError("killswitch.approvers", dup, "listed more than once")
        for field in ("activate_quorum", "resume_quorum"):
            value: int = getattr(self, field)
            if value < 1:
                raise ConfigurationError(f"killswitch.{field}", value, "must be at least 1")
            if self.approvers and value > len(self.approvers):
                why = f"more than the {len(self.approvers)} approvers listed"
                raise ConfigurationError(f"killswitch.{field}", value, why)

    def rule(self) -> KillSwitchQuorum:
        """The quorum rule this section describes (`model.killswitch`)."""
        return KillSwitchQuorum(
            approvers=list(self.approvers),
            activate_quorum=self.activate_quorum,
            resume_quorum=self.resume_quorum,
        )


class IdentitiesConfig(ConfigBase, frozen=True):
    """[identities]: where the swarm's keys come from.

    `demo = true` (the default when no keystore is named): keys derived from a public seed,
    reproducible and protecting nothing. `keystore = "DIR"`: the identities provisioned
    there by `tradeswarm agents provision` (a path relative to the working directory),
    decrypted with the passphrase in the environment variable `passphrase_env`; the
    swarm verifies against the keystore's registry.json (rotations, revocations, every
    human approver).
    """

    demo: bool | None = None
    keystore: str | None = None
    passphrase_env: str = "TRADESWARM_PASSPHRASE"

    def __post_init__(self) -> None:
        if self.demo is True and self.keystore is not None:
            raise ConfigurationError(
                "identities.demo", True, f"conflicts with identities.keystore = {self.keystore!r}"
            )
        if self.demo is False and self.keystore is None:
            raise ConfigurationError(
                "identities.keystore", None, "needed when identities.demo = false"
            )
        if self.keystore is not None and not self.keystore.strip():
            raise ConfigurationError("identities.keystore", self.keystore, "must not be empty")
        if not self.passphrase_env or not self.passphrase_env.replace("_", "").isalnum():
            raise ConfigurationError(
                "identities.passphrase_env",
                self.passphrase_env,
                "must name an environment variable (letters, digits, _)",
            )

    @property
    def uses_demo_keys(self) -> bool:
        return self.keystore is None


class InstrumentsConfig(ConfigBase, frozen=True):
    """[instruments]: the instrument master the gate trusts (asset class, multiplier, tick,
    lot, venue, calendar, tradable). file: a TOML file of `[instruments.SYMBOL]` tables;
    default: the bundled master (tradeswarm/instruments/instruments.toml)."""

    file: str | None = None


class SwarmConfig(ConfigBase, frozen=True):
    seed: int = 7
    day: str = "2006-01-04"
    symbol: str = BUNDLED_SYMBOL
    initial_cash: Decimal = Decimal(5_000_000)
    quote_spread: Decimal = Decimal(1)
    oversight_timeout_s: int = 300
    risk: RiskLimits = RiskLimits()
    trader: TraderConfig = TraderConfig()
    execution: ExecutionConfig = ExecutionConfig()
    compliance: ComplianceConfig = ComplianceConfig()
    broker: FeeConfig = FeeConfig()
    operator: OperatorConfig = OperatorConfig()
    signing: SigningConfig = SigningConfig()
    bus: BusConfig = BusConfig()
    killswitch: KillSwitchConfig = KillSwitchConfig()
    identities: IdentitiesConfig = IdentitiesConfig()
    instruments: InstrumentsConfig = InstrumentsConfig()
    # users' strategies as trading agents of the swarm, beside the built-in trader
    strategies: list[StrategySpec] = msgspec.field(default_factory=list)

    def __post_init__(self) -> None:
        for name in ("initial_cash", "quote_spread"):
            value: Decimal = getattr(self, name)
            if not (value.is_finite() and value >= 0):
                raise ConfigurationError(name, value, "must be finite and >= 0")
        if self.oversight_timeout_s <= 0:
            raise ConfigurationError("oversight_timeout_s", self.oversight_timeout_s, "must be > 0")


def load_config(path: Path | None) -> SwarmConfig:
    """The defaults, or a TOML file validated against SwarmConfig."""
    return SwarmConfig() if path is None else load_toml(path, SwarmConfig)
