"""Shared CLI plumbing: open a store that must exist, and turn errors into exit codes."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from tradeswarm.core.errors import AccessDenied, StoreError, TradeswarmError

if TYPE_CHECKING:
    from tradeswarm.store import Store

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

EXIT_CANNOT_RUN = 2


@contextlib.contextmanager
def existing_store(db: Path) -> Iterator[Store]:
    """Open db, which must already exist: a typo must not create an empty store."""
    from tradeswarm.store import Store

    if not db.exists():
        err_console.print(f"[red]error:[/] --db {db}: no such file")
        raise typer.Exit(EXIT_CANNOT_RUN)
    with cli_errors():
        store = Store.open(db)
    try:
        yield store
    finally:
        store.close()


@contextlib.contextmanager
def cli_errors() -> Iterator[None]:
    """Report tradeswarm errors as one clear line and exit 2; nothing is changed."""
    try:
        yield
    except AccessDenied as err:
        err_console.print(f"[red]refused:[/] {err}")
        raise typer.Exit(EXIT_CANNOT_RUN) from err
    except (StoreError, TradeswarmError) as err:
        err_console.print(f"[red]error:[/] {err}")
        raise typer.Exit(EXIT_CANNOT_RUN) from err
