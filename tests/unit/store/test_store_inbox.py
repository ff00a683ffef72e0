"""The inbox: wire bytes from another process, queued for the swarm's gate."""

from __future__ import annotations

import pytest

from tradeswarm.store import Store


def test_take_returns_what_was_put_in_order_and_empties_the_queue(store: Store) -> None:
    assert store.take_inbox() == []
    places = [store.put_inbox(wire, 100 + n) for n, wire in enumerate((b"a", b"b", b"c"))]
    assert places == sorted(places) and len(set(places)) == 3
    assert store.inbox_pending() == 3
    assert store.take_inbox() == [b"a", b"b", b"c"]
    assert store.inbox_pending() == 0
    assert store.take_inbox() == []


def test_take_in_a_rolled_back_unit_of_work_leaves_them_queued(store: Store) -> None:
    store.put_inbox(b"first", 1)
    store.put_inbox(b"second", 2)
    with pytest.raises(RuntimeError), store.transaction():
        assert store.take_inbox() == [b"first", b"second"]
        assert store.inbox_pending() == 0
        raise RuntimeError("crash before the unit of work commits")
    assert store.inbox_pending() == 2
    assert store.take_inbox() == [b"first", b"second"]


def test_what_is_put_after_a_take_is_taken_next_time(store: Store) -> None:
    store.put_inbox(b"a", 1)
    assert store.take_inbox() == [b"a"]
    store.put_inbox(b"b", 2)
    assert store.take_inbox() == [b"b"]


def test_the_inbox_is_shared_by_two_stores_on_one_database(db_target: str) -> None:
    with Store.open(db_target) as cli, Store.open(db_target) as swarm:
        cli.put_inbox(b"\x00signed bytes\xff", 5)
        assert swarm.inbox_pending() == 1
        assert swarm.take_inbox() == [b"\x00signed bytes\xff"]
        assert cli.inbox_pending() == 0
