"""ExecutionAgent: the only component that holds a broker handle."""
