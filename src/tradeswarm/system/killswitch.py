"""The kill switch's state, a projection of its log entries.

`KillSwitchState` subscribes to the activation and resume topics and applies the quorum
rule (`model.killswitch.apply_command`, the rule the swarm's charter records and the
verifier applies) to each logged command, in the unit of work that logs it: it sets the
store's flag (which the risk manager and the execution agent read before every trade)
when a command takes effect, and keeps the votes still short of their quorum in the
store's meta (`killswitch.votes`), so they survive a restart. With the default rule (any
one human) every human command takes effect and no votes are ever kept.
"""

from __future__ import annotations

from tradeswarm.bus.inproc import InProcessBus
from tradeswarm.bus.topics import KILLSWITCH, RESUME
from tradeswarm.model.envelope import Envelope
from tradeswarm.model.killswitch import (
    DEFAULT_QUORUM,
    VOTES_KEY,
    KillSwitchQuorum,
    Votes,
    apply_command,
    decode_votes,
    encode_votes,
)
from tradeswarm.model.messages import KillSwitchActivated, TradingResumed
from tradeswarm.store import Store


def pending_votes(store: Store) -> Votes:
    """The votes the store keeps, cast since the flag was last set and short of quorum."""
    return decode_votes(store.get_meta(VOTES_KEY))


class KillSwitchState:
    """Keeps the store's kill-switch flag equal to what the logged commands decide."""

    def __init__(
        self, bus: InProcessBus, store: Store, rule: KillSwitchQuorum = DEFAULT_QUORUM
    ) -> None:
        self.store = store
        self.rule = rule
        bus.subscribe(KILLSWITCH, self.on_activated)
        bus.subscribe(RESUME, self.on_resumed)

    async def on_activated(self, env: Envelope) -> None:
        command = env.payload
        assert isinstance(command, KillSwitchActivated)
        self._apply(env, True, command.reason)

    async def on_resumed(self, env: Envelope) -> None:
        assert isinstance(env.payload, TradingResumed)
        self._apply(env, False, "resumed")  # the rule moves nothing on a non-human's resume

    def _apply(self, env: Envelope, activate: bool, detail: str) -> None:
        before = self.store.get_meta(VOTES_KEY) or ""
        outcome = apply_command(self.rule, decode_votes(before), env.sender, activate, detail)
        with self.store.transaction():
            if outcome.flag is not None:
                self.store.set_killswitch(outcome.flag, outcome.reason, env.ts_ns)
            after = encode_votes(outcome.votes)
            if after != before:
                self.store.set_meta(VOTES_KEY, after)
