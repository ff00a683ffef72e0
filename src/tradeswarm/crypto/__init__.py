"""Agent identities and keys (Ed25519, ML-DSA-87, ML-KEM-768), keystore, signing contexts."""
