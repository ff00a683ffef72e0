"""The human's own key for the oversight and kill-switch commands: keystore or demo key."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tradeswarm.bus.identity import Identity
from tradeswarm.cli.common import EXIT_CANNOT_RUN, err_console
from tradeswarm.core.clock import iso
from tradeswarm.core.errors import AccessDenied

if TYPE_CHECKING:
    from tradeswarm.crypto import Signer
    from tradeswarm.store import Store

KeystoreOption = Annotated[
    Path | None,
    typer.Option("--keystore", help="Your keystore directory (from `tradeswarm agents`)."),
]
PassEnvOption = Annotated[
    str, typer.Option("--passphrase-env", help="Environment variable holding the passphrase.")
]
DemoKeyOption = Annotated[
    bool,
    typer.Option("--demo-key", help="Sign with the demo's public-seed key (demo stores only)."),
]


def human_key(
    store: Store,
    who: Identity,
    now_ns: int,
    keystore: Path | None,
    passphrase_env: str,
    demo_key: bool,
) -> Signer:
    """who's Ed25519 signer, refused (AccessDenied) unless the swarm's registry knows it.

    Checked before anything changes: a decision the risk manager would refuse is not made.
    """
    from tradeswarm.audit.order_check import registry_of
    from tradeswarm.crypto import Algorithm
    from tradeswarm.crypto.keystore import open_keystore
    from tradeswarm.crypto.provision import demo_identities

    if (keystore is None) == (not demo_key):
        err_console.print(
            "[red]error:[/] give --keystore DIR (your own key) or --demo-key (the demo's "
            "public keys), one of them"
        )
        raise typer.Exit(EXIT_CANNOT_RUN)
    if keystore is None:
        (identity,) = demo_identities([(who.name, str(who.role))])
    else:
        from tradeswarm.cli.agents import passphrase

        identity = open_keystore(keystore, passphrase(passphrase_env), create=False).load(who.name)
    if identity.role != str(who.role):
        raise AccessDenied(f"{who}: the keystore holds {identity.principal}, not a {who.role}")
    signer = identity.signer(Algorithm.ED25519)
    registry = registry_of(store)
    if registry is not None:
        state, found = registry.state_at(signer.key_id, now_ns)
        if found is None or state != "valid" or found.owner.principal != str(who):
            raise AccessDenied(
                f"{who}: key {signer.key_id[:12]}… is not a key of {who} this swarm's registry "
                f"accepts at {iso(now_ns)} ({state}); nothing changed"
            )
    return signer
