"""The envelope every message travels in; the unit of the append-only log."""

from __future__ import annotations

import uuid

import msgspec

from tradeswarm.model.enums import MessageIntent
from tradeswarm.model.messages import AnyMessage

ENVELOPE_VERSION = 1


class Envelope(msgspec.Struct, frozen=True, kw_only=True):
    """Routing, causality and integrity fields around one message.

    `signature` holds the signature block (`crypto.signing`: version 1, the envelope's
    own signature; version 2, its burst's root signature and its inclusion path) or
    None; what a signature covers is the canonical encoding without it
    (`signing_bytes`), the log hashes the envelope with it.
    """

    msg_id: uuid.UUID
    type: str
    version: int = ENVELOPE_VERSION
    topic: str
    correlation_id: uuid.UUID
    causation_id: uuid.UUID | None
    ttl_ms: int
    sender: str
    intent: MessageIntent
    idempotency_key: str
    ts_ns: int
    nonce: bytes
    payload: AnyMessage
    signature: bytes | None = None

    def expired(self, now_ns: int) -> bool:
        return self.ttl_ms > 0 and now_ns > self.ts_ns + self.ttl_ms * 1_000_000


_encoder = msgspec.json.Encoder(order="sorted")
_decoder = msgspec.json.Decoder(Envelope)


def encode_envelope(env: Envelope) -> bytes:
    """Canonical JSON (sorted keys): the same envelope always gives the same bytes."""
    return _encoder.encode(env)


def decode_envelope(data: bytes) -> Envelope:
    return _decoder.decode(data)


class EnvelopeHead(msgspec.Struct):
    """The routing fields of an envelope's canonical bytes, read without decoding (or
    validating) its payload: for a consumer's duplicate check, a sealed box's contents,
    a dead letter's listing, the topic a log entry is published on."""

    msg_id: uuid.UUID
    type: str
    topic: str
    sender: str


_head_decoder = msgspec.json.Decoder(EnvelopeHead)


def decode_head(data: bytes) -> EnvelopeHead | None:
    """The head of an envelope's bytes, or None when they are no envelope at all."""
    try:
        return _head_decoder.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None


def signing_bytes(env: Envelope) -> bytes:
    """The bytes a signature covers: the canonical encoding with the signature slot empty."""
    if env.signature is None:
        return _encoder.encode(env)
    return _encoder.encode(msgspec.structs.replace(env, signature=None))
