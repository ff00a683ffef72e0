"""Agent identities and keys (Ed25519, ML-DSA-87, ML-KEM-768), keystore, signing contexts.

The public API other rooms use (audit's verifier, the bus's signing hook, the CLI):
"""

from tradeswarm.crypto.contexts import NON_REPUDIABLE, SigningPolicy, context
from tradeswarm.crypto.identity import AgentIdentity, PublicIdentity, PublicKey
from tradeswarm.crypto.keys import Algorithm, Signer, key_id_of, verify
from tradeswarm.crypto.registry import KeyRegistry, KeyState
from tradeswarm.crypto.signing import (
    BurstBlock,
    EnvelopeVerifier,
    RejectReason,
    RootCache,
    SignatureBlock,
    SignatureInvalid,
    VerifiedSignature,
    decode_block,
    decode_signature,
    sign_burst,
    sign_bytes,
    sign_envelope,
    verify_bytes,
    verify_envelope,
)

__all__ = [
    "NON_REPUDIABLE",
    "AgentIdentity",
    "Algorithm",
    "BurstBlock",
    "EnvelopeVerifier",
    "KeyRegistry",
    "KeyState",
    "PublicIdentity",
    "PublicKey",
    "RejectReason",
    "RootCache",
    "SignatureBlock",
    "SignatureInvalid",
    "Signer",
    "SigningPolicy",
    "VerifiedSignature",
    "context",
    "decode_block",
    "decode_signature",
    "key_id_of",
    "sign_burst",
    "sign_bytes",
    "sign_envelope",
    "verify",
    "verify_bytes",
    "verify_envelope",
]
