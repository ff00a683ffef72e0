"""What a verifier trusts, and where it remembers it.

The trust state is the verifier's own file (keys pinned and the last checkpoint it
accepted, from an earlier run); `audit.anchor` turns it, or explicit keys, into what a
verification trusts. A witness's state file says what that witness cosigned: a verifier
demands those cosignatures, but never takes keys from it.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import msgspec

from tradeswarm.audit.keys import VerifierKey
from tradeswarm.audit.witness import WitnessState


class TrustState(msgspec.Struct, kw_only=True):
    """A verifier's memory: the log's origin and keys, its witnesses, the last checkpoint,
    and every cosignature it has seen (witness name -> sizes): once seen, a cosignature
    that goes missing is tampering."""

    origin: str
    log_keys: list[str]
    witness_keys: list[str] = []
    size: int = 0
    root: str = ""
    cosigned: dict[str, list[int]] = {}

    def keys(self) -> list[VerifierKey]:
        return [VerifierKey.parse(v) for v in self.log_keys]

    def witnesses(self) -> list[VerifierKey]:
        return [VerifierKey.parse(v) for v in self.witness_keys]

    @property
    def root_bytes(self) -> bytes:
        return base64.b64decode(self.root)


class TrustError(ValueError):
    """A trust state or witness state file cannot be used (names the file)."""


def default_trust_path(origin: str) -> Path:
    """~/.local/state/tradeswarm/trust/<origin>.json (XDG_STATE_HOME respected)."""
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    safe = "".join(c if c.isalnum() or c in "-._" else "_" for c in origin)
    return base / "tradeswarm" / "trust" / f"{safe}.json"


def load_trust(path: Path) -> TrustState | None:
    """The trust state at path; None if there is none yet (first use)."""
    if not path.exists():
        return None
    try:
        return msgspec.json.decode(path.read_bytes(), type=TrustState)
    except msgspec.DecodeError as err:
        raise TrustError(f"trust state {path}: unreadable ({err})") from err


def save_trust(path: Path, state: TrustState) -> None:
    """Write the trust state atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(msgspec.to_builtins(state), indent=1))
    os.replace(tmp, path)


def load_witness_state(path: Path) -> WitnessState | None:
    if not path.exists():
        return None
    try:
        return msgspec.json.decode(path.read_bytes(), type=WitnessState)
    except msgspec.DecodeError as err:
        raise TrustError(f"witness state {path}: unreadable ({err})") from err
