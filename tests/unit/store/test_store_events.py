from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest
from store_factories import BASE_NS, make_envelope, uid

from tradeswarm import testkit
from tradeswarm.model.envelope import decode_envelope, encode_envelope
from tradeswarm.model.messages import TradingResumed
from tradeswarm.store import EventRow, Store

ZERO32 = b"\x00" * 32


def verify_chain(rows: list[EventRow]) -> None:
    prev = ZERO32
    for expected_seq, row in enumerate(rows, start=1):
        assert row.seq == expected_seq
        leaf = hashlib.sha256(b"\x00" + row.body).digest()
        assert row.leaf_hash == leaf
        prev = hashlib.sha256(prev + leaf).digest()
        assert row.chain_hash == prev


def test_append_event_round_trips_envelope_and_columns(store: Store) -> None:
    env = make_envelope(2)
    assert store.append_event(env) == 1
    [row] = list(store.iter_events())
    assert row.body == encode_envelope(env)
    assert decode_envelope(row.body) == env
    assert row.msg_id == str(env.msg_id)
    assert row.type == "KillSwitchActivated"
    assert row.ts_ns == env.ts_ns
    verify_chain([row])


def test_msg_id_is_stored_as_its_16_bytes(db_path: Path) -> None:
    env = make_envelope(2)
    with Store.open(db_path) as s:
        s.append_event(env)
    with sqlite3.connect(db_path) as conn:
        (stored,) = conn.execute("SELECT msg_id FROM events").fetchone()
        columns = [r[1] for r in conn.execute("PRAGMA table_info(events)")]
    assert stored == env.msg_id.bytes
    assert columns == ["seq", "msg_id", "type", "ts_ns", "body", "leaf_hash", "chain_hash"]


def test_a_msg_id_that_is_not_16_bytes_reads_as_a_marker(db_path: Path) -> None:
    with Store.open(db_path) as s:
        s.append_event(make_envelope(2))
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE events SET msg_id = 'tmp'")
    with Store.open(db_path) as s:
        [row] = list(s.iter_events())
    assert row.msg_id == "<not a 16-byte msg_id: 'tmp'>"


def test_first_chain_hash_links_from_zero_bytes(store: Store) -> None:
    store.append_event(make_envelope(1))
    [row] = list(store.iter_events())
    leaf = hashlib.sha256(b"\x00" + row.body).digest()
    assert row.chain_hash == hashlib.sha256(ZERO32 + leaf).digest()


def test_append_event_is_idempotent_on_msg_id(store: Store) -> None:
    assert store.append_event(make_envelope(1)) == 1
    before = list(store.iter_events())
    assert store.append_event(make_envelope(1)) is None
    assert store.event_count() == 1
    assert list(store.iter_events()) == before
    assert store.append_event(make_envelope(2)) == 2


def test_append_events_batch_skips_known_and_repeated_ids(store: Store) -> None:
    store.append_event(make_envelope(1))
    envs = [make_envelope(1), make_envelope(2), make_envelope(3), make_envelope(2)]
    assert store.append_events(envs) == [None, 2, 3, None]
    assert store.append_events([]) == []
    rows = list(store.iter_events())
    assert [r.msg_id for r in rows] == [str(make_envelope(n).msg_id) for n in (1, 2, 3)]
    verify_chain(rows)


def test_batch_and_single_appends_build_the_same_chain(store: Store, tmp_path: Path) -> None:
    envs = [make_envelope(n) for n in range(1, 51)]
    with Store.open(tmp_path / "b.db") as b:  # on both dialects, the same rows as SQLite's
        a = store
        a.append_events(envs)
        for env in envs:
            b.append_event(env)
        assert list(a.iter_events()) == list(b.iter_events())


def test_iter_events_after_seq_pages_through_everything(store: Store) -> None:
    store.append_events([make_envelope(n) for n in range(1, 2502)])
    rows = list(store.iter_events())
    assert len(rows) == 2501 == store.event_count()
    verify_chain(rows)
    tail = list(store.iter_events(after_seq=2499))
    assert [r.seq for r in tail] == [2500, 2501]


def test_reopen_keeps_events_and_continues_the_chain(db_target: str) -> None:
    with Store.open(db_target) as s:
        s.append_events([make_envelope(n) for n in range(1, 6)])
    with Store.open(db_target) as s:
        assert s.event_count() == 5
        assert s.append_event(make_envelope(3)) is None
        assert s.append_event(make_envelope(6)) == 6
        rows = list(s.iter_events())
    verify_chain(rows)
    assert len(rows) == 6


def test_rolled_back_append_does_not_poison_the_chain(store: Store) -> None:
    store.append_event(make_envelope(1))
    with pytest.raises(RuntimeError), store.transaction():
        store.append_events([make_envelope(2), make_envelope(3)])
        raise RuntimeError("boom")
    assert store.event_count() == 1
    assert store.append_event(make_envelope(4)) == 2
    verify_chain(list(store.iter_events()))


def test_has_event_knows_logged_msg_ids_only(store: Store) -> None:
    store.append_event(make_envelope(1))
    with pytest.raises(RuntimeError), store.transaction():
        store.append_event(make_envelope(2))
        assert store.has_event(make_envelope(2).msg_id)  # the unit sees its own write
        raise RuntimeError("boom")
    assert store.has_event(make_envelope(1).msg_id)
    assert not store.has_event(make_envelope(2).msg_id)  # rolled back
    assert not store.has_event(make_envelope(3).msg_id)


def test_last_event_of_type_is_the_last_one_logged(store: Store) -> None:
    resumed = testkit.make_envelope(
        TradingResumed(resumed_by="jane", ts_event=BASE_NS),
        topic="system.killswitch.resumed",
        sender="human:jane",
        ts_ns=BASE_NS,
        msg_id=uid(77),
    )
    assert store.last_event_of_type("KillSwitchActivated") is None
    store.append_events([make_envelope(5), make_envelope(2), resumed])  # log order, not time
    assert store.last_event_of_type("KillSwitchActivated") == make_envelope(2)
    assert store.last_event_of_type("TradingResumed") == resumed
    assert store.last_event_of_type("SwarmCharter") is None
