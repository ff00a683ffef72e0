"""Verify the whole log against a trust anchor, or the entries behind one order: who
signed each, what the gate decided, and a Merkle inclusion proof of each entry against the
latest signed checkpoint."""

from __future__ import annotations

import uuid
from pathlib import Path

import msgspec

from tradeswarm.audit.anchor import TrustAnchor
from tradeswarm.audit.chain import order_chain
from tradeswarm.audit.charter import latest_charter, registry_of_charter
from tradeswarm.audit.proofs import ProofError, verify_inclusion
from tradeswarm.audit.rebuild import compare_tables
from tradeswarm.audit.signatures import SignatureWalk, walk_signatures
from tradeswarm.audit.tree import StoredTree
from tradeswarm.audit.verify import LogScan, scan_log
from tradeswarm.audit.verify_tree import TreeFacts, verify_tree
from tradeswarm.audit.witness import WitnessState
from tradeswarm.core.errors import InvariantViolation
from tradeswarm.crypto import KeyRegistry
from tradeswarm.model.envelope import Envelope
from tradeswarm.model.messages import OversightDecided, RiskDecision
from tradeswarm.store import Store


class EntryCheck(msgspec.Struct, kw_only=True):
    """One entry's verdicts; ok is False when something failed (not when pending)."""

    seq: int
    env: Envelope
    signature: str
    inclusion: str
    human: str | None = None  # the human's own signature on an oversight decision
    human_ok: bool = True
    ok: bool = True


class FullCheck(msgspec.Struct, kw_only=True):
    scan: LogScan
    facts: TreeFacts
    walk: SignatureWalk

    @property
    def problems(self) -> list[str]:
        return self.scan.report.problems


def registry_of(store: Store, path: Path | None = None) -> KeyRegistry | None:
    """The public-key registry: from a file if given, else the latest charter's (as the
    store holds it: for display and the CLI's checks; verification walks the charters)."""
    if path is not None:
        return KeyRegistry.load(path)
    charter = latest_charter(store)
    return None if charter is None else registry_of_charter(charter)


def check_all(
    store: Store,
    anchor: TrustAnchor,
    witness: WitnessState | None = None,
    books: bool = True,
    registry: KeyRegistry | None = None,
) -> FullCheck:
    """The log, every signature under its charter, the Merkle tree, checkpoints,
    cosignatures and keys against the anchor; every record table if books."""
    scan = scan_log(store)
    walk = walk_signatures(scan.envelopes, scan.seqs, anchor.charter_keys(), registry)
    scan.report.problems.extend(walk.problems)
    permits_on_bad_approvals(scan.envelopes, scan.seqs, walk, scan.report.problems)
    if books:
        compare_tables(store, scan.envelopes, scan.report.problems, _refused(scan, walk))
    facts = verify_tree(store, scan.leaves, scan.report.problems, anchor, witness)
    return FullCheck(scan=scan, facts=facts, walk=walk)


def permits_on_bad_approvals(
    envelopes: list[Envelope], seqs: list[int], walk: SignatureWalk, problems: list[str]
) -> None:
    """A refused forgery, faithfully logged, is a fact; a PERMIT resting on one is not."""
    answers = {
        e.payload.request_id: s
        for e, s in zip(envelopes, seqs, strict=True)
        if isinstance(e.payload, OversightDecided) and e.payload.answer() is not None
    }
    for env, seq in zip(envelopes, seqs, strict=True):
        request_id = _approval_behind(env)
        if request_id is None:
            continue
        answered = answers.get(request_id)
        verdict = walk.verdicts.get(answered) if answered is not None else None
        if verdict is None or not verdict.human_ok:
            why = "missing" if verdict is None else verdict.human
            problems.append(
                f"event #{seq} (RiskDecision): PERMIT on an approval whose human signature is {why}"
            )


def _refused(scan: LogScan, walk: SignatureWalk) -> frozenset[uuid.UUID]:
    """The approvals whose human signature does not verify: the risk manager refused them."""
    return frozenset(
        e.msg_id
        for e, s in zip(scan.envelopes, scan.seqs, strict=True)
        if isinstance(e.payload, OversightDecided)
        and e.payload.status == "APPROVED"
        and not walk.verdicts[s].human_ok
    )


def _approval_behind(env: Envelope) -> uuid.UUID | None:
    """The oversight request a PERMIT rests on, if it rests on a human approval."""
    p = env.payload
    if isinstance(p, RiskDecision) and p.verdict == "PERMIT" and p.approval and p.approval.approved:
        return p.approval.request_id
    return None


def decision_text(env: Envelope) -> str | None:
    """The authorization decision an entry records, if it is one."""
    p = env.payload
    if not isinstance(p, RiskDecision):
        return None
    via = f", approved by {p.approval.approver}" if p.approval and p.approval.approved else ""
    return f"{p.verdict}{via}: " + "; ".join(p.reasons)


def _inclusion(check: FullCheck, tree: StoredTree, seq: int) -> tuple[str, bool]:
    latest = check.facts.latest
    index = seq - 1
    if latest is None or index >= latest.size:
        return "pending (after the latest checkpoint)", True
    if not check.facts.verified.get(latest.size):
        return f"checkpoint {latest.size} does not verify", False
    try:
        proof = tree.inclusion_proof(index, latest.size)
        verify_inclusion(check.scan.leaves[index], index, latest.size, proof, latest.root)
    except (ProofError, InvariantViolation, ValueError, IndexError) as err:
        return f"INVALID against checkpoint {latest.size}: {err}", False
    return f"valid ({len(proof)} hashes) in checkpoint {latest.size}", True


def check_order(store: Store, check: FullCheck, order_ref: str) -> list[EntryCheck] | None:
    """Each entry behind the order, verified; None if the log has no such order."""
    chain = order_chain(check.scan.envelopes, order_ref)
    if not chain:
        return None
    seq_of: dict[uuid.UUID, int] = {
        e.msg_id: s for e, s in zip(check.scan.envelopes, check.scan.seqs, strict=True)
    }
    tree = StoredTree(store.audit)
    permitted = {r for e in chain if (r := _approval_behind(e)) is not None}
    out = []
    for env in chain:
        seq = seq_of[env.msg_id]
        verdict = check.walk.verdicts[seq]
        inc, inc_ok = _inclusion(check, tree, seq)
        entry = EntryCheck(
            seq=seq, env=env, signature=verdict.text, inclusion=inc, ok=verdict.ok and inc_ok
        )
        if isinstance(env.payload, OversightDecided):
            entry.human, entry.human_ok = verdict.human, verdict.human_ok
            entry.ok = entry.ok and (entry.human_ok or env.payload.request_id not in permitted)
        out.append(entry)
    return out


def witness_text(facts: TreeFacts, size: int) -> str:
    who = facts.witnessed.get(size)
    return f"witnessed by {', '.join(who)}" if who else "witness: pending"
