"""A deterministic state machine in another process, driven over the wire: calls applied
once each, in order, and rebuilt from the caller's journal when the process restarts.

The caller (`RpcClient`, the swarm's kernel) numbers its calls 1, 2, 3 ... within an
epoch (its own start, `time.time_ns()`), and keeps every call of the epoch. The callee
(`RpcServer`, an agent's process) applies call n only after n - 1; it answers a copy of
a call it applied with the answer it gave, and a call it is not ready for (it restarted
and lost its state, or a call got lost) with `behind` and the last call it applied: the
caller then sends the calls from there again, and the callee, being deterministic,
rebuilds exactly the state it had. A call from a newer epoch resets the callee (the
caller restarted and replays its own history); one from an older epoch is dropped. So
the callee's state is always a fold of the caller's calls, whoever crashed.

Both ends are at-least-once over any `Transport` (`<ns>.rpc.<channel>.call` and
`.answer`); the caller resends a call that got no answer within `retry_s` and gives up
after `timeout_s` (`TransportUnavailable`, naming the channel and the call). What a
body means is the two ends' business (bytes in, bytes out)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Literal

import msgspec

from tradeswarm.bus.transport import Consumer, Transport, TransportUnavailable, subject_of
from tradeswarm.core.errors import InvalidInput, TradeswarmError
from tradeswarm.crypto.keys import Signer
from tradeswarm.crypto.signing import sign_bytes

log = logging.getLogger(__name__)

Status = Literal["ok", "behind", "error"]


class Call(msgspec.Struct, frozen=True):
    epoch: int
    seq: int
    body: bytes
    sent_ns: int
    """When this copy was sent: copies differ in bytes, so that no server drops a
    resent call as a duplicate publish (NATS's Nats-Msg-Id)."""


class Answer(msgspec.Struct, frozen=True):
    epoch: int
    seq: int
    status: Status
    applied: int
    """The last call the callee has applied in this epoch."""
    boot: str
    """The callee process's own start (a uuid): a new one means it restarted."""
    body: bytes = b""
    error: str = ""
    call_sha256: bytes = b""
    """SHA-256 of the body of the call this answers: a callee that applied some other
    call under this number (a forged one) gives itself away."""
    signature: bytes = b""
    """The callee's detached signature block (`crypto.signing.sign_bytes`, type
    `ANSWER_TYPE`) over `answer_bytes` (a server with a signer)."""


#: Says whether a signature block vouches for a channel's answer: (block, signed bytes).
AnswerCheck = Callable[[bytes, bytes], bool]
#: The signing context of an answer (`crypto.contexts.context`).
ANSWER_TYPE = "RpcAnswer"


def answer_bytes(channel: str, a: Answer) -> bytes:
    """What an answer's signature covers: every field but the signature, the body by its
    SHA-256, and the channel's name."""
    fields = (channel, a.epoch, a.seq, a.status, a.applied, a.boot, a.call_sha256, a.error)
    return _ENC.encode((*fields, hashlib.sha256(a.body).digest()))


class RemoteError(TradeswarmError):
    """The callee raised while applying a call (its message says what)."""


_CALL = msgspec.msgpack.Decoder(Call)
_ANSWER = msgspec.msgpack.Decoder(Answer)
_ENC = msgspec.msgpack.Encoder()


def subjects(namespace: str, channel: str) -> tuple[str, str]:
    """The (call, answer) subjects of a channel."""
    base = subject_of(namespace, f"rpc.{channel}")
    return f"{base}.call", f"{base}.answer"


class RpcClient:
    """The caller's end of one channel (see the module docstring)."""

    def __init__(
        self,
        transport: Transport,
        channel: str,
        *,
        retry_s: float = 2.0,
        timeout_s: float = 60.0,
        epoch: int | None = None,
        check: AnswerCheck | None = None,
    ) -> None:
        """check: when given, only answers signed by a key it accepts count (others are
        dropped, `forged` counting them), and a signed answer to a call other than ours
        (the callee applied a forged one) starts a new epoch: the callee is rebuilt."""
        if not 0 < retry_s <= timeout_s:
            raise InvalidInput("retry_s", retry_s, f"must be in (0, timeout_s={timeout_s}]")
        self.transport = transport
        self.channel = channel
        self.retry_s, self.timeout_s = retry_s, timeout_s
        self.epoch = time.time_ns() if epoch is None else epoch
        self._call_subject, self._answer_subject = subjects(transport.config.namespace, channel)
        self._journal: list[bytes] = []
        self._consumer: Consumer | None = None
        self.catch_ups = 0
        """How many times the callee asked for the journal again (it restarted)."""
        self._check = check
        self.forged = 0
        self.resets = 0
        """How many times a callee had applied a call that was not ours (new epochs)."""
        self.boots: list[str] = []
        """Each callee process that answered, in order: more than one, it restarted."""
        self.last_answer_ns = 0
        """Wall time of the last answer taken (0: none yet)."""
        self.latencies_s: list[float] = []
        """Each call's time from its first send to its answer (catch-ups included)."""
        # (callee boot, epoch) -> the furthest call it said it had applied
        self._known: dict[tuple[str, int], int] = {}

    @property
    def journal(self) -> list[bytes]:
        """Every call body of this epoch, in order (a copy)."""
        return list(self._journal)

    async def call(self, body: bytes) -> bytes:
        """Apply body in the callee after every earlier call; its answer."""
        self._journal.append(body)
        started = time.perf_counter()
        answer = await self._settle(len(self._journal))
        self.latencies_s.append(time.perf_counter() - started)
        return answer

    async def _settle(self, seq: int) -> bytes:
        """Send call seq until the callee has applied it, catching it up first if asked
        (each call of the catch-up has timeout_s of its own: a long journal is no stall)."""
        while True:
            answer = await self._exchange(seq)
            if self._not_ours(answer):
                continue
            if answer.status == "ok":
                return answer.body
            if answer.status == "error":
                raise RemoteError(f"{self.channel} failed on call {seq}: {answer.error}")
            self.catch_ups += 1
            log.info(
                "%s is behind (at %d): sending %d..%d",
                self.channel,
                answer.applied,
                answer.applied + 1,
                seq,
            )
            for earlier in range(answer.applied + 1, seq):
                replayed = await self._exchange(earlier)
                if self._not_ours(replayed):
                    break
                if replayed.status == "error":
                    raise RemoteError(f"{self.channel} failed on call {earlier}: {replayed.error}")
                if replayed.status == "behind":
                    break  # it restarted again: start over from where it now is

    def _not_ours(self, answer: Answer) -> bool:
        """A signed answer to another call under one of our numbers: the callee's state
        is not the fold of our calls; a new epoch resets it and replays them all."""
        if self._check is None or answer.status == "behind":
            return False
        if answer.call_sha256 == hashlib.sha256(self._journal[answer.seq - 1]).digest():
            return False
        log.warning(
            "%s applied a call %d that is not ours: starting over", self.channel, answer.seq
        )
        self.resets += 1
        self.epoch = max(time.time_ns(), self.epoch + 1)
        return True

    async def _exchange(self, seq: int) -> Answer:
        """Send call seq (again every retry_s) until an answer to it comes; past
        timeout_s without one, TransportUnavailable."""
        deadline = time.monotonic() + self.timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TransportUnavailable(
                    f"{self.channel} did not answer call {seq} within {self.timeout_s} s"
                )
            call = Call(self.epoch, seq, self._journal[seq - 1], time.time_ns())
            try:
                await self.transport.publish(self._call_subject, [_ENC.encode(call)])
                answer = await self._await(seq, min(self.retry_s, left))
            except Exception as err:  # the wire's own failure (each client raises its own)
                await _drop(self._consumer)  # joined again next time
                self._consumer = None
                log.warning(
                    "%s: the wire failed on call %d (%s); resending", self.channel, seq, _why(err)
                )
                await asyncio.sleep(min(self.retry_s, max(left, 0.0)))
                continue
            if answer is not None:
                return answer

    async def _await(self, seq: int, within_s: float) -> Answer | None:
        if self._consumer is None:
            self._consumer = await self.transport.consumer(
                [self._answer_subject], f"rpc-{self.channel}-client", f"c{self.epoch}"
            )
        consumer = self._consumer
        until = time.monotonic() + within_s
        while (left := until - time.monotonic()) > 0:
            got = await consumer.fetch(64, min(left, 0.5))
            if got:
                await consumer.ack_many(got)
            for delivery in got:
                try:
                    answer = _ANSWER.decode(delivery.data)
                except msgspec.DecodeError:
                    log.warning("%s: an undecodable answer dropped", self.channel)
                    continue
                if answer.epoch != self.epoch:
                    continue
                if self._check is not None and not self._check(
                    answer.signature, answer_bytes(self.channel, answer)
                ):
                    self.forged += 1
                    log.warning("%s: an answer not signed by its agent dropped", self.channel)
                    continue
                if answer.boot not in self.boots:
                    self.boots.append(answer.boot)
                self.last_answer_ns = time.time_ns()
                known = self._known.get((answer.boot, answer.epoch), 0)
                self._known[(answer.boot, answer.epoch)] = max(known, answer.applied)
                stale = answer.status == "behind" and answer.applied < known
                if answer.seq == seq and not stale:  # a redelivered old `behind` is stale
                    return answer
        return None

    async def close(self) -> None:
        if self._consumer is not None:
            await self._consumer.close()
            self._consumer = None


Apply = Callable[[bytes], Awaitable[bytes]]


class RpcServer:
    """The callee's end: applies calls in order through apply; reset() drops its state
    (a new epoch, or after apply raised: its state is then unknown)."""

    def __init__(
        self,
        transport: Transport,
        channel: str,
        apply: Apply,
        reset: Callable[[], None],
        signer: Signer | None = None,
    ) -> None:
        """signer: signs every answer (`answer_bytes`), for a client with a check."""
        self._signer = signer
        self.transport = transport
        self.channel = channel
        self._apply, self._reset = apply, reset
        self._call_subject, self._answer_subject = subjects(transport.config.namespace, channel)
        self.boot = str(uuid.uuid4())
        self.epoch, self.applied = 0, 0
        self._last: Answer | None = None
        self._consumer: Consumer | None = None
        self.behinds = 0
        """How many times it asked the caller for calls again (it had lost them)."""

    async def serve_once(self, timeout_s: float = 0.5) -> int:
        """Answer the calls that arrive within timeout_s; how many were read."""
        if self._consumer is None:
            self._consumer = await self.transport.consumer(
                [self._call_subject], f"rpc-{self.channel}-server", f"s{self.boot[:8]}"
            )
        got = await self._consumer.fetch(16, timeout_s)
        for delivery in got:
            answer = await self._answer(delivery.data)
            if answer is not None:
                await self.transport.publish(self._answer_subject, [_ENC.encode(answer)])
        if got:
            await self._consumer.ack_many(got)
        return len(got)

    async def serve(
        self, stop: asyncio.Event, on_error: Callable[[Exception], None] | None = None
    ) -> None:
        """Answer calls until stop is set. A wire that fails is retried with backoff
        (the calls it held are handed out again; a copy of an applied one is answered
        from the last answer): on_error hears of each failure."""
        backoff = 0.1
        while not stop.is_set():
            try:
                await self.serve_once()
                backoff = 0.1
            except Exception as err:  # each backend's client raises its own errors
                await _drop(self._consumer)  # joined again next time
                self._consumer = None
                log.warning(
                    "%s: the wire failed (%s); retrying in %.1f s", self.channel, _why(err), backoff
                )
                if on_error is not None:
                    on_error(err)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def _answer(self, data: bytes) -> Answer | None:
        try:
            call = _CALL.decode(data)
        except msgspec.DecodeError:
            log.warning("%s: an undecodable call dropped", self.channel)
            return None
        if call.epoch < self.epoch:
            return None  # a caller that has since restarted
        if call.epoch > self.epoch:
            self._restart(call.epoch)
        if call.seq == self.applied and self._last is not None:
            return self._last  # a copy of the last call: the same answer
        if call.seq != self.applied + 1:
            if call.seq < self.applied:
                return None
            self.behinds += 1
            return self._reply(call, "behind")
        try:
            body = await self._apply(call.body)
        except Exception as err:  # the agent's own failure: report it, forget the state
            log.exception("%s: call %d failed", self.channel, call.seq)
            answer = self._reply(call, "error", error=f"{type(err).__name__}: {err}")
            self._restart(call.epoch)
            return answer
        self.applied = call.seq
        self._last = self._reply(call, "ok", body)
        return self._last

    def _restart(self, epoch: int) -> None:
        self._reset()
        self.epoch, self.applied, self._last = epoch, 0, None

    def _reply(self, call: Call, status: Status, body: bytes = b"", error: str = "") -> Answer:
        digest = hashlib.sha256(call.body).digest()
        answer = Answer(
            call.epoch, call.seq, status, self.applied, self.boot, body, error[:2000], digest
        )
        if self._signer is None:
            return answer
        block = sign_bytes(ANSWER_TYPE, answer_bytes(self.channel, answer), self._signer)
        return msgspec.structs.replace(answer, signature=block)

    async def close(self) -> None:
        if self._consumer is not None:
            await self._consumer.close()
            self._consumer = None


async def _drop(consumer: Consumer | None) -> None:
    """Leave a consumer the wire failed under (a restarted server may have lost it)."""
    if consumer is not None:
        try:
            await consumer.close()
        except Exception as err:  # it is being dropped because the wire failed
            log.debug("closing a failed consumer: %s", err)


def _why(err: Exception) -> str:
    """An error as a log line says it (some clients' errors have no message)."""
    return f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
