"""Signing benchmark: what one signature costs, per algorithm, on a real envelope.

Measures, on the canonical bytes of a typical signed envelope (a TradeIntent): sign and
verify with Ed25519 and ML-DSA-87 (`crypto.sign_envelope` / `crypto.verify_envelope`,
i.e. context string, encoding, signature block, registry lookup included), and the raw
primitive calls. Peer, same run: the log's own per-entry cost, an RFC 9162 leaf hash
(SHA-256 over 0x00 || the envelope's canonical bytes). Signing a pipeline order costs
`signatures_per_order` signatures (intent, decision, order states, fill).
"""

from __future__ import annotations

import hashlib
import statistics
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from functools import partial
from typing import Any

from tradeswarm.crypto.contexts import context
from tradeswarm.crypto.identity import AgentIdentity
from tradeswarm.crypto.keys import Algorithm, Signer, verify
from tradeswarm.crypto.registry import KeyRegistry
from tradeswarm.crypto.signing import sign_envelope, verify_envelope
from tradeswarm.model.envelope import Envelope, encode_envelope, signing_bytes
from tradeswarm.testkit import make_envelope, make_intent

SIGNATURES_PER_ORDER = 7  # `bench pipeline` logs 7 envelopes per order, all of signed types


def _envelope(sender: str) -> Envelope:
    intent = make_intent(
        intent_id=uuid.UUID(int=1),
        signal_id=uuid.UUID(int=2),
        symbol="IDXF",
        quantity=Decimal(16),
        reference_price=Decimal("3658.25"),
        rationale="fast SMA crossed above slow SMA; RSI 61",
        confidence=0.82,
        ts_event=1,
    )
    return make_envelope(
        intent,
        topic="trading.intent.created",
        sender=sender,
        ts_ns=1,
        msg_id=uuid.UUID(int=3),
        causation_id=uuid.UUID(int=4),
        idempotency_key="bar:1",
        nonce=b"\x00" * 16,
    )


def _median_us(fn: Callable[[], object], rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        t0 = time.perf_counter_ns()
        fn()
        samples.append(time.perf_counter_ns() - t0)
    return round(statistics.median(samples) / 1_000, 2)


def _per_algorithm(
    tag: str, signer: Signer, env: Envelope, registry: KeyRegistry, n: int
) -> dict[str, Any]:
    signed = sign_envelope(env, signer)
    message = context(env.type) + signing_bytes(env)
    raw = signer.sign(message)
    public = signer.public_key_bytes()
    return {
        f"{tag}_sign_us": _median_us(partial(signer.sign, message), n),
        f"{tag}_verify_us": _median_us(partial(verify, signer.algorithm, public, raw, message), n),
        f"{tag}_sign_envelope_us": _median_us(partial(sign_envelope, env, signer), n),
        f"{tag}_verify_envelope_us": _median_us(partial(verify_envelope, signed, registry), n),
        f"{tag}_signature_bytes": len(raw),
    }


def run_signing_bench(rounds: int = 2_000) -> dict[str, Any]:
    """Median µs per operation; rounds per operation (ML-DSA-87 gets a tenth)."""
    who = AgentIdentity.from_seed("trading-agent-01", "trading-agent", b"bench-seed-0123456", 0)
    registry = KeyRegistry([who.public()])
    env = _envelope(who.principal)
    body = encode_envelope(env)
    out: dict[str, Any] = {"bench": "signing", "envelope_bytes": len(body), "rounds": rounds}
    for alg, n in ((Algorithm.ED25519, rounds), (Algorithm.MLDSA87, max(rounds // 10, 20))):
        tag = "ed25519" if alg is Algorithm.ED25519 else "mldsa87"
        out.update(_per_algorithm(tag, who.signer(alg), env, registry, n))
    peer = _median_us(lambda: hashlib.sha256(b"\x00" + body).digest(), rounds)
    out["peer"] = "RFC 9162 leaf hash (SHA-256) of the same envelope: the log's per-entry cost"
    out["peer_leaf_hash_us"] = peer
    out["signatures_per_order"] = SIGNATURES_PER_ORDER
    for tag in ("ed25519", "mldsa87"):
        per_order = out[f"{tag}_sign_envelope_us"] * SIGNATURES_PER_ORDER
        out[f"{tag}_sign_us_per_order"] = round(per_order, 1)
        out[f"{tag}_orders_per_sec_ceiling"] = round(1e6 / per_order, 1)
        out[f"{tag}_sign_vs_leaf_hash"] = round(out[f"{tag}_sign_envelope_us"] / peer, 1)
    return out
