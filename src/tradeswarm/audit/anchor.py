"""The verifier's trust anchor: the keys and checkpoint it trusts, never the store's say-so.

An anchor comes from, strongest first: the verifier's own trust state (keys pinned and
the last checkpoint and cosignatures it accepted, from an earlier run), keys given
explicitly (`--log-key` / `--witness-key`, or `--demo-keys` for the demo's public-seed
keys), or, only when asked for with `--trust-on-first-use` and announced as such, the
keys the checked store lists itself. From the anchor's log keys everything else follows:
checkpoints and the log's charter entries (the registry and signing policy) must be signed
by them.
"""

from __future__ import annotations

import base64

import msgspec

from tradeswarm.audit.keys import VerifierKey
from tradeswarm.audit.trust import TrustState

LOG_ROLE = "log"
WITNESS_ROLE = "witness"


class TrustAnchor(msgspec.Struct, kw_only=True):
    """What a verification trusts. source says where it came from (shown to the user);
    tofu marks keys taken from the very store or bundle being checked."""

    log_keys: list[VerifierKey]
    witness_keys: list[VerifierKey] = []
    size: int = 0  # the last checkpoint trusted (0: none)
    root: bytes = b""
    cosigned: dict[str, list[int]] = {}  # witness name -> sizes it is known to have cosigned
    source: str
    tofu: bool = False

    def charter_keys(self) -> list[tuple[str, bytes]]:
        """(algorithm, raw public key) of each log key: what signs the charter entries."""
        return [(k.algorithm, k.public_key) for k in self.log_keys if not k.is_cosigner]

    def log_vkeys(self) -> set[str]:
        return {k.vkey() for k in self.log_keys}

    def witness_vkeys(self) -> set[str]:
        return {k.vkey() for k in self.witness_keys}


def parse_keys(vkeys: list[str], what: str) -> list[VerifierKey]:
    """VerifierKeys from vkey strings; ValueError naming what they were for."""
    try:
        return [VerifierKey.parse(v) for v in vkeys]
    except ValueError as err:
        raise ValueError(f"{what}: {err}") from err


def from_trust_state(state: TrustState, path: str) -> TrustAnchor:
    return TrustAnchor(
        log_keys=parse_keys(state.log_keys, f"trust state {path}"),
        witness_keys=parse_keys(state.witness_keys, f"trust state {path}"),
        size=state.size,
        root=base64.b64decode(state.root) if state.root else b"",
        cosigned={k: list(v) for k, v in state.cosigned.items()},
        source=f"the verifier's trust state ({path})",
    )


def from_keys(
    log_keys: list[VerifierKey], witness_keys: list[VerifierKey], source: str
) -> TrustAnchor:
    return TrustAnchor(log_keys=log_keys, witness_keys=witness_keys, source=source)


def trust_on_first_use(
    log_keys: list[VerifierKey], witness_keys: list[VerifierKey], where: str
) -> TrustAnchor:
    return TrustAnchor(
        log_keys=log_keys,
        witness_keys=witness_keys,
        source=f"{where} itself (TRUST ON FIRST USE: protects against accidents, not against "
        "whoever wrote it)",
        tofu=True,
    )


def demo_anchor() -> TrustAnchor:
    """The demo's public-seed log and witness keys (reproducible, protecting nothing)."""
    from tradeswarm.audit.demo_keys import demo_verifier_keys

    log_keys, witness_keys = demo_verifier_keys()
    return from_keys(log_keys, witness_keys, "the demo's public-seed keys (--demo-keys)")


def remembered(
    anchor: TrustAnchor, size: int, root: bytes, cosigned: dict[str, list[int]]
) -> TrustState:
    """The trust state to save after a clean check: the anchor's keys, the newest
    checkpoint and every cosignature seen."""
    merged = {w: sorted(set(anchor.cosigned.get(w, [])) | set(s)) for w, s in cosigned.items()}
    for w, sizes in anchor.cosigned.items():
        merged.setdefault(w, sorted(sizes))
    origin = anchor.log_keys[0].name if anchor.log_keys else ""
    return TrustState(
        origin=origin,
        log_keys=sorted(anchor.log_vkeys()),
        witness_keys=sorted(anchor.witness_vkeys()),
        size=size,
        root=base64.b64encode(root).decode(),
        cosigned=merged,
    )
