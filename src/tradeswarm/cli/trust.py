"""Where `tradeswarm audit verify|report` takes its trust anchor from.

One source, never the checked store by default: a trust state file from an earlier run
(`--trust-state`), keys given on the command line (`--log-key`, `--witness-key`), the
demo's public-seed keys (`--demo-keys`), or, announced as such, the keys the checked
store or bundle lists (`--trust-on-first-use`). A trust state file that does not exist
yet is created by the first clean run, seeded by one of the other sources.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tradeswarm.cli.common import EXIT_CANNOT_RUN, err_console

if TYPE_CHECKING:
    from tradeswarm.audit.anchor import TrustAnchor
    from tradeswarm.audit.keys import VerifierKey

TrustOption = Annotated[
    Path | None,
    typer.Option(
        "--trust-state",
        help="The verifier's memory: pinned keys, last checkpoint, cosignatures seen.",
    ),
]
LogKeyOption = Annotated[
    list[str] | None,
    typer.Option("--log-key", help="A log verifier key (vkey) to trust; repeat for each."),
]
WitnessKeyOption = Annotated[
    list[str] | None,
    typer.Option("--witness-key", help="A witness verifier key (vkey) to trust; repeatable."),
]
DemoKeysOption = Annotated[
    bool, typer.Option("--demo-keys", help="Trust the demo's public-seed keys (demo stores).")
]
TofuOption = Annotated[
    bool,
    typer.Option(
        "--trust-on-first-use",
        help="Trust the keys the checked store or bundle lists itself (announced; weak).",
    ),
]

NO_ANCHOR = (
    "no trust anchor: give --trust-state FILE (from an earlier run), --log-key/--witness-key "
    "VKEY, --demo-keys (the demo's stores), or --trust-on-first-use (the checked store's own "
    "keys, which protects against accidents only)"
)


class TrustSource:
    """The trust options of one command, resolved against the checked store or bundle."""

    def __init__(
        self,
        trust_state: Path | None,
        log_keys: list[str] | None,
        witness_keys: list[str] | None,
        demo_keys: bool,
        tofu: bool,
    ) -> None:
        self.trust_state = trust_state
        self.log_keys = log_keys or []
        self.witness_keys = witness_keys or []
        self.demo_keys = demo_keys
        self.tofu = tofu

    def _fail(self, message: str) -> typer.Exit:
        err_console.print(f"[red]error:[/] {message}")
        return typer.Exit(EXIT_CANNOT_RUN)

    def _seeds(self) -> int:
        return sum((bool(self.log_keys or self.witness_keys), self.demo_keys, self.tofu))

    def anchor(
        self, own_keys: tuple[list[VerifierKey], list[VerifierKey]], where: str
    ) -> TrustAnchor:
        """The anchor, or exit 2 naming what is missing. own_keys: the keys the checked
        store or bundle lists (used only for --trust-on-first-use)."""
        from tradeswarm.audit import anchor as a
        from tradeswarm.audit.trust import TrustError, load_trust

        state = None
        if self.trust_state is not None:
            try:
                state = load_trust(self.trust_state)
            except TrustError as err:
                raise self._fail(str(err)) from err
        pinned = None
        if state is not None:
            pinned = self._checked(lambda: a.from_trust_state(state, str(self.trust_state)))
            if not self._seeds():
                return pinned
        if self._seeds() != 1:
            raise self._fail(NO_ANCHOR if not self._seeds() else "give one source of trust")
        seeded = self._seeded(own_keys, where)
        if pinned is None:
            return seeded
        if pinned.log_vkeys() != seeded.log_vkeys():
            raise self._fail(f"--trust-state {self.trust_state} pins other log keys than given")
        return pinned

    def _seeded(
        self, own_keys: tuple[list[VerifierKey], list[VerifierKey]], where: str
    ) -> TrustAnchor:
        from tradeswarm.audit import anchor as a

        if self.demo_keys:
            return a.demo_anchor()
        if self.tofu:
            return self._checked(lambda: a.trust_on_first_use(*own_keys, where))
        return self._checked(
            lambda: a.from_keys(
                a.parse_keys(self.log_keys, "--log-key"),
                a.parse_keys(self.witness_keys, "--witness-key"),
                "the keys given on the command line",
            )
        )

    def _checked(self, make: object) -> TrustAnchor:
        assert callable(make)
        try:
            anchor: TrustAnchor = make()
        except ValueError as err:
            raise self._fail(str(err)) from err
        if not anchor.log_keys:
            raise self._fail("the trust anchor holds no log key")
        return anchor

    def remember(
        self, anchor: TrustAnchor, size: int, root: bytes, cosigned: dict[str, list[int]]
    ) -> str:
        """After a clean check, save the trust state (if one was named); say so."""
        from tradeswarm.audit.anchor import remembered
        from tradeswarm.audit.trust import save_trust

        if self.trust_state is None or size == 0:
            return ""
        save_trust(self.trust_state, remembered(anchor, size, root, cosigned))
        return f"trusted checkpoint now size {size} ({self.trust_state})"
