"""The audit-log writer's lease: exactly one process at a time appends to a store's log.

`Store.open(target, writer=True)` takes it and holds it until `close`; readers (status,
`audit verify`, the CLI's inbox puts) open without it. A second writer fails at once
with a `StoreError` naming the store. On PostgreSQL the lease is a session-level advisory
lock (`store.postgres.PostgresLease`); on a SQLite file it is an exclusive `flock` on the
lock file DB.writer.lock beside it (released by the kernel if the process dies; the file
itself stays, empty). An in-memory store is private to its process and needs none.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Protocol

from sqlalchemy import Engine

from tradeswarm.core.errors import StoreError
from tradeswarm.store.postgres import PostgresLease
from tradeswarm.store.sqlite import is_memory


class Lease(Protocol):
    def release(self) -> None: ...


def lock_path_for(db: Path) -> Path:
    """The SQLite store's writer lock file: DB -> DB.writer.lock."""
    return Path(f"{db}.writer.lock")


class FileLease:
    """The writer lease of a SQLite file store (see module doc)."""

    def __init__(self, db: Path) -> None:
        path = lock_path_for(db)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as err:
            raise StoreError(f"{db}: cannot create the writer lock {path}: {err}") from err
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as err:
            os.close(fd)
            raise StoreError(
                f"{db}: another writer holds this store (its audit-log writer lease, "
                f"{path.name}, is locked); stop that swarm first"
            ) from err
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # closing the descriptor drops the flock


class NoLease:
    """The lease of a store nobody else can open (":memory:"), or of a reader."""

    def release(self) -> None:
        return None


def take_lease(engine: Engine, target: str | Path, path: Path | None) -> Lease:
    """The writer's lease on the store at target (path: its file, None for PostgreSQL)."""
    if path is None:
        return PostgresLease(engine, str(target))
    return NoLease() if is_memory(path) else FileLease(path)
