"""The bus's signing hook: which message types are signed, and by whose keys."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from tradeswarm.bus.identity import Identity
from tradeswarm.core.errors import AccessDenied
from tradeswarm.crypto.contexts import SigningPolicy
from tradeswarm.crypto.identity import AgentIdentity
from tradeswarm.crypto.keys import Algorithm
from tradeswarm.crypto.signing import sign_burst, sign_envelope
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
        """The envelopes one publisher publishes in one burst, in order: those of the
        policy's signed types grouped by algorithm, each group of two or more signed once
        by the Merkle root over it (`crypto.burst`); a group of one, and every type the
        policy wants signed per message, signed as ``sign`` would sign it."""
        out = list(envs)
        groups: dict[Algorithm, list[int]] = {}
        for i, env in enumerate(envs):
            if not self.policy.requires(env.type):
                continue
            if keys is None:
                raise AccessDenied(f"{env.sender} has no signing key; {env.type} must be signed")
            if self.policy.may_burst(env.type):
                groups.setdefault(self.policy.algorithm_for(env.type), []).append(i)
            else:
                out[i] = self.sign(env, keys)
        for alg, members in groups.items():
            assert keys is not None  # a group has a member, and a member had keys
            signer = keys.signer(alg)
            if len(members) == 1:
                out[members[0]] = sign_envelope(envs[members[0]], signer)
                continue
            signed = sign_burst([envs[i] for i in members], signer)
            for i, env in zip(members, signed, strict=True):
                out[i] = env
        return out
