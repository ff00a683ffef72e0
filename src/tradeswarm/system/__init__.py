"""The composition root: builds a swarm from one config and drives it over market data."""
