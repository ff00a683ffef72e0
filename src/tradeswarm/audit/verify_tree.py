"""Re-verify the Merkle tree, the checkpoints, their cosignatures and the key table.

Everything is recomputed from the entries' bodies and checked against the verifier's
trust anchor, never against keys the store lists: every stored node, the root at every
checkpoint size, each checkpoint's signatures under the anchor's log keys and its signed
time (the `timestamp` line) against the row's, each cosignature under the anchor's
witness keys and its time against the row's, every cosignature the witness's state or
the anchor says was made, the witness's last cosigned root, a consistency proof from the
checkpoint the anchor trusts to the latest, and the audit_keys rows against the anchor.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

import msgspec

from tradeswarm.audit.anchor import LOG_ROLE, WITNESS_ROLE, TrustAnchor
from tradeswarm.audit.keys import VerifierKey
from tradeswarm.audit.merkle import CompactRange, is_stored
from tradeswarm.audit.note import (
    NoteError,
    SignatureLine,
    split_note,
    timestamp_of,
    verify_cosignature,
    verify_note,
)
from tradeswarm.audit.proofs import ProofError, verify_consistency
from tradeswarm.audit.tree import StoredTree
from tradeswarm.audit.witness import WitnessState
from tradeswarm.core.errors import InvariantViolation
from tradeswarm.store import Store
from tradeswarm.store.audit_repo import CheckpointRow, CosignatureRow, KeyRow


class TreeFacts(msgspec.Struct, kw_only=True):
    """What the tree check found, for display."""

    size: int = 0
    checkpoints: list[CheckpointRow] = []
    verified: dict[int, list[str]] = {}  # checkpoint size -> algorithms that verified
    witnessed: dict[int, list[str]] = {}  # checkpoint size -> witnesses that cosigned
    key_source: str = ""
    log_keys: list[str] = []

    @property
    def latest(self) -> CheckpointRow | None:
        return self.checkpoints[-1] if self.checkpoints else None

    def cosigned(self) -> dict[str, list[int]]:
        """witness name -> the sizes it validly cosigned."""
        out: dict[str, list[int]] = {}
        for size, names in sorted(self.witnessed.items()):
            for name in names:
                out.setdefault(name, []).append(size)
        return out


def recompute(
    leaves: Sequence[bytes], sizes: set[int]
) -> tuple[dict[int, bytes], set[tuple[int, int, bytes]]]:
    """Roots at the given sizes and every node the log stores, from the leaf hashes."""
    frontier, roots = CompactRange(), {0: CompactRange().root()}
    nodes: set[tuple[int, int, bytes]] = set()
    for size in sorted(s for s in sizes if 0 < s <= len(leaves)):
        nodes.update(frontier.extend(leaves[frontier.size : size]))
        roots[size] = frontier.root()
    nodes.update(frontier.extend(leaves[frontier.size :]))
    return roots, {n for n in nodes if is_stored(n[0])}


def _check_nodes(store: Store, nodes: set[tuple[int, int, bytes]], problems: list[str]) -> None:
    stored = set(store.audit.iter_nodes())
    for lv, i, _ in sorted(stored - nodes)[:5]:
        problems.append(f"merkle node ({lv}, {i}): stored hash differs or is not in the tree")
    for lv, i, _ in sorted(nodes - stored)[:5]:
        problems.append(f"merkle node ({lv}, {i}): missing or altered in the store")


def _key_row(key: VerifierKey, role: str) -> KeyRow:
    return KeyRow(key.vkey(), role, key.name, key.algorithm)


def check_key_rows(store: Store, anchor: TrustAnchor, problems: list[str]) -> None:
    """The audit_keys table must list exactly the anchor's keys, each as its vkey says."""
    want = {_key_row(k, LOG_ROLE) for k in anchor.log_keys}
    want |= {_key_row(k, WITNESS_ROLE) for k in anchor.witness_keys}
    have = set(store.audit.verifier_keys())
    for row in sorted(have - want, key=lambda r: r.vkey):
        problems.append(
            f"audit_keys row {row.name} ({row.role}, {row.algorithm}): not a key of "
            f"{anchor.source}, or altered"
        )
    for row in sorted(want - have, key=lambda r: r.vkey):
        problems.append(f"audit_keys: {row.role} key {row.name} ({row.algorithm}) is missing")


def _check_checkpoint(
    row: CheckpointRow, keys: list[VerifierKey], roots: dict[int, bytes], problems: list[str]
) -> list[str]:
    where = f"checkpoint {row.size}"
    try:
        cp, verified = verify_note(row.note, keys)
    except NoteError as err:
        problems.append(f"{where}: {err} (re-signed with a foreign key, or altered)")
        return []
    if (cp.size, cp.root) != (row.size, row.root):
        problems.append(f"{where}: the signed note says size {cp.size}, another root")
    if timestamp_of(cp) != row.ts_ns:
        problems.append(f"{where}: ts_ns {row.ts_ns} is not the signed time {timestamp_of(cp)}")
    if row.size not in roots:
        problems.append(f"{where}: beyond the log's {max(roots)} entries (entries deleted)")
    elif roots[row.size] != cp.root:
        problems.append(f"{where}: signed root differs from the log's (history rewritten)")
    return [k.algorithm for k in verified]


