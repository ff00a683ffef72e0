"""The log's verifier: hash chain, envelope integrity, and books equal to what the log implies.

The log hashes each entry as an RFC 9162 leaf (sha256 of 0x00 || entry); the Merkle tree,
signed checkpoints and offline proofs build on these leaf hashes.
"""
