"""The receiving side for envelopes that cross a process boundary: verify, then deliver.

`VerifyingGate.receive(env)` admits an envelope into the local bus (logging it there, as
received) only when its topic is known and its sender's role may publish there, it is
neither expired (ttl) nor older than the replay window nor ahead of the local clock beyond
the allowed skew, neither its msg_id nor its nonce was seen before, and it carries a valid
signature by its sender's registered key: its own, or its burst's root signature with its
inclusion path (`crypto.burst`), each root's signature checked once (`EnvelopeVerifier`).
Every refusal is itself published as an `EnvelopeRejected` record on `REJECTIONS` (so it
lands in the log) and counted.

Replay protection is exact: ids and nonces are remembered for as long as an envelope with
them could still be admitted (the window); anything older is refused as stale.
Senders that cross a process boundary use random nonces (`InProcessBus(random_nonces=True)`);
in process, nonces derive from the msg_id so that a replayed day is byte-identical.
"""

from __future__ import annotations

import collections
import hashlib
import heapq
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import msgspec

from tradeswarm.bus.identity import Identity
from tradeswarm.bus.inproc import InProcessBus
from tradeswarm.bus.topics import ALL_TOPICS, REJECTIONS, Role, Topic
from tradeswarm.core.clock import Clock
from tradeswarm.core.errors import TradeswarmError
from tradeswarm.crypto.contexts import SigningPolicy
from tradeswarm.crypto.registry import KeyRegistry
from tradeswarm.crypto.signing import (
    EnvelopeVerifier,
    RejectReason,
    SignatureInvalid,
    VerifiedSignature,
)
from tradeswarm.model.envelope import Envelope, decode_envelope, encode_envelope
from tradeswarm.model.messages import EnvelopeRejected

GATE_IDENTITY = Identity("bus-gate", Role.SYSTEM)


class _Undecodable(Exception):
    """Bytes that are no envelope at all."""


class _Refused(Exception):
    """An envelope refused before its signature was looked at, and why."""

    def __init__(self, env: Envelope, err: SignatureInvalid) -> None:
        super().__init__(str(err))
        self.env = env
        self.err = err


NS_PER_MS = 1_000_000


class GateStats:
    def __init__(self) -> None:
        self.accepted = 0
        self.rejected: collections.Counter[RejectReason] = collections.Counter()


