"""The demo's audit keys: the log's checkpoint signers and its witness's, derived from a
public seed like the demo's identities (reproducible, protecting nothing). A verifier
trusts them only when told to (`tradeswarm audit verify --demo-keys`)."""

from __future__ import annotations

from tradeswarm.audit.keys import VerifierKey, derived_signer
from tradeswarm.crypto import Algorithm, Signer

DEMO_ORIGIN = "tradeswarm.local/log"
DEMO_WITNESS = "witness.tradeswarm.local/w1"
DEMO_SEED = "tradeswarm demo audit keys (public, not secret)"
DEMO_LOG_NAME = "tradeswarm-log"  # the demo's audit-log identity (it signs the charter)


def demo_log_signers() -> list[Signer]:
    return [derived_signer(a, DEMO_SEED, "log") for a in (Algorithm.ED25519, Algorithm.MLDSA87)]


def demo_witness_signer() -> Signer:
    return derived_signer(Algorithm.ED25519, DEMO_SEED, "witness")


def demo_verifier_keys() -> tuple[list[VerifierKey], list[VerifierKey]]:
    """The demo log's verifier keys and its witness's."""
    log = [VerifierKey.for_signer(DEMO_ORIGIN, s) for s in demo_log_signers()]
    witness = [VerifierKey.for_signer(DEMO_WITNESS, demo_witness_signer(), cosigner=True)]
    return log, witness
