"""Human oversight: requests, human decisions, auto-deny at the timeout, the kill switch."""
