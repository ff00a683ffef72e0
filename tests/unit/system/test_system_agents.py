"""One table of agents: the Swarm builds each slot under the table's name and role, the
swarm's identities hold exactly those agents and the human approver, and the example
batch file provisions every one of them."""

from __future__ import annotations

from pathlib import Path

from tradeswarm.bus.identity import Identity
from tradeswarm.bus.topics import Role
from tradeswarm.core.clock import SimClock, SimSleeper
from tradeswarm.crypto.provision import load_swarm_spec
from tradeswarm.system.agents import AGENT_NAMES, AGENTS
from tradeswarm.system.config import SwarmConfig
from tradeswarm.system.identities import swarm_members
from tradeswarm.system.swarm import Swarm

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "swarm.yaml"


def test_slots_names_and_roles_are_each_unique() -> None:
    for column in zip(*AGENTS, strict=True):
        assert len(set(column)) == len(AGENTS)
    assert dict(AGENT_NAMES) == {a.slot: a.name for a in AGENTS}


def test_the_swarm_builds_every_agent_of_the_table_and_no_other(tmp_path: Path) -> None:
    clock = SimClock(0)
    config = SwarmConfig()
    swarm = Swarm(config, tmp_path / "swarm.sqlite", clock, SimSleeper(clock))
    try:
        for agent in AGENTS:
            assert getattr(swarm, agent.slot).identity == Identity(agent.name, agent.role)
        members = swarm_members(AGENTS, config.operator.approver)
        assert sorted((i.name, i.role) for i in swarm.identities.by_name.values()) == sorted(
            members
        )
        assert members[-1] == (config.operator.approver, str(Role.HUMAN))
    finally:
        swarm.close()


def test_the_example_batch_provisions_every_member_of_the_default_swarm() -> None:
    spec = load_swarm_spec(EXAMPLE, {str(r) for r in Role})
    provisioned = {(a.name, a.type) for a in spec.agents}
    assert set(swarm_members(AGENTS, SwarmConfig().operator.approver)) <= provisioned
    assert {t for _, t in provisioned} >= {str(Role.AUDIT_LOG), str(Role.WITNESS)}
