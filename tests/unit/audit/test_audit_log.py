"""The stored Merkle log against a straightforward recursive RFC 9162 implementation."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from decimal import Decimal

import pytest
from audit_factories import log_signers, make_envelope, make_log
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from hypothesis import given, settings
from hypothesis import strategies as st

from tradeswarm.audit import ProofError, verify_consistency, verify_inclusion
from tradeswarm.audit.charter import check_charter, make_charter
from tradeswarm.audit.merkle import CompactRange, nodes_of_range
from tradeswarm.core.clock import SimClock
from tradeswarm.core.errors import ConfigurationError, InvariantViolation
from tradeswarm.crypto import AgentIdentity, KeyRegistry, SigningPolicy
from tradeswarm.crypto.contexts import context
from tradeswarm.crypto.signing import decode_block
from tradeswarm.model.envelope import Envelope, decode_envelope, encode_envelope, signing_bytes
from tradeswarm.model.messages import SwarmCharter
from tradeswarm.store import Store

# -- RFC 9162 section 2.1, written as the definitions read (the oracle) -------------------


def _leaf(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(d: list[bytes]) -> bytes:
    if not d:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return _leaf(d[0])
    k = _k(len(d))
    return hashlib.sha256(b"\x01" + mth(d[:k]) + mth(d[k:])).digest()


def path(m: int, d: list[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = _k(len(d))
    if m < k:
        return [*path(m, d[:k]), mth(d[k:])]
    return [*path(m - k, d[k:]), mth(d[:k])]


def subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    if m == len(d):
        return [] if b else [mth(d)]
    k = _k(len(d))
    if m <= k:
        return [*subproof(m, d[:k], b), mth(d[k:])]
    return [*subproof(m - k, d[k:], False), mth(d[:k])]


# -- fixtures -----------------------------------------------------------------------------


@pytest.fixture
def clock() -> SimClock:
    return SimClock(1_700_000_000 * 10**9)


@pytest.fixture
def store() -> Iterator[Store]:
    s = Store.open(":memory:")
    yield s
    s.close()


def _fill(store: Store, clock: SimClock, batches: list[int]) -> list[bytes]:
    log = make_log(store, clock)
    n = 0
    for size in batches:
        envs = [make_envelope(n + i) for i in range(size)]
        log.append_events(envs)
        n += size
    return [encode_envelope(make_envelope(i)) for i in range(n)]


@settings(max_examples=25, deadline=None)
@given(batches=st.lists(st.integers(1, 40), min_size=1, max_size=8), data=st.data())
def test_roots_and_proofs_match_the_rfc_definitions(
    batches: list[int], data: st.DataObject
) -> None:
    clock = SimClock(1_700_000_000 * 10**9)
    with Store.open(":memory:") as store:
        entries = _fill(store, clock, batches)
        log = make_log(store, clock)
        n = len(entries)
        assert log.tree.size == n
        for _ in range(6):
            size = data.draw(st.integers(1, n))
            index = data.draw(st.integers(0, size - 1))
            old = data.draw(st.integers(1, size))
            root, old_root = mth(entries[:size]), mth(entries[:old])
            assert log.tree.root(size) == root
            proof = log.tree.inclusion_proof(index, size)
            assert proof == path(index, entries[:size])
            verify_inclusion(_leaf(entries[index]), index, size, proof, root)
            cproof = log.tree.consistency_proof(old, size)
            assert cproof == (subproof(old, entries[:size], True) if old < size else [])
            verify_consistency(old, size, cproof, old_root, root)


def test_stored_nodes_are_the_even_level_perfect_subtrees(store: Store, clock: SimClock) -> None:
    entries = _fill(store, clock, [5, 17, 1, 30])
    stored = {(lv, i): h for lv, i, h in store.audit.iter_nodes()}
    expected = {}
    for level in range(2, 7, 2):
        width = 1 << level
        for i in range(len(entries) // width):
            expected[(level, i)] = mth(entries[i * width : (i + 1) * width])
    assert stored == expected


def test_a_proof_from_a_tampered_node_fails_verification(store: Store, clock: SimClock) -> None:
    entries = _fill(store, clock, [16])
    log = make_log(store, clock)
    proof = log.tree.inclusion_proof(3, 16)
    proof[1] = bytes(32)
    with pytest.raises(ProofError):
        verify_inclusion(_leaf(entries[3]), 3, 16, proof, mth(entries))


def test_entries_logged_around_the_audit_log_are_caught_up(store: Store, clock: SimClock) -> None:
    log = make_log(store, clock)
    log.append_events([make_envelope(i) for i in range(3)])
    store.append_events([make_envelope(i) for i in range(3, 9)])  # bypassing the audit log
    log.append_events([make_envelope(i) for i in range(9, 12)])
    entries = [encode_envelope(make_envelope(i)) for i in range(12)]
    assert log.tree.size == 12
    assert log.tree.root(12) == mth(entries)


def test_a_rolled_back_unit_of_work_leaves_no_tree_behind(store: Store, clock: SimClock) -> None:
    log = make_log(store, clock)
    log.append_events([make_envelope(0)])
    with pytest.raises(RuntimeError), store.transaction():
        log.append_events([make_envelope(i) for i in range(1, 4)])
        raise RuntimeError("crash mid-unit")
    log.append_events([make_envelope(9)])
    entries = [encode_envelope(make_envelope(i)) for i in (0, 9)]
    assert log.tree.size == 2
    assert log.tree.root(2) == mth(entries)


def test_a_missing_node_is_reported_not_guessed(store: Store, clock: SimClock) -> None:
    _fill(store, clock, [8])
    log = make_log(store, clock)
    with store._engine.begin() as conn:  # under the repository, as an attacker would
        conn.exec_driver_sql("DELETE FROM merkle_nodes WHERE id = ?", ((2 << 56) | 1,))
    with pytest.raises(InvariantViolation, match="missing"):
        log.tree.root(8)
    with pytest.raises(ValueError, match="outside"):
        log.tree.inclusion_proof(0, 9)


def test_frontier_extend_reports_completed_nodes() -> None:
    frontier = CompactRange()
    done = frontier.extend([bytes([i]) * 32 for i in range(4)])
    assert [(lv, i) for lv, i, _ in done] == [(1, 0), (1, 1), (2, 0)]
    assert frontier.size == 4 and len(frontier.hashes) == 1
    with pytest.raises(ValueError, match="3 has 2 hashes"):
        CompactRange(3, [bytes(32)])
    assert nodes_of_range(3, 13) == [(0, 3), (2, 1), (2, 2), (0, 12)]


def test_the_log_needs_a_post_quantum_key(store: Store, clock: SimClock) -> None:
    with pytest.raises(ConfigurationError, match="ML-DSA-87"):
        make_log(store, clock, signers=log_signers()[:1])


@settings(max_examples=20, deadline=None)
@given(batches=st.lists(st.integers(1, 60), min_size=1, max_size=5))
def test_roots_agree_with_pymerkle(batches: list[int]) -> None:
    from pymerkle import InmemoryTree

    clock = SimClock(1_700_000_000 * 10**9)
    with Store.open(":memory:") as store:
        entries = _fill(store, clock, batches)
        tree = make_log(store, clock).tree
        peer = InmemoryTree()
        for n, entry in enumerate(entries, start=1):
            peer.append_entry(entry)
            assert tree.root(n) == peer.get_root(n)


# -- the charter ---------------------------------------------------------------------------

SENDER = "audit-log:test-log"


def _charter(clock: SimClock, cash: str = "1000000") -> SwarmCharter:
    trader = AgentIdentity.from_seed(
        "trading-agent-01", "trading-agent", b"charter-test-seed-0001", 0
    )
    registry = KeyRegistry([trader.public()])
    return make_charter(registry, SigningPolicy(), Decimal(cash), clock.now_ns())


def _charters(store: Store) -> list[Envelope]:
    envs = [decode_envelope(row.body) for row in store.iter_events()]
    return [e for e in envs if isinstance(e.payload, SwarmCharter)]


def test_a_charter_is_logged_once_and_again_when_its_terms_change(
    store: Store, clock: SimClock
) -> None:
    log = make_log(store, clock)
    assert log.record_charter(_charter(clock), SENDER) is True
    clock.advance(10**9)
    assert log.record_charter(_charter(clock), SENDER) is False  # same terms, later time
    assert log.record_charter(_charter(clock, cash="5"), SENDER) is True
    logged = _charters(store)
    assert [e.payload.initial_cash for e in logged] == [Decimal(1_000_000), Decimal(5)]  # type: ignore[union-attr]
    assert store.last_event_of_type("SwarmCharter") == logged[-1]
    assert log.tree.size == 2  # in the Merkle tree like every other entry
    assert {(e.sender, e.topic) for e in logged} == {(SENDER, "audit.charter")}


def test_the_charter_is_signed_with_the_logs_ed25519_key(store: Store, clock: SimClock) -> None:
    log = make_log(store, clock)
    log.record_charter(_charter(clock), SENDER)
    (env,) = _charters(store)
    block = decode_block(env.signature or b"")
    assert block.alg == "ed25519"
    public = log_signers()[0].public_key_bytes()
    # the signature checked with the cryptography package itself, not our verifier
    Ed25519PublicKey.from_public_bytes(public).verify(
        block.sig, context("SwarmCharter") + signing_bytes(env)
    )
    assert check_charter(env, [("ed25519", public)]) is None
    stranger = log_signers("mallory")[0].public_key_bytes()
    assert "not signed by a trusted log key" in (check_charter(env, [("ed25519", stranger)]) or "")
