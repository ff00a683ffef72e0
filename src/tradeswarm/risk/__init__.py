"""RiskManager: deterministic risk math and rules; every decision carries its reasons."""
