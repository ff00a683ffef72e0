"""The kill switch's quorum: a human's kill or resume is a vote that takes effect when k of
the configured approvers have cast it; an automatic halt never waits. Each control is
tried by the vote that should not get past it."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest

from quorum_kit import JANE, KIM, SAM, QuorumRig, quorum_config
from tradeswarm.audit.charter import charter_envelope, latest_charter, make_charter, quorum_of
from tradeswarm.audit.demo_keys import demo_log_signers
from tradeswarm.bus.topics import RESUME
from tradeswarm.core.errors import AccessDenied, ConfigurationError
from tradeswarm.crypto.contexts import SigningPolicy
from tradeswarm.crypto.registry import KeyRegistry
from tradeswarm.model.killswitch import (
    DEFAULT_QUORUM,
    NO_VOTES,
    VOTES_KEY,
    KillSwitchQuorum,
    Votes,
    apply_command,
    decode_votes,
)
from tradeswarm.model.messages import TradingResumed
from tradeswarm.system.config import KillSwitchConfig, SwarmConfig, load_config
from tradeswarm.system.status import swarm_status

RULE = KillSwitchQuorum(approvers=[JANE, SAM], activate_quorum=2, resume_quorum=2)


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[QuorumRig]:
    made = QuorumRig(tmp_path / "swarm.sqlite", quorum_config(activate_quorum=2, resume_quorum=2))
    yield made
    made.close()


# -- the rule itself -------------------------------------------------------------------


def test_the_default_rule_lets_any_one_human_move_the_flag_with_the_old_reason() -> None:
    on = apply_command(DEFAULT_QUORUM, NO_VOTES, "human:bob", True, "drill")
    off = apply_command(DEFAULT_QUORUM, NO_VOTES, "human:bob", False, "resumed")
    assert (on.flag, on.reason, on.votes) == (True, "human:bob: drill", NO_VOTES)
    assert (off.flag, off.reason, off.votes) == (False, "human:bob: resumed", NO_VOTES)


def test_a_second_approver_completes_the_quorum_and_the_reason_names_both() -> None:
    first = apply_command(RULE, NO_VOTES, f"human:{JANE}", False, "resumed")
    assert first.flag is None and first.votes == Votes(resume=[JANE])
    second = apply_command(RULE, first.votes, f"human:{SAM}", False, "resumed")
    assert second.flag is False
    assert second.reason == f"human:{SAM}: resumed (2 of 2: {JANE}, {SAM})"
    assert second.votes == NO_VOTES


def test_repeated_and_foreign_votes_change_nothing() -> None:
    held = Votes(resume=[JANE])
    for sender in (f"human:{JANE}", f"human:{KIM}", f"risk-manager:{JANE}"):
        outcome = apply_command(RULE, held, sender, False, "resumed")
        assert (outcome.flag, outcome.votes) == (None, held), sender


def test_a_non_human_halt_is_at_once_and_clears_the_votes_but_cannot_resume() -> None:
    held = Votes(activate=[JANE], resume=[SAM])
    halt = apply_command(RULE, held, "execution-agent:x", True, "fatal")
    assert (halt.flag, halt.votes) == (True, NO_VOTES)
    resume = apply_command(RULE, held, "system:ops", False, "resumed")
    assert (resume.flag, resume.votes) == (None, held)


def test_the_two_directions_are_tallied_apart() -> None:
    kill = apply_command(RULE, NO_VOTES, f"human:{JANE}", True, "drill")
    resume = apply_command(RULE, kill.votes, f"human:{SAM}", False, "resumed")
    assert resume.flag is None and resume.votes == Votes(activate=[JANE], resume=[SAM])


def test_a_vote_cast_by_someone_no_longer_an_approver_no_longer_counts() -> None:
    narrower = KillSwitchQuorum(approvers=[SAM, KIM], resume_quorum=2)
    outcome = apply_command(narrower, Votes(resume=[JANE]), f"human:{SAM}", False, "resumed")
    assert outcome.flag is None and outcome.votes == Votes(resume=[SAM])


def test_an_empty_approver_list_counts_any_human() -> None:
    rule = KillSwitchQuorum(resume_quorum=2)
    first = apply_command(rule, NO_VOTES, "human:anyone", False, "resumed")
    second = apply_command(rule, first.votes, "human:someone", False, "resumed")
    assert first.flag is None and second.flag is False


# -- the config ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field", "value"),
    [
        ({"resume_quorum": 0}, "killswitch.resume_quorum", 0),
        ({"activate_quorum": -1}, "killswitch.activate_quorum", -1),
        ({"approvers": [JANE, SAM], "resume_quorum": 3}, "killswitch.resume_quorum", 3),
        ({"approvers": [JANE], "activate_quorum": 2}, "killswitch.activate_quorum", 2),
        ({"approvers": [JANE, JANE]}, "killswitch.approvers", [JANE]),
        ({"approvers": [JANE, " "]}, "killswitch.approvers", [JANE, " "]),
        ({"approvers": [f"human:{JANE}"]}, "killswitch.approvers", [f"human:{JANE}"]),
    ],
)
def test_a_bad_killswitch_section_names_the_field_and_value(
    fields: dict[str, object], field: str, value: object
) -> None:
    with pytest.raises(ConfigurationError) as raised:
        KillSwitchConfig(**fields)  # type: ignore[arg-type]
    assert (raised.value.field, raised.value.value) == (field, value)


def test_a_bad_killswitch_section_is_refused_when_the_toml_is_loaded(tmp_path: Path) -> None:
    toml = tmp_path / "swarm.toml"
    toml.write_text('[killswitch]\napprovers = ["a", "b"]\nresume_quorum = 3\n', "utf-8")
    with pytest.raises(ConfigurationError) as raised:
        load_config(toml)
    assert (raised.value.field, raised.value.value) == ("killswitch.resume_quorum", 3)
    toml.write_text('[killswitch]\napprovers = ["a", "b"]\nresume_quorum = 2\n', "utf-8")
    assert load_config(toml).killswitch.rule() == KillSwitchQuorum(
        approvers=["a", "b"], resume_quorum=2
    )


def test_a_quorum_with_no_upper_bound_needs_no_approvers_listed() -> None:
    assert KillSwitchConfig(resume_quorum=5).rule().resume_quorum == 5


def test_an_approver_missing_from_a_keystore_is_refused_naming_it(tmp_path: Path) -> None:
    from tradeswarm.crypto.provision import demo_identities
    from tradeswarm.system.agents import AGENTS
    from tradeswarm.system.identities import SwarmIdentities

    given = demo_identities([(a.name, str(a.role)) for a in AGENTS] + [(KIM, "human")])
    policy = SwarmConfig().signing.policy()
    with pytest.raises(ConfigurationError) as raised:
        SwarmIdentities.for_swarm(AGENTS, KIM, policy, given, humans=[JANE])
    assert raised.value.value == JANE


# -- the charter -----------------------------------------------------------------------


def test_a_default_charter_is_byte_for_byte_what_it_was() -> None:
    registry, policy = KeyRegistry([]), SigningPolicy()
    plain = make_charter(registry, policy, Decimal(1000), 5)
    assert plain.killswitch is None
    assert b"killswitch" not in msgspec.json.encode(plain)
    quorum = make_charter(registry, policy, Decimal(1000), 5, RULE)
    assert quorum_of(quorum) == RULE and quorum_of(plain) == DEFAULT_QUORUM
    (signer, *_) = demo_log_signers()
    a, b = (charter_envelope(c, "audit-log:x", signer) for c in (plain, quorum))
    assert a.msg_id != b.msg_id  # the rule is among the charter's terms


def test_the_swarm_records_its_quorum_in_its_charter(rig: QuorumRig) -> None:
    charter = latest_charter(rig.swarm.store)
    assert charter is not None and quorum_of(charter) == RULE


# -- the swarm -------------------------------------------------------------------------


async def _halted_by_both(rig: QuorumRig) -> None:
    await rig.vote(JANE, True)
    assert not rig.on  # one human's kill of two
    await rig.vote(SAM, True)
    assert rig.on
    reason = rig.meta("killswitch.reason") or ""
    assert reason.endswith(f"human:{SAM}: drill (2 of 2: {JANE}, {SAM})")


@pytest.mark.asyncio
async def test_one_resume_of_two_leaves_trading_halted_and_the_second_clears_it(
    rig: QuorumRig,
) -> None:
    await _halted_by_both(rig)
    await rig.vote(JANE, False)
    assert rig.on
    assert decode_votes(rig.meta(VOTES_KEY)) == Votes(resume=[JANE])
    await rig.vote(SAM, False)
    assert not rig.on
    reason = rig.meta("killswitch.reason") or ""
    assert reason.endswith(f"human:{SAM}: resumed (2 of 2: {JANE}, {SAM})")
    assert decode_votes(rig.meta(VOTES_KEY)) == NO_VOTES


@pytest.mark.asyncio
async def test_the_same_approver_resuming_twice_does_not_clear_it(rig: QuorumRig) -> None:
    await _halted_by_both(rig)
    await rig.vote(JANE, False)
    await rig.vote(JANE, False)
    assert rig.on
    assert decode_votes(rig.meta(VOTES_KEY)) == Votes(resume=[JANE])


@pytest.mark.asyncio
async def test_a_non_approver_resume_does_not_count(rig: QuorumRig) -> None:
    await _halted_by_both(rig)
    await rig.vote(KIM, False)
    await rig.vote(JANE, False)
    assert rig.on  # Kim's vote, logged, is not the second one
    resumes = [e.sender for e in rig.log() if isinstance(e.payload, TradingResumed)]
    assert resumes == [f"human:{KIM}", f"human:{JANE}"]  # both logged as received


@pytest.mark.asyncio
async def test_human_activations_need_two_but_an_automatic_halt_does_not(
    rig: QuorumRig,
) -> None:
    await rig.vote(JANE, True)
    assert not rig.on
    await rig.vote(JANE, True)
    assert not rig.on
    await rig.automatic_halt()  # the execution agent's halt: at once
    assert rig.on
    assert decode_votes(rig.meta(VOTES_KEY)) == NO_VOTES  # the flag was set: votes start over


@pytest.mark.asyncio
async def test_a_risk_managers_halt_takes_effect_at_once(rig: QuorumRig) -> None:
    await rig.risk_halt()
    assert rig.on
    assert (rig.meta("killswitch.reason") or "").endswith(": drawdown")


@pytest.mark.asyncio
async def test_votes_survive_a_restart_of_the_swarm(rig: QuorumRig) -> None:
    await _halted_by_both(rig)
    await rig.vote(SAM, False)
    rig.restart()
    assert rig.on
    status = await swarm_status(rig.swarm.store, rig.swarm.broker)
    assert status["killswitch_votes"] == {"activate": [], "resume": [SAM]}
    await rig.vote(JANE, False)
    assert not rig.on
    assert "killswitch_votes" not in await swarm_status(rig.swarm.store, rig.swarm.broker)


@pytest.mark.asyncio
async def test_with_the_default_config_one_human_moves_the_flag_and_no_votes_are_kept(
    tmp_path: Path,
) -> None:
    rig = QuorumRig(tmp_path / "plain.sqlite", SwarmConfig())
    try:
        await rig.vote("jane.doe@desk", True)
        assert rig.on
        await rig.vote("jane.doe@desk", False)
        assert not rig.on
        assert rig.meta(VOTES_KEY) is None
        charter = latest_charter(rig.swarm.store)
        assert charter is not None and charter.killswitch is None
    finally:
        rig.close()


@pytest.mark.asyncio
async def test_no_agent_can_resume_past_the_quorum(rig: QuorumRig) -> None:
    await _halted_by_both(rig)
    await rig.vote(JANE, False)
    resume = TradingResumed(resumed_by="risk", ts_event=rig.clock.now_ns())
    with pytest.raises(AccessDenied):  # the topic's ACL: humans only
        rig.swarm.risk.out.publish(RESUME, resume, key="sneak")
    assert rig.on
