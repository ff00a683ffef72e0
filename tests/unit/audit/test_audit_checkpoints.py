"""Checkpoints as C2SP signed notes; one per size; witnesses cosign and refuse forks."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from audit_factories import (
    ORIGIN,
    log_keys,
    log_signers,
    make_envelope,
    make_log,
    make_witness,
)
from sqlalchemy.exc import IntegrityError

from tradeswarm.audit.keys import VerifierKey, derived_signer
from tradeswarm.audit.note import (
    Checkpoint,
    NoteError,
    SignatureLine,
    split_note,
    timestamp_of,
    verify_cosignature,
    verify_note,
)
from tradeswarm.audit.witness import FileWitness, WitnessRefused
from tradeswarm.core.clock import NS_PER_MS, NS_PER_SECOND, SimClock
from tradeswarm.core.errors import InvariantViolation
from tradeswarm.crypto import Algorithm, verify
from tradeswarm.store import Store
from tradeswarm.store.audit_repo import CheckpointRow


@pytest.fixture
def clock() -> SimClock:
    return SimClock(1_700_000_000 * NS_PER_SECOND)


@pytest.fixture
def store() -> Iterator[Store]:
    s = Store.open(":memory:")
    yield s
    s.close()


def test_checkpoint_note_has_the_c2sp_shape_and_verifies(store: Store, clock: SimClock) -> None:
    log = make_log(store, clock, every=4)
    log.append_events([make_envelope(i) for i in range(5)])
    (row,) = store.audit.checkpoints()
    text, sigs = split_note(row.note)
    origin, size, root_b64, stamp = text.splitlines()
    assert (origin, size) == (ORIGIN, "5")
    assert stamp == f"timestamp {row.ts_ns}" and row.ts_ns == clock.now_ns()
    assert base64.b64decode(root_b64) == row.root == log.tree.root(5)
    assert row.note == text + "\n" + "".join(s.line() for s in sigs)
    assert [s.name for s in sigs] == [ORIGIN, ORIGIN]
    ed_key = derived_signer(Algorithm.ED25519, "log")
    # key ID per signed-note: SHA-256(name || 0x0A || 0x01 || public key)[:4]
    want_id = hashlib.sha256(ORIGIN.encode() + b"\n\x01" + ed_key.public_key_bytes()).digest()[:4]
    assert sigs[0].key_id == want_id
    assert verify("ed25519", ed_key.public_key_bytes(), sigs[0].signature, text.encode())
    assert len(sigs[1].signature) == 4627  # ML-DSA-87
    checkpoint, verified = verify_note(row.note, log_keys(log_signers()))
    assert checkpoint == Checkpoint(ORIGIN, 5, row.root, (stamp,))
    assert timestamp_of(checkpoint) == row.ts_ns
    assert {k.algorithm for k in verified} == {"ed25519", "ml-dsa-87"}


def test_the_checkpoint_time_is_under_the_log_signatures(store: Store, clock: SimClock) -> None:
    log = make_log(store, clock)
    log.append_events([make_envelope(i) for i in range(3)])
    row = log.checkpoint()
    assert row is not None
    backdated = row.note.replace(f"timestamp {row.ts_ns}\n", f"timestamp {row.ts_ns - 1}\n")
    assert backdated != row.note
    with pytest.raises(NoteError, match="invalid"):
        verify_note(backdated, log_keys(log_signers()))


def test_a_changed_or_foreign_signed_note_is_rejected(store: Store, clock: SimClock) -> None:
    log = make_log(store, clock)
    log.append_events([make_envelope(i) for i in range(3)])
    row = log.checkpoint()
    assert row is not None
    keys = log_keys(log_signers())
    forged = row.note.replace("\n3\n", "\n2\n", 1)
    with pytest.raises(NoteError, match="invalid"):
        verify_note(forged, keys)
    foreign = make_log(Store.open(":memory:"), clock, signers=log_signers("mallory"))
    foreign.append_events([make_envelope(i) for i in range(3)])
    other = foreign.checkpoint()
    assert other is not None and other.root == row.root
    with pytest.raises(NoteError, match="no signature by trusted key"):
        verify_note(other.note, keys)


@pytest.mark.parametrize(
    "text",
    ["o\n5\n", "o\n05\nAAAA\n", "o\n5\nnot base64!\n", "o\n5\n" + "QUJD" + "\n", "o\n5\n\n"],
)
def test_malformed_checkpoint_text_is_refused(text: str) -> None:
    with pytest.raises(NoteError):
        Checkpoint.parse(text)


def test_vkeys_round_trip_and_check_their_key_id() -> None:
    for key in log_keys(log_signers()):
        assert VerifierKey.parse(key.vkey()) == key
    vkey = log_keys(log_signers())[0].vkey()
    name, _, blob = vkey.split("+", 2)
    with pytest.raises(ValueError, match="key ID"):
        VerifierKey.parse(f"{name}+00000000+{blob}")


def test_checkpoints_are_cut_every_n_entries_and_every_t_ms(store: Store, clock: SimClock) -> None:
    from tradeswarm.audit.log import AuditLog, CheckpointPolicy

    policy = CheckpointPolicy(origin=ORIGIN, every_entries=10, every_ms=1_000)
    log = AuditLog(store, clock, log_signers(), policy)
    log.append_events([make_envelope(0)])  # the first entry opens the first checkpoint
    for i in range(1, 25):
        log.append_events([make_envelope(i)])
    assert [c.size for c in store.audit.checkpoints()] == [1, 11, 21]
    clock.advance(999 * NS_PER_MS)
    log.append_events([make_envelope(25)])
    assert store.audit.latest_checkpoint().size == 21  # type: ignore[union-attr]
    clock.advance(1 * NS_PER_MS)
    log.append_events([make_envelope(26)])
    assert store.audit.latest_checkpoint().size == 27  # type: ignore[union-attr]
    assert log.checkpoint() == store.audit.latest_checkpoint()  # nothing new since
    assert len(store.audit.checkpoints()) == 4


def test_never_two_checkpoints_for_one_size(store: Store, clock: SimClock) -> None:
    log = make_log(store, clock)
    log.append_events([make_envelope(i) for i in range(4)])
    row = log.checkpoint()
    assert row is not None
    assert store.audit.add_checkpoint(row) is False  # the same one again: a no-op
    other = CheckpointRow(row.size, bytes(32), row.note, row.ts_ns)
    with pytest.raises(InvariantViolation, match="different checkpoint for tree size 4"):
        store.audit.add_checkpoint(other)
    with pytest.raises(IntegrityError), store._engine.begin() as conn:  # the constraint itself
        conn.exec_driver_sql(
            "INSERT INTO checkpoints (size, root, note, ts_ns) VALUES (4, ?, 'x', 0)", (bytes(32),)
        )


def test_witness_cosigns_each_checkpoint_after_commit(store: Store, clock: SimClock) -> None:
    signers = log_signers()
    witness = make_witness(clock, signers)
    log = make_log(store, clock, every=5, witnesses=[witness])
    with store.transaction():
        log.append_events([make_envelope(i) for i in range(6)])
        assert store.audit.cosignatures() == []  # not before the unit of work commits
    clock.advance(7 * NS_PER_SECOND)
    log.append_events([make_envelope(i) for i in range(6, 12)])
    cosigs = store.audit.cosignatures()
    assert [c.size for c in cosigs] == [6, 12]
    assert witness.state.size == 12
    assert witness.state.cosigned == [6, 12]
    assert witness.state.witness == witness.key.name == "witness.test/w1"
    for c, cp in zip(cosigs, store.audit.checkpoints(), strict=True):
        text, _ = split_note(cp.note)
        assert verify_cosignature(c.line, text, witness.key) == c.ts_s
    assert cosigs[1].ts_s - cosigs[0].ts_s == 7
    assert (
        SignatureLine.parse(cosigs[0].line).key_id
        == hashlib.sha256(b"witness.test/w1\n\x04" + witness.key.public_key).digest()[:4]
    )


def test_witness_refuses_a_fork(clock: SimClock) -> None:
    signers = log_signers()
    witness = make_witness(clock, signers)
    honest = make_log(Store.open(":memory:"), clock, witnesses=[witness])
    honest.append_events([make_envelope(i) for i in range(8)])
    assert honest.checkpoint() is not None and witness.state.size == 8
    # the operator rewrites history (same keys) and presents a longer tree
    forked = make_log(Store.open(":memory:"), clock, signers=signers)
    forked.append_events([make_envelope(i, "fork") for i in range(12)])
    row = forked.checkpoint()
    assert row is not None
    with pytest.raises(WitnessRefused, match="fork"):
        witness.cosign(row.note, 8, forked.tree.consistency_proof(8, 12))
    assert witness.state.size == 8
    assert witness.state.cosigned == [8]  # a refusal is not a cosignature
    with pytest.raises(WitnessRefused, match="I hold size 8"):
        witness.cosign(row.note, 0, [])


def test_witness_refuses_rollback_and_foreign_signatures(clock: SimClock) -> None:
    signers = log_signers()
    witness = make_witness(clock, signers)
    log = make_log(Store.open(":memory:"), clock, witnesses=[witness])
    log.append_events([make_envelope(i) for i in range(3)])
    small = log.checkpoint()
    log.append_events([make_envelope(i) for i in range(3, 6)])
    log.checkpoint()
    assert small is not None and witness.state.size == 6
    with pytest.raises(WitnessRefused, match="I hold size 6"):
        witness.cosign(small.note, 0, [])
    with pytest.raises(WitnessRefused, match="rolls back"):
        witness.cosign(small.note, 6, [])
    mallory = make_log(Store.open(":memory:"), clock, signers=log_signers("mallory"))
    mallory.append_events([make_envelope(i) for i in range(9)])
    bad = mallory.checkpoint()
    assert bad is not None
    with pytest.raises(WitnessRefused, match="log signature"):
        witness.cosign(bad.note, 6, mallory.tree.consistency_proof(6, 9))


def test_a_cosignature_lost_to_a_crash_is_asked_for_again(store: Store, clock: SimClock) -> None:
    """A kill between the witness's cosigning and the cosignature row's commit leaves a
    witness that remembers a size the log holds no cosignature for; the next checkpoint
    asks the witness for that one again, so every size it cosigned is in the log."""
    signers = log_signers()
    witness = make_witness(clock, signers)
    log = make_log(store, clock, every=5, witnesses=[witness])
    log.append_events([make_envelope(i) for i in range(6)])
    with store._engine.begin() as conn:  # the crash: the row never committed
        conn.exec_driver_sql("DELETE FROM cosignatures")
    assert witness.state.cosigned == [6]
    clock.advance(3 * NS_PER_SECOND)
    log.append_events([make_envelope(i) for i in range(6, 12)])
    cosigs = store.audit.cosignatures()
    assert [c.size for c in cosigs] == [6, 12]
    assert log.witness_errors == []
    for c, cp in zip(cosigs, store.audit.checkpoints(), strict=True):
        assert verify_cosignature(c.line, split_note(cp.note)[0], witness.key) == c.ts_s


def test_a_log_records_a_refusal_and_keeps_the_checkpoint_pending(clock: SimClock) -> None:
    signers = log_signers()
    witness = make_witness(clock, signers)
    witness.state.size = 3  # it has seen a size this log never had
    log = make_log(Store.open(":memory:"), clock, witnesses=[witness])
    log.append_events([make_envelope(i) for i in range(2)])
    assert log.checkpoint() is not None
    assert log.store.audit.cosignatures() == []
    assert "I hold size 3" in log.witness_errors[0]


def test_file_witness_keeps_state_outside_the_db(tmp_path: Path, clock: SimClock) -> None:
    signers = log_signers()
    path = tmp_path / "witness.json"

    def file_witness() -> FileWitness:
        return FileWitness(
            path,
            "witness.test/file",
            derived_signer(Algorithm.ED25519, "file-witness"),
            ORIGIN,
            log_keys(signers),
            lambda: clock.now_ns() // NS_PER_SECOND,
        )

    store = Store.open(tmp_path / "log.sqlite")
    log = make_log(store, clock, witnesses=[file_witness()])
    log.append_events([make_envelope(i) for i in range(5)])
    log.checkpoint()
    state = json.loads(path.read_text())
    assert state["size"] == 5 and base64.b64decode(state["root"]) == log.tree.root(5)
    assert (state["cosigned"], state["witness"]) == ([5], "witness.test/file")
    again = file_witness()  # a restart reads the state back
    assert again.state.size == 5
    assert again.state.cosigned == [5]
    forked = make_log(Store.open(":memory:"), clock, signers=signers)
    forked.append_events([make_envelope(i, "x") for i in range(7)])
    row = forked.checkpoint()
    assert row is not None
    with pytest.raises(WitnessRefused, match="fork"):
        again.cosign(row.note, 5, forked.tree.consistency_proof(5, 7))
    store.close()
