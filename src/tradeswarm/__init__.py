"""tradeswarm: governed, autonomous trading agents."""

__version__ = "0.1.0"
