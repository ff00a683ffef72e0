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
    from tradeswarm.crypto import AgentIdentity, Signer
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
    signs: str,
) -> Signer:
    """who's signer for a message of type `signs`, in the algorithm the swarm's recorded
    signing policy asks for it (ML-DSA-87 when `[signing] algorithms` says so), refused
    (AccessDenied) unless the swarm's recorded registry knows the key.

    Checked before anything is queued: an envelope the swarm's gate would refuse is not
    sent."""
    from tradeswarm.audit.charter import latest_charter, policy_of, registry_of_charter

    identity = _identity(who, keystore, passphrase_env, demo_key)
    charter = latest_charter(store)
    if charter is None:
        raise AccessDenied(f"{store.name}: no swarm charter in the log; run the swarm first")
    signer = identity.signer(policy_of(charter).algorithm_for(signs))
    state, found = registry_of_charter(charter).state_at(signer.key_id, now_ns)
    if found is None or state != "valid" or found.owner.principal != str(who):
        raise AccessDenied(
            f"{who}: {signer.algorithm} key {signer.key_id[:12]}… is not a key of {who} this "
            f"swarm's registry accepts at {iso(now_ns)} ({state}); nothing was sent"
        )
    return signer


def _identity(
    who: Identity, keystore: Path | None, passphrase_env: str, demo_key: bool
) -> AgentIdentity:
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
    return identity