def _check_cosignature(
    cosig: CosignatureRow,
    by_size: dict[int, CheckpointRow],
    by_name: dict[str, VerifierKey],
    problems: list[str],
) -> bool:
    row, key = by_size.get(cosig.size), by_name.get(cosig.witness)
    where = f"cosignature by {cosig.witness} on checkpoint {cosig.size}"
    if row is None or key is None:
        what = "no such checkpoint" if row is None else "not a trusted witness"
        problems.append(f"{where}: {what}")
        return False
    try:
        ts_s = verify_cosignature(cosig.line, split_note(row.note)[0], key)
    except NoteError as err:
        problems.append(f"{where}: {err}")
        return False
    if ts_s != cosig.ts_s or SignatureLine.parse(cosig.line).name != cosig.witness:
        problems.append(f"{where}: ts_s {cosig.ts_s} is not the signed time {ts_s}")
        return False
    return True


def _check_cosignatures(
    store: Store, facts: TreeFacts, anchor: TrustAnchor, problems: list[str]
) -> None:
    by_size = {c.size: c for c in facts.checkpoints}
    by_name = {w.name: w for w in anchor.witness_keys}
    for cosig in store.audit.cosignatures():
        if _check_cosignature(cosig, by_size, by_name, problems):
            facts.witnessed.setdefault(cosig.size, []).append(cosig.witness)


def _demand_cosignatures(
    facts: TreeFacts, required: dict[str, set[int]], problems: list[str]
) -> None:
    for witness, sizes in sorted(required.items()):
        for size in sorted(sizes):
            if witness not in facts.witnessed.get(size, []):
                problems.append(
                    f"checkpoint {size}: the cosignature {witness} made is missing or altered"
                )


def _required(anchor: TrustAnchor, witness: WitnessState | None) -> dict[str, set[int]]:
    required = {name: set(sizes) for name, sizes in anchor.cosigned.items()}
    if witness is not None and witness.size:
        trusted = [k.name for k in anchor.witness_keys] or ["the witness"]
        name = witness.witness or trusted[0]  # older state files do not name their witness
        required.setdefault(name, set()).update({*witness.cosigned, witness.size})
    return required


def _check_witness_state(
    witness: WitnessState | None,
    anchor: TrustAnchor,
    roots: dict[int, bytes],
    problems: list[str],
) -> None:
    if witness is None or witness.size == 0:
        return
    if set(witness.log_keys) != anchor.log_vkeys():
        problems.append(f"the witness checks other log keys than those of {anchor.source}")
    if witness.size not in roots:
        problems.append(f"the witness cosigned size {witness.size}; the log is shorter now")
    elif roots[witness.size] != base64.b64decode(witness.root):
        problems.append(f"fork: the witness cosigned another root at size {witness.size}")


def _check_trusted(
    store: Store, anchor: TrustAnchor, latest: CheckpointRow | None, problems: list[str]
) -> None:
    if anchor.size == 0:
        return
    if latest is None or latest.size < anchor.size:
        problems.append(f"the log no longer reaches the trusted checkpoint at size {anchor.size}")
        return
    try:
        proof = StoredTree(store.audit).consistency_proof(anchor.size, latest.size)
        verify_consistency(anchor.size, latest.size, proof, anchor.root, latest.root)
    except (ProofError, InvariantViolation, ValueError) as err:
        problems.append(f"not consistent with the checkpoint trusted at size {anchor.size}: {err}")


def verify_tree(
    store: Store,
    leaves: Sequence[bytes],
    problems: list[str],
    anchor: TrustAnchor,
    witness: WitnessState | None = None,
) -> TreeFacts:
    """Check the tree, checkpoints, cosignatures and keys; append what is wrong."""
    facts = TreeFacts(size=store.audit.tree_size(), checkpoints=store.audit.checkpoints())
    if facts.size != len(leaves):
        problems.append(f"the Merkle tree covers {facts.size} of {len(leaves)} log entries")
    sizes = {c.size for c in facts.checkpoints} | {witness.size if witness else 0}
    roots, nodes = recompute(leaves, sizes)
    _check_nodes(store, nodes, problems)
    facts.key_source = anchor.source
    facts.log_keys = [f"{k.name} ({k.algorithm})" for k in anchor.log_keys]
    check_key_rows(store, anchor, problems)
    for row in facts.checkpoints:
        facts.verified[row.size] = _check_checkpoint(row, anchor.log_keys, roots, problems)
    _check_cosignatures(store, facts, anchor, problems)
    _demand_cosignatures(facts, _required(anchor, witness), problems)
    _check_witness_state(witness, anchor, roots, problems)
    _check_trusted(store, anchor, facts.latest, problems)
    return facts
