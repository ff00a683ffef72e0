"""The store against real databases, a SQLite file and a fresh PostgreSQL database
(`pg_kit`): two writers, a killed process, a full chain check."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pg_kit import fresh_database
from tradeswarm.core.errors import StoreError
from tradeswarm.model.envelope import Envelope
from tradeswarm.store import EventRow, Store

ENV_SOURCE = textwrap.dedent(
    """
    import uuid
    from tradeswarm.model.enums import MessageIntent
    from tradeswarm.model.envelope import Envelope
    from tradeswarm.model.messages import KillSwitchActivated

    def env(n: int) -> Envelope:
        return Envelope(
            msg_id=uuid.UUID(int=n),
            type="KillSwitchActivated",
            topic="control.kill",
            correlation_id=uuid.UUID(int=n),
            causation_id=None,
            ttl_ms=0,
            sender="ops",
            intent=MessageIntent.EVENT,
            idempotency_key=str(n),
            ts_ns=n,
            nonce=b"n",
            payload=KillSwitchActivated(reason="r", triggered_by="ops", ts_event=n),
        )
    """
)

_ENV_NAMESPACE: dict[str, Any] = {}
exec(ENV_SOURCE, _ENV_NAMESPACE)  # one builder, here and in the killed writer's process
env: Callable[[int], Envelope] = _ENV_NAMESPACE["env"]


def assert_chain(rows: list[EventRow]) -> None:
    prev = b"\x00" * 32
    for seq, row in enumerate(rows, start=1):
        assert row.seq == seq
        prev = hashlib.sha256(prev + hashlib.sha256(b"\x00" + row.body).digest()).digest()
        assert row.chain_hash == prev, f"chain broken at seq {seq}"


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The store's place: a SQLite file, or a fresh PostgreSQL database's URL."""
    if request.param == "sqlite":
        yield str(tmp_path / "swarm.db")
        return
    with fresh_database() as url:
        yield url


def run_child(db: str, body: str) -> subprocess.CompletedProcess[str]:
    code = ENV_SOURCE + "\nfrom tradeswarm.store import Store\n" + textwrap.dedent(body)
    return subprocess.run(
        [sys.executable, "-c", code, db],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_other_process_append_is_detected_then_chained(target: str) -> None:
    db = target
    with Store.open(db) as store:
        store.append_events([env(n) for n in range(1, 11)])
        child = run_child(
            db,
            """
            import sys
            with Store.open(sys.argv[1]) as s:
                assert s.append_events([env(n) for n in range(100, 105)]) == [11, 12, 13, 14, 15]
            """,
        )
        assert child.returncode == 0, child.stderr
        with pytest.raises(StoreError, match="another writer"):
            store.append_event(env(11))
        assert store.append_event(env(11)) == 16
        rows = list(store.iter_events())
    assert len(rows) == 16
    assert_chain(rows)


def test_killed_writer_leaves_no_partial_unit_of_work(target: str) -> None:
    db = target
    with Store.open(db) as store:
        store.append_events([env(1), env(2)])
    child = run_child(
        db,
        """
        import os, sys
        s = Store.open(sys.argv[1], writer=True)
        with s.transaction():
            s.append_events([env(n) for n in range(10, 500)])
            s.set_meta("half", "done")
            os._exit(3)
        """,
    )
    assert child.returncode == 3, child.stderr
    with Store.open(db, writer=True) as store:  # the dead writer's lease went with it
        assert store.event_count() == 2
        assert store.get_meta("half") is None
        assert store.append_event(env(3)) == 3
        assert_chain(list(store.iter_events()))


def test_large_log_survives_reopen_with_intact_chain(target: str) -> None:
    db = target
    for start in range(1, 5001, 1000):
        with Store.open(db) as store:
            seqs = store.append_events([env(n) for n in range(start, start + 1000)])
            assert seqs == list(range(start, start + 1000))
    with Store.open(db) as store:
        rows = list(store.iter_events())
    assert len(rows) == 5000
    assert_chain(rows)
