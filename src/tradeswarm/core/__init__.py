"""Clock, ids, the error tree and the config base: what every room may use."""
