"""Backtests: strategies on the SimClock, every proposal through the risk gate."""
