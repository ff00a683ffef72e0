"""Market-data sources: bundled CSV replay of real bars, and quotes derived from them."""
