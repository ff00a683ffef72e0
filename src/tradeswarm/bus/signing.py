"""The bus's signing hook: which message types are signed, and by whose keys."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from tradeswarm.bus.identity import Identity
from tradeswarm.core.errors import AccessDenied
from tradeswarm.crypto.contexts import SigningPolicy
from tradeswarm.crypto.identity import AgentIdentity
from tradeswarm.crypto.signing import sign_envelope
from tradeswarm.model.envelope import Envelope


class BusSigning:
    """The bus's signing hook: each identity's keys and which message types are signed.

    Envelopes of the policy's types are signed by their publisher's key before they are
    logged or delivered; a publisher without keys cannot publish those types.
    """

    def __init__(self, policy: SigningPolicy, identities: Iterable[AgentIdentity] = ()) -> None:
        self.policy = policy
        self._keys: dict[str, AgentIdentity] = {}
        for identity in identities:
            self.add(identity)

    def add(self, identity: AgentIdentity) -> None:
        self._keys[identity.principal] = identity

    def keys_for(self, sender: Identity) -> AgentIdentity | None:
        return self._keys.get(str(sender))

    def sign(self, env: Envelope, keys: AgentIdentity | None) -> Envelope:
        if not self.policy.requires(env.type):
            return env
        if keys is None:
            raise AccessDenied(f"{env.sender} has no signing key; {env.type} must be signed")
        return sign_envelope(env, keys.signer(self.policy.algorithm_for(env.type)))

    def sign_many(self, envs: Sequence[Envelope], keys: AgentIdentity | None) -> list[Envelope]:
        """The envelopes one publisher publishes in one burst, each signed as ``sign``
        would sign it (one signature per envelope)."""
        return [self.sign(env, keys) for env in envs]
