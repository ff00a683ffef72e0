"""Offline audit bundles: everything needed to check the log with no database.

A bundle (JSON) holds every entry's canonical bytes, every checkpoint note with its
cosignatures, the log's and witnesses' verifier keys, the swarm's public-key registry,
each entry's inclusion proof against the latest checkpoint, and a consistency proof from
every earlier checkpoint to the latest (so a verifier that trusted any of them gets the
proof it must demand).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from pathlib import Path

import msgspec

from tradeswarm.audit.keys import VerifierKey
from tradeswarm.audit.log import LOG_ROLE, WITNESS_ROLE
from tradeswarm.audit.merkle import hash_leaf, root_of_leaves
from tradeswarm.audit.note import NoteError, split_note, verify_cosignature, verify_note
from tradeswarm.audit.order_check import REGISTRY_META_KEY, signature_verdict
from tradeswarm.audit.proofs import ProofError, verify_consistency, verify_inclusion
from tradeswarm.audit.tree import StoredTree
from tradeswarm.audit.trust import TrustState
from tradeswarm.crypto import KeyRegistry
from tradeswarm.model.envelope import decode_envelope
from tradeswarm.store import Store

BUNDLE_FORMAT = "tradeswarm-audit-bundle/v1"


class BundleCheckpoint(msgspec.Struct, kw_only=True):
    note: str
    cosignatures: list[str] = []


class Bundle(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    format: str
    origin: str
    log_keys: list[str]
    witness_keys: list[str]
    registry: str | None
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
    key_source: str = ""


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
        registry=store.get_meta(REGISTRY_META_KEY),
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
        raise ValueError(f"--bundle {path}: not an audit bundle ({err})") from err
    if bundle.format != BUNDLE_FORMAT:
        raise ValueError(f"--bundle {path}: format {bundle.format!r}, expected {BUNDLE_FORMAT}")
    return bundle


def _keys(vkeys: Sequence[str], out: BundleResult) -> list[VerifierKey]:
    try:
        return [VerifierKey.parse(v) for v in vkeys]
    except ValueError as err:
        out.problems.append(str(err))
        return []


def _cosigned(
    c: BundleCheckpoint, size: int, witnesses: dict[str, VerifierKey], out: BundleResult
) -> list[str]:
    names = []
    for line in c.cosignatures:
        name = line.split(" ")[1] if line.count(" ") >= 2 else "?"
        try:
            verify_cosignature(line, split_note(c.note)[0], witnesses[name])
        except (NoteError, KeyError) as err:
            out.problems.append(f"checkpoint {size}: cosignature by {name}: {err!s}")
            continue
        names.append(name)
    return names


def _checkpoints(
    b: Bundle, leaves: list[bytes], trust: TrustState | None, out: BundleResult
) -> None:
    keys = trust.keys() if trust else _keys(b.log_keys, out)
    out.key_source = "the trust state" if trust else "the bundle itself (trust on first use)"
    if trust and {k.vkey() for k in keys} != set(b.log_keys):
        out.problems.append("the bundle's log keys differ from the trusted ones")
    wkeys = trust.witnesses() if trust and trust.witness_keys else _keys(b.witness_keys, out)
    witnesses = {k.name: k for k in wkeys}
    for c in b.checkpoints:
        try:
            cp, _ = verify_note(c.note, keys)
        except NoteError as err:
            out.problems.append(f"checkpoint: {err}")
            continue
        if cp.size > len(leaves) or root_of_leaves(leaves[: cp.size]) != cp.root:
            out.problems.append(f"checkpoint {cp.size}: root differs from the entries")
        names = _cosigned(c, cp.size, witnesses, out)
        if cp.size >= out.latest_size:
            out.latest_size, out.latest_root, out.witnessed = cp.size, cp.root, names


def _proofs(b: Bundle, leaves: list[bytes], trust: TrustState | None, out: BundleResult) -> None:
    size, root = out.latest_size, out.latest_root
    if len(b.inclusion) != size:
        out.problems.append(f"{len(b.inclusion)} inclusion proofs for {size} entries")
    for i, proof in enumerate(b.inclusion[:size]):
        try:
            verify_inclusion(leaves[i], i, size, proof, root)
        except (ProofError, IndexError) as err:
            out.problems.append(f"entry {i}: inclusion proof fails: {err}")
    if trust is None or trust.size == 0:
        return
    consistency = b.consistency.get(str(trust.size))
    if consistency is None:
        out.problems.append(f"no consistency proof from the trusted size {trust.size}")
        return
    try:
        verify_consistency(trust.size, size, consistency, trust.root_bytes, root)
    except ProofError as err:
        out.problems.append(
            f"not consistent with the checkpoint trusted at size {trust.size}: {err}"
        )


def _signatures(b: Bundle, out: BundleResult) -> None:
    registry = None if b.registry is None else KeyRegistry.from_json(b.registry, "the bundle")
    for i, body in enumerate(b.entries):
        try:
            env = decode_envelope(body)
        except msgspec.DecodeError as err:
            out.problems.append(f"entry {i}: not an envelope ({err})")
            continue
        verdict, ok = signature_verdict(env, registry)
        if not ok:
            out.problems.append(f"entry {i} ({env.type}): signature {verdict}")


def verify_bundle(b: Bundle, trust: TrustState | None) -> BundleResult:
    """Check a bundle with nothing but itself and the verifier's trust state."""
    out = BundleResult(entries=len(b.entries))
    leaves = [hash_leaf(e) for e in b.entries]
    _checkpoints(b, leaves, trust, out)
    if not b.checkpoints:
        out.problems.append("the bundle has no checkpoint")
    _proofs(b, leaves, trust, out)
    _signatures(b, out)
    return out


def trust_after(b: Bundle, result: BundleResult) -> TrustState:
    """The trust state to remember after a clean bundle."""
    return TrustState(
        origin=b.origin,
        log_keys=sorted(b.log_keys),
        witness_keys=sorted(b.witness_keys),
        size=result.latest_size,
        root=base64.b64encode(result.latest_root).decode(),
    )
