"""Broker error taxonomy: the seed's error codes, split by what the caller must do."""

from __future__ import annotations

from enum import StrEnum

from tradeswarm.core.errors import TradeswarmError


class ErrorCode(StrEnum):
    ERR_RATE_LIMIT = "ERR_RATE_LIMIT"  # retryable: back off
    ERR_NETWORK = "ERR_NETWORK"  # retryable: resend with the same client order id
    ERR_INSUFFICIENT_FUNDS = "ERR_INSUFFICIENT_FUNDS"  # non-retryable: halt, alert
    ERR_INVALID_TICKER = "ERR_INVALID_TICKER"  # non-retryable: reject
    ERR_MARKET_CLOSED = "ERR_MARKET_CLOSED"  # non-retryable: reject
    ERR_INVALID_ORDER = "ERR_INVALID_ORDER"  # non-retryable: malformed request
    ERR_UNKNOWN_ORDER = "ERR_UNKNOWN_ORDER"  # non-retryable: no such order
    ERR_AUTH = "ERR_AUTH"  # fatal: credentials refused


RETRYABLE = frozenset({ErrorCode.ERR_RATE_LIMIT, ErrorCode.ERR_NETWORK})


class BrokerError(TradeswarmError):
    """A broker refused or failed a call; `code` is one of the seed's codes."""

    def __init__(self, code: ErrorCode, message: str, retry_after_ms: int = 0) -> None:
        self.code = code
        self.message = message
        self.retry_after_ms = retry_after_ms
        super().__init__(f"{code}: {message}")


class BrokerRetryable(BrokerError):
    """Try again later with the same client order id (rate limit, network)."""


class BrokerNonRetryable(BrokerError):
    """Do not retry: the request itself is refused (funds, ticker, market closed)."""


class BrokerFatal(BrokerError):
    """The broker session is unusable (auth): stop trading and alert a human."""


def broker_error(code: ErrorCode, message: str, retry_after_ms: int = 0) -> BrokerError:
    """Build the right branch of the tree for code."""
    if code in RETRYABLE:
        return BrokerRetryable(code, message, retry_after_ms)
    if code is ErrorCode.ERR_AUTH:
        return BrokerFatal(code, message)
    return BrokerNonRetryable(code, message)
