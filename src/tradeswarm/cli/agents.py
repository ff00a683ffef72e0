"""`tradeswarm agents …`: provision, list, rotate and revoke identities in a keystore."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tradeswarm.cli.common import EXIT_CANNOT_RUN, cli_errors, console, err_console
from tradeswarm.core.clock import LiveClock, iso
from tradeswarm.core.errors import InvalidInput

if TYPE_CHECKING:  # crypto loads `cryptography` and yaml: imported per command
    from rich.table import Table

    from tradeswarm.crypto.identity import AgentIdentity, PublicIdentity

agents_app = typer.Typer(
    help="Agent identities: Ed25519, ML-DSA-87 and ML-KEM-768 keys, encrypted at rest.",
    no_args_is_help=True,
)

KeystoreOption = Annotated[
    Path, typer.Option("--keystore", help="Keystore directory (encrypted keys, registry.json).")
]
PassEnvOption = Annotated[
    str, typer.Option("--passphrase-env", help="Environment variable holding the passphrase.")
]
DEFAULT_SCRYPT_N = 2**17  # OWASP's minimum; crypto.keystore.DEFAULT_SCRYPT_N, not imported here
KEY_ID_SHOWN = 12  # of 32 hex digits; `agents list --json` shows them whole
DEFAULT_KEYSTORE = Path("tradeswarm-keys")
DEFAULT_PASS_ENV = "TRADESWARM_PASSPHRASE"


def passphrase(var: str) -> str:
    value = os.environ.get(var)
    if not value:
        err_console.print(f"[red]error:[/] --passphrase-env {var}: not set or empty")
        raise typer.Exit(EXIT_CANNOT_RUN)
    return value


def _row(identity: PublicIdentity) -> list[str]:
    from tradeswarm.crypto.keys import Algorithm

    retired = sum(k.retired_at_ns is not None for k in identity.keys)
    state = "revoked " + iso(identity.revoked_at_ns) if identity.revoked_at_ns else "active"
    ids = []
    for alg in Algorithm:
        key = identity.current(alg)
        ids.append(key.key_id[:KEY_ID_SHOWN] if key else "-")
    return [
        identity.name,
        identity.role,
        *ids,
        f"{state}, {retired} retired key(s)" if retired else state,
    ]


def _table(identities: list[PublicIdentity]) -> Table:
    from rich import box
    from rich.table import Table

    from tradeswarm.crypto.keys import Algorithm

    table = Table(box=box.SIMPLE_HEAD)
    table.add_column("name", no_wrap=True)
    table.add_column("role", no_wrap=True)
    for alg in Algorithm:
        table.add_column(str(alg), no_wrap=True)
    table.add_column("state")
    for identity in identities:
        table.add_row(*_row(identity))
    return table


def _date_ns(value: str) -> int:
    import datetime as dt

    try:
        day = dt.date.fromisoformat(value)
    except ValueError as err:
        raise InvalidInput("--valid-from", value, "expected YYYY-MM-DD") from err
    start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    return int(start.timestamp()) * 1_000_000_000


@agents_app.command()
def provision(
    batch: Annotated[Path, typer.Option("--batch", help="YAML swarm description.")],
    keystore: KeystoreOption = DEFAULT_KEYSTORE,
    passphrase_env: PassEnvOption = DEFAULT_PASS_ENV,
    scrypt_n: Annotated[
        int, typer.Option("--scrypt-n", help="scrypt cost for a new keystore (power of 2).")
    ] = DEFAULT_SCRYPT_N,
    valid_from: Annotated[
        str | None,
        typer.Option(
            "--valid-from",
            help="Keys valid from this UTC date (YYYY-MM-DD), not now: for replaying "
            "historical days on the SimClock, whose messages claim the simulated time.",
        ),
    ] = None,
) -> None:
    """Create identities for every agent in the batch file; keys encrypted, publics registered."""
    from tradeswarm.bus.topics import Role
    from tradeswarm.crypto.keystore import ScryptParams
    from tradeswarm.crypto.provision import REGISTRY_FILE, provision_swarm

    secret = passphrase(passphrase_env)
    t0 = time.perf_counter()
    with cli_errors():
        params = ScryptParams(salt=os.urandom(16), n=scrypt_n)
        since = LiveClock().now_ns() if valid_from is None else _date_ns(valid_from)
        made: list[AgentIdentity] = provision_swarm(
            batch, keystore, secret, since, {str(r) for r in Role}, params
        )
    elapsed = time.perf_counter() - t0
    console.print(_table([i.public() for i in made]))
    console.print(
        f"✓ provisioned {len(made)} identities in {elapsed:.2f}s (Ed25519, ML-DSA-87, "
        f"ML-KEM-768 each); private keys encrypted in {keystore}, public keys in "
        f"{keystore / REGISTRY_FILE}"
    )


@agents_app.command("list")
def list_agents(
    keystore: KeystoreOption = DEFAULT_KEYSTORE,
    as_json: Annotated[bool, typer.Option("--json", help="Print the registry JSON.")] = False,
) -> None:
    """The registered identities and their keys (no passphrase needed: public keys only)."""
    from tradeswarm.crypto.provision import open_registry

    with cli_errors():
        registry = open_registry(keystore)
    if as_json:
        print(json.dumps(json.loads(registry.to_json())))
        return
    console.print(_table(registry.identities()))


@agents_app.command()
def rotate(
    name: Annotated[str, typer.Argument(help="The identity to give new keys.")],
    keystore: KeystoreOption = DEFAULT_KEYSTORE,
    passphrase_env: PassEnvOption = DEFAULT_PASS_ENV,
) -> None:
    """New keys from now on; the old public keys stay registered so old signatures verify."""
    from tradeswarm.crypto.provision import open_registry, rotate_in

    secret = passphrase(passphrase_env)
    with cli_errors():
        fresh = rotate_in(keystore, name, secret, LiveClock().now_ns())
        registry = open_registry(keystore)
    console.print(_table([registry.get(fresh.name)]))


@agents_app.command()
def revoke(
    name: Annotated[str, typer.Argument(help="The identity to revoke.")],
    keystore: KeystoreOption = DEFAULT_KEYSTORE,
    passphrase_env: PassEnvOption = DEFAULT_PASS_ENV,
) -> None:
    """Reject name's signatures from now on; those made before stay valid."""
    from tradeswarm.crypto.provision import open_registry, revoke_in

    secret = passphrase(passphrase_env)
    with cli_errors():
        revoke_in(keystore, name, secret, LiveClock().now_ns())
        registry = open_registry(keystore)
    console.print(_table([registry.get(name)]))
