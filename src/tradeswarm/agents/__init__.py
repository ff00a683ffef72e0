"""Analysis and trading agents: they read the market and propose; they never trade."""
