"""Signing benchmark: what one signature costs, per algorithm, on a real envelope, and
what a burst signature costs per message.

Measures, on the canonical bytes of a typical signed envelope (a TradeIntent): sign and
verify with Ed25519 and ML-DSA-87 (`crypto.sign_envelope` / `crypto.verify_envelope`,
i.e. context string, encoding, signature block, registry lookup included), and the raw
primitive calls. Peer, same run: the log's own per-entry cost, an RFC 9162 leaf hash
(SHA-256 over 0x00 || the envelope's canonical bytes). Signing a pipeline order costs
`signatures_per_order` signatures (intent, decision, order states, fill).

`bursts`: per burst size (1, 10, 100, 1,000 distinct intents of one sender), µs per
message to sign the burst through `BusSigning.sign_many` (what the bus calls on publish:
one root signature, each envelope's leaf, path and block) and to verify every member with
a fresh `EnvelopeVerifier`, one `verify` each (each member's path followed, the root
signature checked once) and in one `verify_many` (the whole burst placed in its tree at
once: n - 1 hashes for the burst, each member's path compared); peer,
same run, same envelopes, interleaved: the same `sign_many` under a policy that signs
every type per message, and `verify_envelope` of each. Median over repeats; a burst of
one is the per-message block on both sides.
"""

from __future__ import annotations

import hashlib
import os
import statistics
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from functools import partial
from typing import Any

from tradeswarm.bus.signing import BusSigning
from tradeswarm.crypto.contexts import PER_MESSAGE, SigningPolicy, context
from tradeswarm.crypto.identity import AgentIdentity
from tradeswarm.crypto.keys import Algorithm, Signer, verify
from tradeswarm.crypto.registry import KeyRegistry
from tradeswarm.crypto.signing import (
    EnvelopeVerifier,
    SignatureInvalid,
    VerifiedSignature,
    sign_envelope,
    verify_envelope,
)
from tradeswarm.model.envelope import Envelope, encode_envelope, signing_bytes
from tradeswarm.testkit import make_envelope, make_intent

SIGNATURES_PER_ORDER = 7  # `bench pipeline` logs 7 envelopes per order, all of signed types
BURST_SIZES = (1, 10, 100, 1_000)
PER_MESSAGE_POLICY = SigningPolicy(per_message_types=PER_MESSAGE)


def _envelope(sender: str, n: int = 0) -> Envelope:
    intent = make_intent(
        intent_id=uuid.UUID(int=1 + n),
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
        msg_id=uuid.UUID(int=3 + (n << 64)),
        causation_id=uuid.UUID(int=4),
        idempotency_key=f"bar:{1 + n}",
        nonce=n.to_bytes(16, "big"),
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


def _per_message_of(fn: Callable[[], object], n: int) -> float:
    t0 = time.perf_counter_ns()
    fn()
    return (time.perf_counter_ns() - t0) / n / 1_000


def _verify_all(verifier: EnvelopeVerifier, envs: list[Envelope]) -> None:
    for env in envs:
        verifier.verify(env)


def _verify_each(envs: list[Envelope], registry: KeyRegistry) -> None:
    for env in envs:
        verify_envelope(env, registry, PER_MESSAGE_POLICY)


def _check_verified(verdicts: list[VerifiedSignature | SignatureInvalid]) -> None:
    """What is timed must be what succeeds: verify_many returns its refusals."""
    refused = [v for v in verdicts if isinstance(v, SignatureInvalid)]
    if refused:
        raise RuntimeError(f"{len(refused)} of the bench's own burst refused: {refused[0]}")


def _burst_row(
    who: AgentIdentity, registry: KeyRegistry, envs: list[Envelope], repeats: int
) -> dict[str, Any]:
    """One burst size: ours and the per-message peer, interleaved, median µs per message."""
    n = len(envs)
    burst, alone = BusSigning(SigningPolicy(), [who]), BusSigning(PER_MESSAGE_POLICY, [who])
    signed, singles = burst.sign_many(envs, who), alone.sign_many(envs, who)
    _check_verified(EnvelopeVerifier(registry, SigningPolicy()).verify_many(signed))
    times: dict[str, list[float]] = {
        "sign": [],
        "verify": [],
        "verify_many": [],
        "peer_sign": [],
        "peer_verify": [],
    }
    for _ in range(repeats):
        times["sign"].append(_per_message_of(partial(burst.sign_many, envs, who), n))
        times["peer_sign"].append(_per_message_of(partial(alone.sign_many, envs, who), n))
        fresh = EnvelopeVerifier(registry, SigningPolicy())
        times["verify"].append(_per_message_of(partial(_verify_all, fresh, signed), n))
        batch = EnvelopeVerifier(registry, SigningPolicy())
        times["verify_many"].append(_per_message_of(partial(batch.verify_many, signed), n))
        times["peer_verify"].append(_per_message_of(partial(_verify_each, singles, registry), n))
    med = {k: round(statistics.median(v), 2) for k, v in times.items()}
    return _burst_figures(med, repeats, signed, singles)


def _burst_figures(
    med: dict[str, float], repeats: int, signed: list[Envelope], singles: list[Envelope]
) -> dict[str, Any]:
    """One burst size's row from its medians (µs per message) and its signed envelopes."""
    n = len(signed)
    return {
        "size": n,
        "repeats": repeats,
        "sign_us_per_msg": med["sign"],
        "verify_us_per_msg": med["verify"],
        "verify_many_us_per_msg": med["verify_many"],
        "per_message_sign_us_per_msg": med["peer_sign"],
        "per_message_verify_us_per_msg": med["peer_verify"],
        "sign_msgs_per_sec": round(1e6 / med["sign"]),
        "verify_msgs_per_sec": round(1e6 / med["verify"]),
        "verify_many_msgs_per_sec": round(1e6 / med["verify_many"]),
        "per_message_sign_msgs_per_sec": round(1e6 / med["peer_sign"]),
        "per_message_verify_msgs_per_sec": round(1e6 / med["peer_verify"]),
        "sign_speedup": round(med["peer_sign"] / med["sign"], 1),
        "verify_speedup": round(med["peer_verify"] / med["verify"], 1),
        "verify_many_speedup": round(med["peer_verify"] / med["verify_many"], 1),
        "signature_bytes_per_msg": round(sum(len(e.signature or b"") for e in signed) / n),
        "per_message_signature_bytes": round(sum(len(e.signature or b"") for e in singles) / n),
        "sign_us_per_order": round(med["sign"] * SIGNATURES_PER_ORDER, 1),
    }


def run_burst_bench(
    rounds: int = 2_000, sizes: tuple[int, ...] = BURST_SIZES
) -> list[dict[str, Any]]:
    """Each burst size next to per-message signing; about rounds messages per size (at
    least 5 repeats)."""
    who = AgentIdentity.from_seed("trading-agent-01", "trading-agent", b"bench-seed-0123456", 0)
    registry = KeyRegistry([who.public()])
    envs = [_envelope(who.principal, i) for i in range(max(sizes))]
    return [_burst_row(who, registry, envs[:size], max(5, rounds // size)) for size in sizes]


def run_signing_bench(rounds: int = 2_000) -> dict[str, Any]:
    """Median µs per operation; rounds per operation (ML-DSA-87 gets a tenth)."""
    load_start = os.getloadavg()[0]
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
    out["bursts"] = run_burst_bench(rounds)
    out["bursts_peer"] = "the same envelopes signed per message (sign_many) and verified each"
    out["loadavg_1m_start"], out["loadavg_1m"] = load_start, os.getloadavg()[0]
    return out
