"""Where a store lives: a SQLite file (or ":memory:") or a PostgreSQL URL.

Pure string work, no database driver, so the CLI can tell the two apart before it
imports SQLAlchemy. A URL names the database; its password is never shown (`shown`).
Plain `postgresql://` means the psycopg 3 driver (`postgresql+psycopg://`), the only
PostgreSQL driver tradeswarm uses.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

from tradeswarm.core.errors import StoreError

POSTGRES_SCHEMES = ("postgresql", "postgresql+psycopg", "postgres")
PSYCOPG_SCHEME = "postgresql+psycopg"
STATE_DIR_ENV = "TRADESWARM_STATE_DIR"
"""The directory for a URL store's local state (the file witness's); default ./.tradeswarm."""
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


def is_url(target: str | Path) -> bool:
    """True when target is written as a URL (scheme://...), whatever the scheme."""
    return isinstance(target, str) and _SCHEME.match(target) is not None


def psycopg_url(target: str) -> str:
    """target as the SQLAlchemy URL of the psycopg 3 driver; StoreError for a URL that
    is not PostgreSQL or names no database."""
    found = _SCHEME.match(target)
    scheme = found.group(1).lower() if found else ""
    if scheme not in POSTGRES_SCHEMES:
        raise StoreError(
            f"{shown(target)}: unsupported store URL (use postgresql://user@host:port/db "
            "or a SQLite file path)"
        )
    parts = urlsplit(target)
    if not unquote(parts.path.lstrip("/")):
        raise StoreError(f"{shown(target)}: the URL names no database (…/DBNAME)")
    try:
        parts.port  # noqa: B018 - validates the port
    except ValueError as err:
        raise StoreError(f"{shown(target)}: bad port in the store URL") from err
    return PSYCOPG_SCHEME + target[found.end(1) if found else 0 :]


def shown(target: str | Path) -> str:
    """target as it may be printed: a URL without its password."""
    text = str(target)
    if not is_url(text):
        return text
    parts = urlsplit(text)
    if parts.password is None:
        return text
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def state_stem(target: str) -> str:
    """A file-name stem for a URL store's local state: HOST_PORT_DB."""
    parts = urlsplit(target)
    host = parts.hostname or "localhost"
    db = unquote(parts.path.lstrip("/"))
    stem = f"{host}_{parts.port or 5432}_{db}"
    return re.sub(r"[^A-Za-z0-9._-]", "_", stem)


def state_path(target: str, suffix: str) -> Path:
    """Where a URL store's local state file lives: $TRADESWARM_STATE_DIR (default
    ./.tradeswarm) / HOST_PORT_DB + suffix."""
    folder = Path(os.environ.get(STATE_DIR_ENV) or ".tradeswarm")
    return folder / f"{state_stem(target)}{suffix}"
