"""ComplianceAgent: watches every trade, flags wash trades and restricted symbols,
sums up the day."""
