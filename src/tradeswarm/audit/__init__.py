"""The verifiable audit log: RFC 9162 Merkle tree over the event log, signed checkpoints,
witnesses, proofs and the verifier.

`verify_inclusion` and `verify_consistency` are the public proof checkers: they raise
`ProofError` (a ValueError) on a bad proof and need no database.
"""

from tradeswarm.audit.proofs import ProofError, verify_consistency, verify_inclusion

__all__ = ["ProofError", "verify_consistency", "verify_inclusion"]
