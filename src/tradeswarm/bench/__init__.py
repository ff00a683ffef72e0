"""Benchmarks behind `tradeswarm bench … --json`; each measures a peer in the same run."""
