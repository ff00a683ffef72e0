"""BrokerPort, the broker error taxonomy, and the paper broker (a simulated exchange)."""
