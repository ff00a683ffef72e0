"""The `tradeswarm` command."""
