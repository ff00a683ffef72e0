"""Agent identities and keys (Ed25519, ML-DSA-87, ML-KEM-768), keystore, signing contexts.

The public API other rooms use (audit's verifier, the bus's signing hook, the CLI):
"""

from tradeswarm.crypto.contexts import NON_REPUDIABLE, SigningPolicy, context
from tradeswarm.crypto.identity import AgentIdentity, PublicIdentity, PublicKey
from tradeswarm.crypto.keys import Algorithm, Signer, key_id_of, verify
from tradeswarm.crypto.registry import KeyRegistry, KeyState
from tradeswarm.crypto.signing import (
    RejectReason,
    SignatureBlock,
    SignatureInvalid,
    VerifiedSignature,
    decode_block,
    sign_bytes,
    sign_envelope,
    verify_bytes,
    verify_envelope,
)

__all__ = [
    "NON_REPUDIABLE",
    "AgentIdentity",
    "Algorithm",
    "KeyRegistry",
    "KeyState",
    "PublicIdentity",
    "PublicKey",
    "RejectReason",
    "SignatureBlock",
    "SignatureInvalid",
    "Signer",
    "SigningPolicy",
    "VerifiedSignature",
    "context",
    "decode_block",
    "key_id_of",
    "sign_bytes",
    "sign_envelope",
    "verify",
    "verify_bytes",
    "verify_envelope",
]
