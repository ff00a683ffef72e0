"""The audit log: the bus's sink that appends envelopes, grows the Merkle tree and cuts
signed checkpoints, all in the unit of work that logs the envelopes.

Per batch: the store inserts the events (leaf hashes computed once), the compact range
absorbs the new leaves and the completed perfect nodes are inserted, and when N entries
or T milliseconds have passed since the last checkpoint a new one is signed (Ed25519 and
ML-DSA-87) and stored. Witnesses are asked to cosign after the unit of work commits, so
no witness ever sees a checkpoint the database then rolls back.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from tradeswarm.audit.charter import CHARTER_TYPE, charter_envelope, needs_recording
from tradeswarm.audit.keys import VerifierKey
from tradeswarm.audit.merkle import CompactRange
from tradeswarm.audit.note import Checkpoint, SignatureLine, sign_note, timestamp_line
from tradeswarm.audit.tree import StoredTree
from tradeswarm.audit.witness import Witness, WitnessRefused
from tradeswarm.core.clock import NS_PER_MS, Clock
from tradeswarm.core.errors import ConfigurationError
from tradeswarm.crypto import Algorithm, Signer
from tradeswarm.model.envelope import Envelope
from tradeswarm.model.messages import SwarmCharter
from tradeswarm.store import Store
from tradeswarm.store.audit_repo import CheckpointRow, CosignatureRow, KeyRow

LOG_ROLE = "log"
WITNESS_ROLE = "witness"


class CheckpointPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """When to cut a checkpoint: every `every_entries` entries or `every_ms` of clock time."""

    origin: str = "tradeswarm.local/log"
    every_entries: int = 1000
    every_ms: int = 300_000  # the seed's 5-minute anchor interval

    def __post_init__(self) -> None:
        if self.every_entries <= 0:
            raise ConfigurationError("every_entries", self.every_entries, "must be > 0")
        if self.every_ms <= 0:
            raise ConfigurationError("every_ms", self.every_ms, "must be > 0")
        if not self.origin or "\n" in self.origin:
            raise ConfigurationError("origin", self.origin, "must be one non-empty line")


class AuditLog:
    """Wraps a Store as the bus sink; see the module docstring."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        signers: Sequence[Signer],
        policy: CheckpointPolicy | None = None,
        witnesses: Sequence[Witness] = (),
    ) -> None:
        self.store = store
        self.tree = StoredTree(store.audit)
        self.policy = policy or CheckpointPolicy()
        self._clock = clock
        if {Algorithm.MLDSA87, Algorithm.ED25519} - {Algorithm(s.algorithm) for s in signers}:
            raise ConfigurationError("signers", len(signers), "need Ed25519 and ML-DSA-87 keys")
        name = self.policy.origin
        self.keys = [(VerifierKey.for_signer(name, s), s) for s in signers]
        self.witnesses = list(witnesses)
        self.witness_errors: list[str] = []
        self._frontier = CompactRange()
        self._register_keys()

    @property
    def verifier_keys(self) -> list[VerifierKey]:
        return [k for k, _ in self.keys]

    def _register_keys(self) -> None:
        with self.store.transaction():
            for key in self.verifier_keys:
                self.store.audit.add_key(KeyRow(key.vkey(), LOG_ROLE, key.name, key.algorithm))
            for w in self.witnesses:
                k = w.key
                self.store.audit.add_key(KeyRow(k.vkey(), WITNESS_ROLE, k.name, k.algorithm))

    # -- the sink -------------------------------------------------------------------------

    def append_events(self, envs: Sequence[Envelope]) -> list[int | None]:
        """Log envelopes, extend the tree, and cut a checkpoint when one is due."""
        with self.store.transaction():
            seqs, leaves = self.store.append_events_hashed(envs)
            first = next((s for s in seqs if s is not None), None)
            if first is not None:
                self._extend(first, leaves)
                self._maybe_checkpoint()
        return seqs

    def _current_frontier(self) -> CompactRange:
        size = self.store.audit.tree_size()
        if self._frontier.size != size:  # another writer, or a rolled-back unit of work
            self._frontier = self.tree.frontier(size)
        return self._frontier

    def _extend(self, first_seq: int, leaves: list[bytes]) -> None:
        frontier = self._current_frontier().copy()
        if first_seq - 1 > frontier.size:  # entries logged without this audit log: catch up
            leaves = self.store.audit.leaves(frontier.size, first_seq - 1) + leaves
        nodes = frontier.extend(leaves, stored_only=True)
        self.store.audit.extend_tree(frontier.size, nodes)
        self._frontier = frontier

    def catch_up(self) -> int:
        """Bring the tree up to every logged entry; return the tree size."""
        with self.store.transaction():
            frontier = self._current_frontier().copy()
            head = self.store.audit.event_head()
            if head > frontier.size:
                done = frontier.extend(self.store.audit.leaves(frontier.size, head), True)
                self.store.audit.extend_tree(frontier.size, done)
                self._frontier = frontier
            return frontier.size

    # -- the charter ----------------------------------------------------------------------

    def record_charter(self, charter: SwarmCharter, sender: str) -> bool:
        """Log charter (signed with this log's Ed25519 key, as sender) unless the last
        charter logged says the same; return whether it was logged."""
        if not needs_recording(self.store.last_event_of_type(CHARTER_TYPE), charter):
            return False
        signer = next(s for k, s in self.keys if k.algorithm == Algorithm.ED25519)
        self.append_events([charter_envelope(charter, sender, signer)])
        return True

    # -- checkpoints ----------------------------------------------------------------------

    def _maybe_checkpoint(self) -> None:
        last = self.store.audit.latest_checkpoint()
        size = self._frontier.size
        last_size, last_ns = (0, None) if last is None else (last.size, last.ts_ns)
        due_time = last_ns is None or self._clock.now_ns() - last_ns >= (
            self.policy.every_ms * NS_PER_MS
        )
        if size - last_size >= self.policy.every_entries or (due_time and size > last_size):
            self.checkpoint()

    def checkpoint(self) -> CheckpointRow | None:
        """The checkpoint of the current size: cut and signed now (witnesses cosign after
        commit), or the latest one if it already covers every entry; None for an empty log."""
        with self.store.transaction():
            size = self.catch_up()
            last = self.store.audit.latest_checkpoint()
            if last is not None and last.size == size:
                return last
            if size == 0:
                return None
            root, now = self._frontier.root(), self._clock.now_ns()
            text = Checkpoint(self.policy.origin, size, root, (timestamp_line(now),)).text()
            row = CheckpointRow(size, root, sign_note(text, self.keys), now)
            self.store.audit.add_checkpoint(row)
            if self.witnesses:
                self.store.call_after_commit(lambda: self._witness_quietly(row))
            return row

    # -- witnesses ------------------------------------------------------------------------

    def _last_cosigned(self, witness: Witness) -> int:
        return self.store.audit.last_cosigned(witness.key.name)

    def _witness_quietly(self, row: CheckpointRow) -> None:
        self.witness(row)

    def _recover_cosignature(self, witness: Witness, size: int, asked: int) -> None:
        """The witness holds a size of this log newer than any cosignature stored: a
        crash came between its cosigning and the row's commit. Ask it again for that
        checkpoint (a proof from a size to itself is empty) and store the line, so the
        cosignature the witness remembers making is in the log."""
        if size == asked:
            return  # the caller's own retry cosigns this very checkpoint
        held = next((c for c in self.store.audit.checkpoints() if c.size == size), None)
        if held is None:
            return  # not a checkpoint of ours: the retry's proof settles it
        self._store_cosignature(witness, size, witness.cosign(held.note, size, []))

    def _store_cosignature(self, witness: Witness, size: int, line: str) -> None:
        ts_s = int.from_bytes(SignatureLine.parse(line).signature[:8], "big")
        self.store.audit.add_cosignature(CosignatureRow(size, witness.key.name, line, ts_s))

    def witness(self, row: CheckpointRow) -> int:
        """Ask every witness to cosign row; return how many did (refusals are kept in
        `witness_errors` and leave the checkpoint pending for that witness)."""
        done = 0
        for w in self.witnesses:
            old = self._last_cosigned(w)
            try:
                try:
                    line = w.cosign(row.note, old, self.tree.consistency_proof(old, row.size))
                except WitnessRefused as err:
                    if err.known_size == old or err.known_size > row.size:
                        raise
                    self._recover_cosignature(w, err.known_size, row.size)
                    proof = self.tree.consistency_proof(err.known_size, row.size)
                    line = w.cosign(row.note, err.known_size, proof)
            except WitnessRefused as err:
                self.witness_errors.append(f"size {row.size}: {err}")
                continue
            self._store_cosignature(w, row.size, line)
            done += 1
        return done
