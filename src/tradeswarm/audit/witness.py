"""Witnesses: parties outside the operator's control that cosign checkpoints.

A witness remembers the last checkpoint it cosigned for a log, verifies the log's
signatures and a consistency proof from that checkpoint to the new one, and only then
cosigns (C2SP tlog-cosignature v1). It refuses a fork or a rollback, so once a
checkpoint is witnessed the operator cannot rewrite the history it covers without the
witness noticing. `FileWitness` keeps its state in a file outside the database;
`LocalWitness` keeps it in memory (tests). An HTTP witness (C2SP tlog-witness) or a
blockchain anchor (the seed's Bitcoin/Ethereum timestamping) sits behind the same
`Witness` protocol: it receives the note and the proof, and answers with a signature
line or a refusal.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import msgspec

from tradeswarm.audit.keys import VerifierKey
from tradeswarm.audit.merkle import EMPTY_ROOT
from tradeswarm.audit.note import NoteError, cosign, verify_note
from tradeswarm.audit.proofs import ProofError, verify_consistency
from tradeswarm.core.errors import ConfigurationError
from tradeswarm.crypto import Signer


class WitnessRefused(Exception):
    """The witness did not cosign; known_size is the size it last cosigned."""

    def __init__(self, witness: str, reason: str, known_size: int) -> None:
        super().__init__(f"witness {witness} refused: {reason}")
        self.reason = reason
        self.known_size = known_size


class Witness(Protocol):
    @property
    def key(self) -> VerifierKey:
        """The witness's cosigner key (type 0x04), for verifiers."""
        ...

    def cosign(self, note: str, old_size: int, proof: Sequence[bytes]) -> str:
        """Cosign the checkpoint note, given a consistency proof from old_size (the size
        the log believes this witness last cosigned); return the cosignature line or
        raise WitnessRefused."""
        ...


class WitnessState(msgspec.Struct, kw_only=True):
    """What a witness remembers of a log: its keys, the last size and root it cosigned,
    and every size it ever cosigned (so a missing cosignature can be told)."""

    origin: str
    log_keys: list[str]
    size: int = 0
    root: str = base64.b64encode(EMPTY_ROOT).decode()
    cosigned: list[int] = []
    witness: str = ""  # the witness's own key name


class LocalWitness:
    """An in-process witness; state in memory (or in a file, see FileWitness)."""

    def __init__(
        self,
        name: str,
        signer: Signer,
        origin: str,
        log_keys: Sequence[VerifierKey],
        now_s: Callable[[], int],
    ) -> None:
        self._key = VerifierKey.for_signer(name, signer, cosigner=True)
        self._signer = signer
        self._log_keys = list(log_keys)
        self._now_s = now_s
        self.state = WitnessState(
            origin=origin, log_keys=[k.vkey() for k in log_keys], witness=self._key.name
        )

    @property
    def key(self) -> VerifierKey:
        return self._key

    def _refuse(self, reason: str) -> WitnessRefused:
        return WitnessRefused(self._key.name, reason, self.state.size)

    def cosign(self, note: str, old_size: int, proof: Sequence[bytes]) -> str:
        try:
            checkpoint, _ = verify_note(note, self._log_keys)
        except NoteError as err:
            raise self._refuse(f"log signature: {err}") from err
        state = self.state
        if checkpoint.origin != state.origin:
            raise self._refuse(f"origin {checkpoint.origin!r} is not {state.origin!r}")
        if old_size != state.size:
            raise self._refuse(f"proof is from size {old_size}, I hold size {state.size}")
        if checkpoint.size < state.size:
            raise self._refuse(f"size {checkpoint.size} rolls back from {state.size}")
        try:
            root = base64.b64decode(state.root)
            verify_consistency(state.size, checkpoint.size, proof, root, checkpoint.root)
        except ProofError as err:
            raise self._refuse(f"not consistent with size {state.size} (fork?): {err}") from err
        text = note[: note.rfind("\n\n") + 1]
        line = cosign(text, self._key, self._signer, self._now_s())
        self._save(checkpoint.size, checkpoint.root)
        return line

    def _save(self, size: int, root: bytes) -> None:
        self.state.size = size
        self.state.root = base64.b64encode(root).decode()
        if size not in self.state.cosigned:
            self.state.cosigned.append(size)


class FileWitness(LocalWitness):
    """A witness whose state (last size and root cosigned, the log's keys) lives in a
    JSON file outside the database, written atomically after each cosignature."""

    def __init__(
        self,
        path: Path,
        name: str,
        signer: Signer,
        origin: str,
        log_keys: Sequence[VerifierKey],
        now_s: Callable[[], int],
    ) -> None:
        super().__init__(name, signer, origin, log_keys, now_s)
        self.path = path
        if path.exists():
            try:
                loaded = msgspec.json.decode(path.read_bytes(), type=WitnessState)
            except msgspec.DecodeError as err:
                raise ConfigurationError("witness state", str(path), f"unreadable: {err}") from err
            if (loaded.origin, loaded.log_keys) != (self.state.origin, self.state.log_keys):
                raise ConfigurationError(
                    "witness state", str(path), "belongs to another log or other log keys"
                )
            self.state = loaded

    def _save(self, size: int, root: bytes) -> None:
        super()._save(size, root)
        tmp = self.path.with_name(self.path.name + ".tmp")
        data = json.dumps(msgspec.to_builtins(self.state), indent=1).encode()
        with tmp.open("wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)


def read_witness_state(path: Path) -> WitnessState:
    """A witness's state file (what an auditor compares the log against)."""
    return msgspec.json.decode(path.read_bytes(), type=WitnessState)
