"""Verify the entries behind one order: who signed each, what the gate decided, and a Merkle
inclusion proof of each entry against the latest signed checkpoint."""

from __future__ import annotations

import uuid
from pathlib import Path

import msgspec

from tradeswarm.audit.chain import order_chain
from tradeswarm.audit.proofs import ProofError, verify_inclusion
from tradeswarm.audit.tree import StoredTree
from tradeswarm.audit.trust import TrustState
from tradeswarm.audit.verify import LogScan, scan_log, verify_books
from tradeswarm.audit.verify_tree import TreeFacts, verify_tree
from tradeswarm.audit.witness import WitnessState
from tradeswarm.core.errors import InvariantViolation
from tradeswarm.crypto import KeyRegistry, SignatureInvalid, verify_bytes, verify_envelope
from tradeswarm.model.envelope import Envelope
from tradeswarm.model.messages import HUMAN_DECISION_CONTEXT, OversightDecided, RiskDecision
from tradeswarm.store import Store

REGISTRY_META_KEY = "audit.registry"


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

    @property
    def problems(self) -> list[str]:
        return self.scan.report.problems


def registry_of(store: Store, path: Path | None = None) -> KeyRegistry | None:
    """The public-key registry: from a file if given, else as the swarm recorded it."""
    if path is not None:
        return KeyRegistry.load(path)
    recorded = store.get_meta(REGISTRY_META_KEY)
    return None if recorded is None else KeyRegistry.from_json(recorded, "the store's registry")


def check_all(
    store: Store,
    trust: TrustState | None = None,
    witness: WitnessState | None = None,
    books: bool = True,
) -> FullCheck:
    """The log, the Merkle tree, checkpoints and cosignatures; the books if asked."""
    scan = scan_log(store)
    if books:
        verify_books(store, scan.envelopes, scan.report)
        _verify_signatures(scan, registry_of(store))
    facts = verify_tree(store, scan.leaves, scan.report.problems, trust, witness)
    return FullCheck(scan=scan, facts=facts)


def _verify_signatures(scan: LogScan, registry: KeyRegistry | None) -> None:
    for env, seq in zip(scan.envelopes, scan.seqs, strict=True):
        if env.signature is not None:
            verdict, ok = signature_verdict(env, registry)
            if not ok:
                scan.report.problems.append(f"event #{seq} ({env.type}): signature {verdict}")
    answers = _answers(scan.envelopes)
    for env, seq in zip(scan.envelopes, scan.seqs, strict=True):
        request_id = _approval_behind(env)
        if request_id is None:
            continue
        verdict, ok = human_verdict(answers.get(request_id), registry)
        if not ok:
            scan.report.problems.append(
                f"event #{seq} (RiskDecision): PERMIT on an approval whose human "
                f"signature is {verdict}"
            )


def _answers(envelopes: list[Envelope]) -> dict[uuid.UUID, OversightDecided]:
    return {
        e.payload.request_id: e.payload
        for e in envelopes
        if isinstance(e.payload, OversightDecided)
    }


def _approval_behind(env: Envelope) -> uuid.UUID | None:
    """The oversight request a PERMIT rests on, if it rests on a human approval."""
    p = env.payload
    if isinstance(p, RiskDecision) and p.verdict == "PERMIT" and p.approval and p.approval.approved:
        return p.approval.request_id
    return None


def human_verdict(
    decided: OversightDecided | None, registry: KeyRegistry | None
) -> tuple[str, bool]:
    """The human's own signature on an oversight decision: ('valid ed25519, key … of
    human:…', True), or why not. An auto-denial carries none and needs none."""
    if decided is None:
        return "missing (no oversight decision in the log)", False
    answer = decided.answer()
    if answer is None:
        return "none (auto-denied by the desk)", True
    if registry is None:
        return "not checked: no registry", False
    try:
        v = verify_bytes(
            HUMAN_DECISION_CONTEXT,
            answer.signing_bytes(),
            decided.human_signature,
            registry,
            principal=f"human:{decided.approver}",
            signed_ns=decided.decided_ns,
        )
    except SignatureInvalid as err:
        return f"INVALID ({err})", False
    return f"valid {v.algorithm}, key {v.key_id[:12]}… of {v.principal}", True


def signature_verdict(env: Envelope, registry: KeyRegistry | None) -> tuple[str, bool]:
    """('ed25519 key 1a2b… of risk:…', True), ('unsigned', True) or (reason, False)."""
    if env.signature is None:
        return "unsigned", True
    if registry is None:
        return "signed, but no registry to verify it with", False
    try:
        v = verify_envelope(env, registry)
    except SignatureInvalid as err:
        return f"INVALID ({err})", False
    return f"valid {v.algorithm}, key {v.key_id[:12]}… of {v.principal}", True


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


def check_order(
    store: Store, check: FullCheck, order_ref: str, registry: KeyRegistry | None
) -> list[EntryCheck] | None:
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
        sig, sig_ok = signature_verdict(env, registry)
        inc, inc_ok = _inclusion(check, tree, seq)
        entry = EntryCheck(seq=seq, env=env, signature=sig, inclusion=inc, ok=sig_ok and inc_ok)
        if isinstance(env.payload, OversightDecided):
            # a refused forgery is a fact the log records; a trade resting on one is not
            entry.human, entry.human_ok = human_verdict(env.payload, registry)
            entry.ok = entry.ok and (entry.human_ok or env.payload.request_id not in permitted)
        out.append(entry)
    return out


def witness_text(facts: TreeFacts, size: int) -> str:
    who = facts.witnessed.get(size)
    return f"witnessed by {', '.join(who)}" if who else "witness: pending"
