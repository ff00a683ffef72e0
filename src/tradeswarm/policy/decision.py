"""What every policy engine returns: Cedar's decision, its reasons and errors, plus REVIEW.

Cedar answers allow or deny, with the determining policy ids (``reasons``) and the ids of
policies that errored. tradeswarm adds a third outcome on top, without changing Cedar's
answer: a deny whose every determining policy is a ``forbid`` annotated
``@oversight("...")`` is REVIEW, a question for a human, with the annotation values as
the review reasons. A deny by default (no permit applied) is never REVIEW.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

OVERSIGHT_ANNOTATION = "oversight"


class Decision(StrEnum):
    ALLOW = "allow"
    DENY = "deny"


class Outcome(StrEnum):
    PERMIT = "PERMIT"
    DENY = "DENY"
    REVIEW = "REVIEW"


@dataclass(frozen=True, slots=True)
class PolicyError:
    """A policy that raised an error while evaluating; Cedar skips it."""

    policy_id: str
    message: str


@dataclass(frozen=True, slots=True)
class Response:
    decision: Decision
    reasons: tuple[str, ...]
    errors: tuple[PolicyError, ...] = ()
    outcome: Outcome = Outcome.DENY
    review_reasons: tuple[str, ...] = field(default=())

    @property
    def allowed(self) -> bool:
        return self.decision is Decision.ALLOW

    @property
    def error_ids(self) -> tuple[str, ...]:
        return tuple(e.policy_id for e in self.errors)


def derive_outcome(
    decision: Decision,
    reasons: Sequence[str],
    annotations: Mapping[str, Mapping[str, str]],
) -> tuple[Outcome, tuple[str, ...]]:
    """PERMIT / DENY / REVIEW from Cedar's answer and the policies' annotations.

    ``annotations`` maps policy id -> that policy's annotations. REVIEW when the decision
    is deny, at least one policy determined it, and every determining policy carries the
    oversight annotation (only forbids can determine a deny).
    """
    if decision is Decision.ALLOW:
        return Outcome.PERMIT, ()
    values = [annotations.get(pid, {}).get(OVERSIGHT_ANNOTATION) for pid in reasons]
    if reasons and all(v is not None for v in values):
        return Outcome.REVIEW, tuple(sorted({v for v in values if v is not None}))
    return Outcome.DENY, ()


class PolicyEngine(Protocol):
    """Decides Cedar requests. ``request`` is Cedar's JSON request form:
    ``{"principal": {"type": T, "id": I}, "action": {...}, "resource": {...},
    "context": {...}}``; ``entities`` is Cedar's JSON entities list (or an engine's
    prepared entity store)."""

    def is_authorized(self, request: Mapping[str, Any], entities: Any = None) -> Response: ...

    def is_authorized_batch(
        self, requests: Sequence[Mapping[str, Any]], entities: Any = None
    ) -> Sequence[Response]: ...
