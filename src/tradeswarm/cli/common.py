"""Shared CLI plumbing: open a store that must exist, and turn errors into exit codes."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from tradeswarm.core.dburl import is_url, shown
from tradeswarm.core.errors import AccessDenied, StoreError, TradeswarmError

if TYPE_CHECKING:
    from tradeswarm.store import Store

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

EXIT_CANNOT_RUN = 2


def echo(line: object) -> None:
    """Print a story line as it is. It carries the agents' own words (a strategy's label,
    its rationale): printed as markup, `[momentum]` vanished and a `[/x]` in a hostile
    agent's rationale raised MarkupError in the kernel, at every rerun of its bar."""
    console.print(line, markup=False)


DB_HELP = "The swarm's store: a SQLite file or postgresql://user@host:port/db."


@contextlib.contextmanager
def existing_store(db: str | Path) -> Iterator[Store]:
    """Open db (a file, or a PostgreSQL URL), which must already hold a store: a typo must
    not create an empty one. Opened as a reader: without the audit-log writer's lease."""
    from tradeswarm.store import Store

    if is_url(db):
        from tradeswarm.store.postgres import holds_store

        with cli_errors():
            found = holds_store(str(db))
        if not found:
            err_console.print(f"[red]error:[/] --db {shown(db)}: no tradeswarm store there")
            raise typer.Exit(EXIT_CANNOT_RUN)
    elif not Path(db).exists():
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
