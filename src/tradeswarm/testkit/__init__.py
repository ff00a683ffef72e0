"""Builders of valid messages for tests, ours and users': defaults plus keyword overrides."""

from tradeswarm.testkit.messages import (
    DEFAULT_AGENT,
    DEFAULT_DECISION_ID,
    DEFAULT_INTENT_ID,
    DEFAULT_MSG_ID,
    DEFAULT_OVERSIGHT_TIMEOUT_NS,
    DEFAULT_REQUEST_ID,
    DEFAULT_TS_NS,
    T0,
    make_decision,
    make_envelope,
    make_intent,
    make_oversight_request,
)

__all__ = [
    "DEFAULT_AGENT",
    "DEFAULT_DECISION_ID",
    "DEFAULT_INTENT_ID",
    "DEFAULT_MSG_ID",
    "DEFAULT_OVERSIGHT_TIMEOUT_NS",
    "DEFAULT_REQUEST_ID",
    "DEFAULT_TS_NS",
    "T0",
    "make_decision",
    "make_envelope",
    "make_intent",
    "make_oversight_request",
]