class VerifyingGate:
    """Admits verified envelopes into bus; publishes an EnvelopeRejected for each refusal."""

    def __init__(
        self,
        bus: InProcessBus,
        registry: KeyRegistry,
        clock: Clock,
        *,
        policy: SigningPolicy | None = None,
        window_ms: int = 300_000,
        max_skew_ms: int = 5_000,
        topics: Iterable[Topic[Any]] = ALL_TOPICS,
        identity: Identity = GATE_IDENTITY,
        logged: Callable[[uuid.UUID], bool] | None = None,
        max_roots: int = 4096,
    ) -> None:
        """logged: whether the log already holds an envelope with a msg_id (the store's
        `has_event`): a replay is then refused after a restart too, not only while the
        gate remembers it. max_roots: how many burst roots whose signature verified the
        gate remembers (each root signature is checked once while remembered)."""
        self._logged = logged
        self._bus = bus
        self._clock = clock
        self.verifier = EnvelopeVerifier(registry, policy, max_roots=max_roots)
        self._window_ns = window_ms * NS_PER_MS
        self._skew_ns = max_skew_ms * NS_PER_MS
        self._topics = {t.name: t for t in topics}
        self._out = bus.attach(identity)
        self._seen: dict[object, int] = {}
        self._expiries: list[tuple[int, int, object]] = []
        self._counter = 0
        self.stats = GateStats()

    def receive_bytes(self, wire: bytes) -> VerifiedSignature | None:
        """Decode an envelope off the wire and receive it; only canonical bytes pass,
        so the bytes logged on both sides are the bytes that were signed."""
        env = self._decode_wire(wire)
        return None if env is None else self.receive(env)

    def receive_many_bytes(self, wires: Sequence[bytes]) -> list[Envelope | None]:
        """`receive_bytes` of each, in order (each admitted envelope, or None for each
        refused one, logged), with the signatures checked in one `verify_many` call: a
        burst present whole is placed in its tree at once. Each envelope is judged, and
        its admission or refusal logged, as if received alone after the ones before it:
        a copy of an earlier admitted one is a replay, a forgery sharing a genuine one's
        msg_id takes nothing from it."""
        judged: list[Envelope | _Refused | bytes] = []
        for wire in wires:
            try:
                env = self._decode_strict(wire)
            except _Undecodable:
                judged.append(wire)
                continue
            except _Refused as refused:
                judged.append(refused)
                continue
            try:
                self._check_acl(env)
                self._check_time(env)
                judged.append(env)
            except SignatureInvalid as err:
                judged.append(_Refused(env, err))
        ready = [j for j in judged if isinstance(j, Envelope)]
        verdicts = dict(zip(map(id, ready), self.verifier.verify_many(ready), strict=True))
        return [self._settle(j, verdicts) for j in judged]

    def _settle(
        self,
        judged: Envelope | _Refused | bytes,
        verdicts: dict[int, VerifiedSignature | SignatureInvalid],
    ) -> Envelope | None:
        if isinstance(judged, Envelope):
            return self._admit_checked(judged, verdicts[id(judged)])
        if isinstance(judged, bytes):
            self._decode_wire(judged)  # logs the refusal exactly as receive_bytes does
        else:
            self._reject(judged.env, judged.err)
        return None

    def _decode_strict(self, wire: bytes) -> Envelope:
        try:
            env = decode_envelope(wire)
        except (msgspec.DecodeError, TradeswarmError, ValueError) as err:
            raise _Undecodable(str(err)) from err
        if encode_envelope(env) != wire:
            raise _Refused(env, SignatureInvalid(RejectReason.MALFORMED, "non-canonical encoding"))
        return env

    def _decode_wire(self, wire: bytes) -> Envelope | None:
        try:
            return self._decode_strict(wire)
        except _Undecodable as err:
            self._reject_bytes(wire, f"undecodable: {err}")
        except _Refused as refused:
            self._reject(refused.env, refused.err)
        return None

    def _admit_checked(
        self, env: Envelope, verdict: VerifiedSignature | SignatureInvalid
    ) -> Envelope | None:
        """Admit env, its ACL and times checked and its signature's verdict known, unless
        it is a replay (checked first, as `check` does) or the verdict refuses it."""
        try:
            self._check_replay(env)
            if isinstance(verdict, SignatureInvalid):
                raise verdict
        except SignatureInvalid as err:
            self._reject(env, err)
            return None
        self._remember(env)
        self._bus.admit(env)
        self.stats.accepted += 1
        return env

    def receive(self, env: Envelope) -> VerifiedSignature | None:
        """Queue env on the bus if it passes every check; else log why and return None."""
        try:
            verified = self.check(env)
        except SignatureInvalid as err:
            self._reject(env, err)
            return None
        self._remember(env)
        self._bus.admit(env)
        self.stats.accepted += 1
        return verified

    def check(self, env: Envelope) -> VerifiedSignature:
        """Every check receive makes, without side effects (but remembering a burst root
        whose signature verified); raises SignatureInvalid."""
        self._check_acl(env)
        self._check_time(env)
        self._check_replay(env)
        return self.verifier.verify(env)

    def _check_replay(self, env: Envelope) -> None:
        if ("id", env.msg_id) in self._seen or ("nonce", env.nonce) in self._seen:
            raise SignatureInvalid(RejectReason.REPLAYED, f"msg_id {env.msg_id}")
        if self._logged is not None and self._logged(env.msg_id):
            raise SignatureInvalid(RejectReason.REPLAYED, f"msg_id {env.msg_id} is in the log")

    def _check_acl(self, env: Envelope) -> None:
        topic = self._topics.get(env.topic)
        if topic is None:
            raise SignatureInvalid(RejectReason.ACL, f"unknown topic {env.topic!r}")
        role = env.sender.split(":", 1)[0]
        if role not in {str(r) for r in topic.publishers}:
            raise SignatureInvalid(RejectReason.ACL, f"{env.sender} on {env.topic}")
        kind = type(env.payload).__name__
        if kind != env.type or not isinstance(env.payload, topic.message_type):
            raise SignatureInvalid(RejectReason.ACL, f"{env.type}/{kind} on {env.topic}")

    def _check_time(self, env: Envelope) -> None:
        now = self._clock.now_ns()
        if env.expired(now):
            raise SignatureInvalid(RejectReason.EXPIRED, f"ttl {env.ttl_ms} ms at {now}")
        if now - env.ts_ns > self._window_ns:
            raise SignatureInvalid(RejectReason.STALE, f"ts {env.ts_ns}, now {now}")
        if env.ts_ns - now > self._skew_ns:
            raise SignatureInvalid(RejectReason.FUTURE, f"ts {env.ts_ns}, now {now}")

    def _remember(self, env: Envelope) -> None:
        self._forget_expired()
        until = env.ts_ns + self._window_ns  # past this, the check refuses it as stale
        for key in (("id", env.msg_id), ("nonce", env.nonce)):
            self._seen[key] = until
            self._counter += 1
            heapq.heappush(self._expiries, (until, self._counter, key))

    def forget(self, env: Envelope) -> None:
        """Unremember an admitted envelope whose unit of work rolled back: it was never
        admitted, so its redelivery must pass."""
        self._seen.pop(("id", env.msg_id), None)
        self._seen.pop(("nonce", env.nonce), None)

    def _forget_expired(self) -> None:
        now = self._clock.now_ns()
        while self._expiries and self._expiries[0][0] < now:
            _, _, key = heapq.heappop(self._expiries)
            self._seen.pop(key, None)

    def _reject(self, env: Envelope, err: SignatureInvalid) -> None:
        digest = hashlib.sha256(encode_envelope(env)).hexdigest()
        claimed = (env.msg_id, env.type, env.topic, env.sender)
        self._log(err.reason, err.detail, digest, *claimed)

    def refuse(self, env: Envelope, detail: str) -> None:
        """Log env refused by the process boundary it came through (an agent's channel
        carrying another's envelope: `system.remote_agent`), without judging it."""
        self._reject(env, SignatureInvalid(RejectReason.ACL, detail[:500]))

    def refuse_wire(self, wire: bytes, detail: str) -> None:
        """Log bytes refused before the gate could judge them (`bus.sealed_wire`)."""
        digest = hashlib.sha256(wire).hexdigest()
        self._log(RejectReason.SEALING, detail[:500], digest, uuid.UUID(int=0), "", "", "")

    def _reject_bytes(self, wire: bytes, detail: str) -> None:
        digest = hashlib.sha256(wire).hexdigest()
        self._log(RejectReason.MALFORMED, detail[:500], digest, uuid.UUID(int=0), "", "", "")

    def _log(
        self,
        reason: RejectReason,
        detail: str,
        digest: str,
        msg_id: uuid.UUID,
        type_name: str,
        topic: str,
        sender: str,
    ) -> None:
        self.stats.rejected[reason] += 1
        self._counter += 1
        record = EnvelopeRejected(
            msg_id=msg_id,
            type=type_name,
            topic=topic,
            sender=sender,
            reason=reason.value,
            detail=detail,
            envelope_sha256=digest,
            ts_event=self._clock.now_ns(),
        )
        self._out.publish(REJECTIONS, record, key=f"{digest}:{self._counter}")

    @property
    def remembered(self) -> int:
        """How many ids and nonces are held for replay detection."""
        return len(self._seen)
