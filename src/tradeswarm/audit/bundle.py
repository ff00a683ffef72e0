"""Offline audit bundles: everything needed to check the log with no database.

A bundle (JSON) holds every entry's canonical bytes (the charter entries among them: the
registry and signing policy, signed by the log's key), every checkpoint note with its
cosignatures, each entry's inclusion proof against the latest checkpoint, and a
consistency proof from every earlier checkpoint to the latest (so a verifier that trusted
any of them gets the proof it must demand). It also lists the log's and witnesses' keys
as the exporting store holds them: a verifier uses those only when told to trust on first
use; otherwise its own trust state or explicit keys decide.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import msgspec

from tradeswarm.audit.anchor import LOG_ROLE, WITNESS_ROLE, TrustAnchor, parse_keys, remembered
from tradeswarm.audit.keys import VerifierKey
from tradeswarm.audit.merkle import hash_leaf, root_of_leaves
from tradeswarm.audit.note import (
    NoteError,
    SignatureLine,
    split_note,
    timestamp_of,
    verify_cosignature,
    verify_note,
)
from tradeswarm.audit.order_check import permits_on_bad_approvals
from tradeswarm.audit.proofs import ProofError, verify_consistency, verify_inclusion
from tradeswarm.audit.signatures import walk_signatures
from tradeswarm.audit.tree import StoredTree
from tradeswarm.audit.trust import TrustState
from tradeswarm.model.envelope import Envelope, decode_envelope
from tradeswarm.store import Store

BUNDLE_FORMAT = "tradeswarm-audit-bundle/v2"


class BundleCheckpoint(msgspec.Struct, kw_only=True):
    note: str
    cosignatures: list[str] = []


class Bundle(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    format: str
    origin: str
    log_keys: list[str]  # as the exporting store lists them (trust on first use only)
    witness_keys: list[str]
    entries: list[bytes]
    checkpoints: list[BundleCheckpoint]
    inclusion: list[list[bytes]]  # per entry below the latest checkpoint's size
    consistency: dict[str, list[bytes]]  # from each checkpoint size to the latest


class BundleResult(msgspec.Struct, kw_only=True):
    problems: list[str] = []
    entries: int = 0
    latest_size: int = 0
    latest_root: bytes = b""
    witnessed: list[str] = []
    cosigned: dict[str, list[int]] = {}
    key_source: str = ""
    burst_signed: int = 0  # entries valid by their burst's root signature
    roots_checked: int = 0  # burst root signatures verified, each once


def export_bundle(store: Store) -> Bundle:
    """Build the bundle of the whole log as the store holds it."""
    tree = StoredTree(store.audit)
    checkpoints = store.audit.checkpoints()
    cosigs = store.audit.cosignatures()
    keys = store.audit.verifier_keys()
    latest = checkpoints[-1].size if checkpoints else 0
    return Bundle(
        format=BUNDLE_FORMAT,
        origin=checkpoints[-1].note.split("\n", 1)[0] if checkpoints else "",
        log_keys=[k.vkey for k in keys if k.role == LOG_ROLE],
        witness_keys=[k.vkey for k in keys if k.role == WITNESS_ROLE],
        entries=[row.body for row in store.iter_events()],
        checkpoints=[
            BundleCheckpoint(note=c.note, cosignatures=[s.line for s in cosigs if s.size == c.size])
            for c in checkpoints
        ],
        inclusion=[tree.inclusion_proof(i, latest) for i in range(latest)],
        consistency={str(c.size): tree.consistency_proof(c.size, latest) for c in checkpoints},
    )


def write_bundle(bundle: Bundle, path: Path) -> None:
    path.write_bytes(msgspec.json.encode(bundle))


def read_bundle(path: Path) -> Bundle:
    """Parse a bundle file; ValueError naming the file if it is not one."""
    try:
        bundle = msgspec.json.decode(path.read_bytes(), type=Bundle)
    except msgspec.DecodeError as err:
        raise ValueError(
            f"--bundle {path}: not an audit bundle of {BUNDLE_FORMAT} ({err})"
        ) from err
    if bundle.format != BUNDLE_FORMAT:
        raise ValueError(f"--bundle {path}: format {bundle.format!r}, expected {BUNDLE_FORMAT}")
    return bundle


def bundle_keys(b: Bundle) -> tuple[list[VerifierKey], list[VerifierKey]]:
    """The keys the bundle lists (for trust on first use)."""
    return parse_keys(b.log_keys, "the bundle's log keys"), parse_keys(
        b.witness_keys, "the bundle's witness keys"
    )


def _cosigned(
    c: BundleCheckpoint, size: int, witnesses: dict[str, VerifierKey], out: BundleResult
) -> list[str]:
    names = []
    for line in c.cosignatures:
        try:
            name = SignatureLine.parse(line).name
            verify_cosignature(line, split_note(c.note)[0], witnesses[name])
        except (NoteError, KeyError) as err:
            out.problems.append(f"checkpoint {size}: cosignature {line[:40]!r}: {err!s}")
            continue
        names.append(name)
        out.cosigned.setdefault(name, []).append(size)
    return names


def _checkpoints(b: Bundle, leaves: list[bytes], anchor: TrustAnchor, out: BundleResult) -> None:
    out.key_source = anchor.source
    witnesses = {k.name: k for k in anchor.witness_keys}
    for c in b.checkpoints:
        try:
            cp, _ = verify_note(c.note, anchor.log_keys)
        except NoteError as err:
            out.problems.append(f"checkpoint: {err}")
            continue
        if cp.size > len(leaves) or root_of_leaves(leaves[: cp.size]) != cp.root:
            out.problems.append(f"checkpoint {cp.size}: root differs from the entries")
        if timestamp_of(cp) is None:
            out.problems.append(f"checkpoint {cp.size}: its time is not under its signatures")
        names = _cosigned(c, cp.size, witnesses, out)
        if cp.size >= out.latest_size:
            out.latest_size, out.latest_root, out.witnessed = cp.size, cp.root, names
    for witness, sizes in sorted(anchor.cosigned.items()):
        for size in sorted(set(sizes) - set(out.cosigned.get(witness, []))):
            out.problems.append(f"checkpoint {size}: the cosignature {witness} made is missing")


def _proofs(b: Bundle, leaves: list[bytes], anchor: TrustAnchor, out: BundleResult) -> None:
    size, root = out.latest_size, out.latest_root
    if len(b.inclusion) != size:
        out.problems.append(f"{len(b.inclusion)} inclusion proofs for {size} entries")
    for i, proof in enumerate(b.inclusion[:size]):
        try:
            verify_inclusion(leaves[i], i, size, proof, root)
        except (ProofError, IndexError) as err:
            out.problems.append(f"entry {i}: inclusion proof fails: {err}")
    if anchor.size == 0:
        return
    consistency = b.consistency.get(str(anchor.size))
    if consistency is None:
        out.problems.append(f"no consistency proof from the trusted size {anchor.size}")
        return
    try:
        verify_consistency(anchor.size, size, consistency, anchor.root, root)
    except ProofError as err:
        out.problems.append(
            f"not consistent with the checkpoint trusted at size {anchor.size}: {err}"
        )


def _signatures(entries: Sequence[bytes], anchor: TrustAnchor, out: BundleResult) -> None:
    envelopes: list[Envelope] = []
    seqs: list[int] = []
    for i, body in enumerate(entries):
        try:
            envelopes.append(decode_envelope(body))
        except (msgspec.DecodeError, ValueError) as err:
            out.problems.append(f"entry {i}: not an envelope ({err})")
            continue
        seqs.append(i + 1)
    walk = walk_signatures(envelopes, seqs, anchor.charter_keys())
    out.problems.extend(walk.problems)
    out.burst_signed, out.roots_checked = walk.burst_signed, walk.roots_checked
    permits_on_bad_approvals(envelopes, seqs, walk, out.problems)


def verify_bundle(b: Bundle, anchor: TrustAnchor) -> BundleResult:
    """Check a bundle with nothing but itself and the verifier's trust anchor."""
    out = BundleResult(entries=len(b.entries))
    leaves = [hash_leaf(e) for e in b.entries]
    _checkpoints(b, leaves, anchor, out)
    if not b.checkpoints:
        out.problems.append("the bundle has no checkpoint")
    _proofs(b, leaves, anchor, out)
    _signatures(b.entries, anchor, out)
    return out


def trust_after(anchor: TrustAnchor, result: BundleResult) -> TrustState:
    """The trust state to remember after a clean bundle."""
    return remembered(anchor, result.latest_size, result.latest_root, result.cosigned)
