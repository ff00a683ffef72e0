"""A real swarm (bus, store, gate, log) whose kill switch asks for a quorum of approvers.

Jane and Sam are the approvers; Kim, the swarm's oversight approver, is a human in the
registry but not among them. Humans vote as the CLI does: a signed command in the
store's inbox, taken through the swarm's VerifyingGate in the next unit of work.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from tradeswarm.bus.identity import Identity
from tradeswarm.bus.topics import KILLSWITCH, Role
from tradeswarm.cli.main import app
from tradeswarm.core.clock import NS_PER_SECOND, SimClock, SimSleeper
from tradeswarm.model.envelope import Envelope, decode_envelope
from tradeswarm.model.messages import KillSwitchActivated
from tradeswarm.oversight.service import resume_trading, stop_trading, submit
from tradeswarm.system.config import KillSwitchConfig, OperatorConfig, SwarmConfig
from tradeswarm.system.swarm import Swarm

JANE = "jane.doe@desk"
SAM = "sam.lee@desk"
KIM = "kim.ng@desk"  # a human the registry knows, not an approver
START = 1_136_365_200 * NS_PER_SECOND  # 2006-01-04 09:00 UTC


def quorum_config(**quorums: int) -> SwarmConfig:
    killswitch = KillSwitchConfig(approvers=[JANE, SAM], **quorums)
    return SwarmConfig(operator=OperatorConfig(approver=KIM), killswitch=killswitch)


class QuorumRig:
    """The swarm on a SimClock; restart() closes it and builds it again on the same store."""

    def __init__(self, db: Path, config: SwarmConfig) -> None:
        self.db, self.config = db, config
        self.clock = SimClock(START)
        self.swarm = self._open()

    def _open(self) -> Swarm:
        return Swarm(self.config, self.db, self.clock, SimSleeper(self.clock))

    def restart(self) -> None:
        self.swarm.close()
        self.clock.advance(NS_PER_SECOND)
        self.swarm = self._open()

    def close(self) -> None:
        self.swarm.close()

    async def step(self) -> None:
        """One unit of work: the inbox through the gate, then delivery."""
        with self.swarm.store.transaction():
            self.swarm.pump_inbox()
            await self.swarm.bus.drain()

    async def vote(self, name: str, activate: bool) -> None:
        """A human's signed kill (activate) or resume, queued and taken in one step."""
        self.clock.advance(NS_PER_SECOND)
        ids = self.swarm.identities
        kind = "KillSwitchActivated" if activate else "TradingResumed"
        signer = ids.by_name[name].signer(ids.policy.algorithm_for(kind))
        who, now = Identity(name, Role.HUMAN), self.clock.now_ns()
        if activate:
            env = stop_trading(who, "drill", now, signer=signer)
        else:
            env = resume_trading(who, now, signer=signer)
        submit(self.swarm.store, env)
        await self.step()

    async def automatic_halt(self) -> None:
        """The execution agent's own halt, as on a fatal broker error."""
        self.clock.advance(NS_PER_SECOND)
        with self.swarm.store.transaction():
            self.swarm.execution._halt("broker fatal error E42", None)
            await self.swarm.bus.drain()

    async def risk_halt(self) -> None:
        """A halt the risk manager publishes on the kill-switch topic."""
        self.clock.advance(NS_PER_SECOND)
        risk = self.swarm.risk.out
        now = self.clock.now_ns()
        halt = KillSwitchActivated(reason="drawdown", triggered_by=str(risk.identity), ts_event=now)
        with self.swarm.store.transaction():
            risk.publish(KILLSWITCH, halt, key=f"halt:{now}")
            await self.swarm.bus.drain()

    @property
    def on(self) -> bool:
        return self.swarm.store.killswitch_active()

    def log(self) -> list[Envelope]:
        return [decode_envelope(r.body) for r in self.swarm.store.iter_events()]

    def meta(self, key: str) -> str | None:
        return self.swarm.store.get_meta(key)


def cli(*args: str | Path) -> Any:
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def verify_all(db: Path) -> Any:
    return cli("audit", "verify", "--all", "--db", db, "--demo-keys")
