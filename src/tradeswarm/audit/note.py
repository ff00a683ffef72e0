"""Checkpoints as C2SP signed notes (tlog-checkpoint, signed-note, tlog-cosignature v1).

A checkpoint note:

    <origin>
    <tree size, decimal>
    <base64 root hash>
    [extension lines]   (ours: "timestamp <ns>", when the checkpoint was cut)

    — <key name> base64(4-byte key ID || signature)
    ...

The note text (everything before the blank line, final newline included) is what the
log's keys sign. A witness's cosignature/v1 line signs "cosignature/v1\\ntime <t>\\n"
followed by the same text, with a timestamp prepended to the signature.
"""

from __future__ import annotations

import base64
import binascii
import re
import struct
from collections.abc import Sequence

import msgspec

from tradeswarm.audit.keys import VerifierKey, verify_signature
from tradeswarm.audit.merkle import HASH_SIZE
from tradeswarm.crypto import Signer

DASH = "\u2014"
COSIGNATURE_HEADER = "cosignature/v1\n"
_DECIMAL = re.compile(r"0|[1-9][0-9]*")


class NoteError(ValueError):
    """A checkpoint or signed note is malformed, or its signatures do not verify."""


class Checkpoint(msgspec.Struct, frozen=True):
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def text(self) -> str:
        """The signed note text (ends with a newline)."""
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode()]
        return "\n".join([*lines, *self.extensions]) + "\n"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """Parse a checkpoint's note text; NoteError saying what is wrong."""
        if not text.endswith("\n"):
            raise NoteError("checkpoint text must end with a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise NoteError(f"checkpoint needs origin, size and root lines, got {len(lines)}")
        origin, size, root_b64, *ext = lines
        if not origin or any(not line for line in ext):
            raise NoteError("checkpoint origin and extension lines must be non-empty")
        if not _DECIMAL.fullmatch(size):
            raise NoteError(f"checkpoint size {size!r} is not a decimal without leading zeros")
        try:
            root = base64.b64decode(root_b64, validate=True)
        except binascii.Error as err:
            raise NoteError(f"checkpoint root {root_b64!r} is not base64") from err
        if len(root) != HASH_SIZE:
            raise NoteError(f"checkpoint root is {len(root)} bytes, not {HASH_SIZE}")
        return cls(origin, int(size), root, tuple(ext))


TIMESTAMP = "timestamp "


def timestamp_line(ts_ns: int) -> str:
    """The extension line that puts a checkpoint's time under the log's signatures."""
    return f"{TIMESTAMP}{ts_ns}"


def timestamp_of(checkpoint: Checkpoint) -> int | None:
    """The checkpoint's signed time (its `timestamp` extension line), if it has one."""
    for line in checkpoint.extensions:
        if line.startswith(TIMESTAMP) and _DECIMAL.fullmatch(line[len(TIMESTAMP) :]):
            return int(line[len(TIMESTAMP) :])
    return None


class SignatureLine(msgspec.Struct, frozen=True):
    name: str
    key_id: bytes
    signature: bytes

    def line(self) -> str:
        blob = base64.b64encode(self.key_id + self.signature).decode()
        return f"{DASH} {self.name} {blob}\n"

    @classmethod
    def parse(cls, line: str) -> SignatureLine:
        parts = line.rstrip("\n").split(" ")
        if len(parts) != 3 or parts[0] != DASH:
            raise NoteError(f"bad signature line {line[:60]!r}")
        try:
            raw = base64.b64decode(parts[2], validate=True)
        except binascii.Error as err:
            raise NoteError(f"signature of {parts[1]!r} is not base64") from err
        if len(raw) < 5:
            raise NoteError(f"signature of {parts[1]!r} is too short")
        return cls(parts[1], raw[:4], raw[4:])


def sign_note(text: str, keys: Sequence[tuple[VerifierKey, Signer]]) -> str:
    """The signed note: text, a blank line, one signature line per key."""
    data = text.encode()
    lines = [SignatureLine(k.name, k.key_id, s.sign(data)).line() for k, s in keys]
    return text + "\n" + "".join(lines)


def split_note(note: str) -> tuple[str, list[SignatureLine]]:
    """Separate a note's text from its signature lines."""
    if "\x00" in note or not note.endswith("\n"):
        raise NoteError("a signed note ends with a newline and holds no NUL")
    cut = note.rfind("\n\n")
    if cut < 0:
        raise NoteError("a signed note needs a blank line before its signatures")
    text, sigs = note[: cut + 1], note[cut + 2 :]
    return text, [SignatureLine.parse(line) for line in sigs.splitlines()]


def verify_note(note: str, trusted: Sequence[VerifierKey]) -> tuple[Checkpoint, list[VerifierKey]]:
    """Verify a checkpoint note against trusted log keys; every trusted key must have
    signed it validly. Return the checkpoint and the keys that verified."""
    text, sigs = split_note(note)
    checkpoint = Checkpoint.parse(text)
    verified: list[VerifierKey] = []
    for key in trusted:
        mine = [s for s in sigs if s.name == key.name and s.key_id == key.key_id]
        if not mine:
            raise NoteError(f"no signature by trusted key {key.name} ({key.algorithm})")
        for sig in mine:
            if not verify_signature(key.algorithm, key.public_key, sig.signature, text.encode()):
                raise NoteError(f"invalid {key.algorithm} signature by {key.name}")
        verified.append(key)
    if not verified:
        raise NoteError("no trusted key to verify the checkpoint with")
    return checkpoint, verified


def _cosigned_message(text: str, ts_s: int) -> bytes:
    return f"{COSIGNATURE_HEADER}time {ts_s}\n{text}".encode()


def cosign(text: str, key: VerifierKey, signer: Signer, ts_s: int) -> str:
    """A witness's cosignature/v1 line over a checkpoint's note text at time ts_s."""
    if not key.is_cosigner:
        raise ValueError(f"{key.name} is not a cosigner key (type 0x04)")
    sig = signer.sign(_cosigned_message(text, ts_s))
    return SignatureLine(key.name, key.key_id, struct.pack(">Q", ts_s) + sig).line()


def verify_cosignature(line: str, text: str, key: VerifierKey) -> int:
    """Verify a cosignature/v1 line over a checkpoint's text; return its timestamp."""
    sig = SignatureLine.parse(line)
    if (sig.name, sig.key_id) != (key.name, key.key_id) or not key.is_cosigner:
        raise NoteError(f"cosignature is not from witness {key.name}")
    if len(sig.signature) != 8 + 64:
        raise NoteError(f"cosignature by {key.name} has the wrong length")
    (ts_s,) = struct.unpack(">Q", sig.signature[:8])
    if not verify_signature(
        key.algorithm, key.public_key, sig.signature[8:], _cosigned_message(text, ts_s)
    ):
        raise NoteError(f"invalid cosignature by witness {key.name}")
    return int(ts_s)
