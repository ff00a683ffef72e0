"""Re-verify the Merkle tree, the checkpoints and their cosignatures against the log.

Everything is recomputed from the entries' bodies: every stored node, the root at every
checkpoint size, each checkpoint's signatures under the trusted log keys, each witness
cosignature, the witness's last cosigned root, and a consistency proof from the
checkpoint the verifier trusted last to the latest one.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

import msgspec

from tradeswarm.audit.keys import VerifierKey
from tradeswarm.audit.log import LOG_ROLE, WITNESS_ROLE
from tradeswarm.audit.merkle import CompactRange, is_stored
from tradeswarm.audit.note import NoteError, split_note, verify_cosignature, verify_note
from tradeswarm.audit.proofs import ProofError, verify_consistency
from tradeswarm.audit.tree import StoredTree
from tradeswarm.audit.trust import TrustState
from tradeswarm.audit.witness import WitnessState
from tradeswarm.core.errors import InvariantViolation
from tradeswarm.store import Store
from tradeswarm.store.audit_repo import CheckpointRow


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


def _keys(store: Store, role: str) -> list[VerifierKey]:
    return [VerifierKey.parse(k.vkey) for k in store.audit.verifier_keys() if k.role == role]


def _trusted_keys(
    store: Store, trust: TrustState | None, witness: WitnessState | None
) -> tuple[list[VerifierKey], str]:
    if trust is not None:
        return trust.keys(), "the verifier's trust state"
    if witness is not None:
        return [VerifierKey.parse(v) for v in witness.log_keys], "the witness's state"
    return _keys(store, LOG_ROLE), "the store itself (trust on first use)"


def _check_nodes(store: Store, nodes: set[tuple[int, int, bytes]], problems: list[str]) -> None:
    stored = set(store.audit.iter_nodes())
    for lv, i, _ in sorted(stored - nodes)[:5]:
        problems.append(f"merkle node ({lv}, {i}): stored hash differs or is not in the tree")
    for lv, i, _ in sorted(nodes - stored)[:5]:
        problems.append(f"merkle node ({lv}, {i}): missing or altered in the store")


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
    if row.size not in roots:
        problems.append(f"{where}: beyond the log's {max(roots)} entries (entries deleted)")
    elif roots[row.size] != cp.root:
        problems.append(f"{where}: signed root differs from the log's (history rewritten)")
    return [k.algorithm for k in verified]


def _check_cosignatures(
    store: Store, facts: TreeFacts, witnesses: list[VerifierKey], problems: list[str]
) -> None:
    by_size = {c.size: c for c in facts.checkpoints}
    by_name = {w.name: w for w in witnesses}
    for cosig in store.audit.cosignatures():
        row, key = by_size.get(cosig.size), by_name.get(cosig.witness)
        if row is None or key is None:
            problems.append(f"cosignature by {cosig.witness} on unknown checkpoint {cosig.size}")
            continue
        try:
            verify_cosignature(cosig.line, split_note(row.note)[0], key)
        except NoteError as err:
            problems.append(f"checkpoint {cosig.size}: {err}")
            continue
        facts.witnessed.setdefault(cosig.size, []).append(cosig.witness)


def _check_witness_state(
    witness: WitnessState | None, roots: dict[int, bytes], problems: list[str]
) -> None:
    if witness is None or witness.size == 0:
        return
    if witness.size not in roots:
        problems.append(f"the witness cosigned size {witness.size}; the log is shorter now")
    elif roots[witness.size] != base64.b64decode(witness.root):
        problems.append(f"fork: the witness cosigned another root at size {witness.size}")


def _check_trusted(
    store: Store, trust: TrustState | None, latest: CheckpointRow | None, problems: list[str]
) -> None:
    if trust is None or trust.size == 0:
        return
    if latest is None or latest.size < trust.size:
        problems.append(f"the log no longer reaches the trusted checkpoint at size {trust.size}")
        return
    try:
        proof = StoredTree(store.audit).consistency_proof(trust.size, latest.size)
        verify_consistency(trust.size, latest.size, proof, trust.root_bytes, latest.root)
    except (ProofError, InvariantViolation, ValueError) as err:
        problems.append(f"not consistent with the checkpoint trusted at size {trust.size}: {err}")


def verify_tree(
    store: Store,
    leaves: Sequence[bytes],
    problems: list[str],
    trust: TrustState | None = None,
    witness: WitnessState | None = None,
) -> TreeFacts:
    """Check the tree, checkpoints and cosignatures; append what is wrong to problems."""
    facts = TreeFacts(size=store.audit.tree_size(), checkpoints=store.audit.checkpoints())
    if facts.size != len(leaves):
        problems.append(f"the Merkle tree covers {facts.size} of {len(leaves)} log entries")
    sizes = {c.size for c in facts.checkpoints} | {witness.size if witness else 0}
    roots, nodes = recompute(leaves, sizes)
    _check_nodes(store, nodes, problems)
    keys, facts.key_source = _trusted_keys(store, trust, witness)
    facts.log_keys = [f"{k.name} ({k.algorithm})" for k in keys]
    if {k.vkey() for k in keys} != {k.vkey() for k in _keys(store, LOG_ROLE)}:
        problems.append(f"the store's log keys differ from those of {facts.key_source}")
    for row in facts.checkpoints:
        facts.verified[row.size] = _check_checkpoint(row, keys, roots, problems)
    witnesses = trust.witnesses() if trust and trust.witness_keys else _keys(store, WITNESS_ROLE)
    _check_cosignatures(store, facts, witnesses, problems)
    _check_witness_state(witness, roots, problems)
    _check_trusted(store, trust, facts.latest, problems)
    return facts
