"""The kill switch's quorum rule: who may move the flag, and how many must agree.

One pure rule, applied by the swarm (`system.killswitch.KillSwitchState`) to each logged
command and by the verifier (`audit.rebuild`) to the log, so both reach the same flag.
A human's activation or resume is a vote; it takes effect when `quorum` distinct
approvers (the `approvers` listed, or any `human:` sender when the list is empty) have
voted the same way since the flag was last set. A vote from a non-approver, or a second
one from the same approver, changes nothing. A halt from any other sender (the execution
agent, the risk manager, compliance, the system) takes effect at once: a safety stop
never waits. Votes for the two directions are tallied apart; the flag being set, either
way, clears both tallies.
"""

from __future__ import annotations

import msgspec

HUMAN_PREFIX = "human:"
#: The store's meta key for the votes still short of their quorum.
VOTES_KEY = "killswitch.votes"


class KillSwitchQuorum(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """How many approvers must sign a human kill or resume (the charter records it)."""

    approvers: list[str] = msgspec.field(default_factory=list)
    activate_quorum: int = 1
    resume_quorum: int = 1

    @property
    def is_default(self) -> bool:
        """Any human, alone, moves the flag (the behaviour before quorums existed)."""
        return not self.approvers and self.activate_quorum == 1 and self.resume_quorum == 1

    def approver_of(self, sender: str) -> str | None:
        """The approver's name a sender votes as, or None when its vote does not count."""
        if not sender.startswith(HUMAN_PREFIX):
            return None
        name = sender[len(HUMAN_PREFIX) :]
        return name if not self.approvers or name in self.approvers else None

    def quorum(self, activate: bool) -> int:
        return self.activate_quorum if activate else self.resume_quorum


DEFAULT_QUORUM = KillSwitchQuorum()


class Votes(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """The votes cast since the flag was last set, per direction, in the order cast."""

    activate: list[str] = msgspec.field(default_factory=list)
    resume: list[str] = msgspec.field(default_factory=list)

    def of(self, activate: bool) -> list[str]:
        return self.activate if activate else self.resume

    @property
    def empty(self) -> bool:
        return not self.activate and not self.resume


NO_VOTES = Votes()


class Outcome(msgspec.Struct, frozen=True, kw_only=True):
    """What one command does: the flag set (None: unchanged), why, the votes after it."""

    flag: bool | None
    reason: str
    votes: Votes


def apply_command(
    rule: KillSwitchQuorum, votes: Votes, sender: str, activate: bool, detail: str
) -> Outcome:
    """The effect of one logged activation (activate=True, detail: its reason) or resume
    (detail: "resumed") from sender, given the votes pending before it."""
    reason = f"{sender}: {detail}"
    if not sender.startswith(HUMAN_PREFIX):
        if activate:  # an automatic halt: at once, whatever the quorum
            return Outcome(flag=True, reason=reason, votes=NO_VOTES)
        return Outcome(flag=None, reason="", votes=votes)  # only humans resume
    name = rule.approver_of(sender)
    cast = votes.of(activate)
    if name is None or name in cast:
        return Outcome(flag=None, reason="", votes=votes)
    counted = [v for v in (*cast, name) if rule.approver_of(HUMAN_PREFIX + v) is not None]
    need = rule.quorum(activate)
    if len(counted) >= need:
        if need > 1:
            reason += f" ({len(counted)} of {need}: {', '.join(counted)})"
        return Outcome(flag=activate, reason=reason, votes=NO_VOTES)
    if activate:
        pending = Votes(activate=counted, resume=votes.resume)
    else:
        pending = Votes(activate=votes.activate, resume=counted)
    return Outcome(flag=None, reason="", votes=pending)


_encoder = msgspec.json.Encoder(order="sorted")


def encode_votes(votes: Votes) -> str:
    """The votes as the store's meta keeps them ("" for none)."""
    return "" if votes.empty else _encoder.encode(votes).decode()


def decode_votes(text: str | None) -> Votes:
    """The votes from the store's meta (none for a missing or empty value)."""
    return msgspec.json.decode(text, type=Votes) if text else NO_VOTES
