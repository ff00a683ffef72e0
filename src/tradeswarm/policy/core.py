"""What every backend of a compiled policy set reads: the policies, their masks, the
Response each mask of satisfied policies means, the generic scalar program and the
context parser.

The backends (``scalar.fastpath``, ``batch.program``) and the facade (``compiled``) depend
on this module, never on each other: a backend gets a ``PolicyCore``, not the facade.
"""

from __future__ import annotations

from typing import Any

from tradeswarm.policy.decision import Decision, PolicyError, Response, derive_outcome
from tradeswarm.policy.loader import LoadedPolicies
from tradeswarm.policy.requests import ContextParser
from tradeswarm.policy.scalar.program import ScalarProgram


class PolicyCore:
    """One policy set as every backend sees it (see the module docstring)."""

    def __init__(self, loaded: LoadedPolicies, schema: str | dict[str, Any] | None) -> None:
        self.loaded = loaded
        self.schema = schema
        self.policy_ids: tuple[str, ...] = tuple(loaded.policies)
        self.annotations = loaded.annotations
        self.effects = tuple(p["effect"] for p in loaded.policies.values())
        self.program = ScalarProgram(loaded)
        self.context_parser = ContextParser(schema)
        self.forbid_mask = sum(1 << i for i, e in enumerate(self.effects) if e == "forbid")
        self.permit_mask = sum(1 << i for i, e in enumerate(self.effects) if e == "permit")
        self.responses: dict[int, Response] = {}

    def response(self, mask: int, errs: list[tuple[int, str]] | None) -> Response:
        """The Response for a mask of satisfied policies (and the errors, if any), cached
        per mask when there are none."""
        if errs is None:
            cached = self.responses.get(mask)
            if cached is not None:
                return cached
        forbids = mask & self.forbid_mask
        chosen = forbids or (mask & self.permit_mask)
        decision = Decision.ALLOW if chosen and not forbids else Decision.DENY
        ids = self.policy_ids
        reasons = tuple(sorted(ids[i] for i in range(len(ids)) if chosen >> i & 1))
        outcome, review = derive_outcome(decision, reasons, self.annotations)
        errors = tuple(PolicyError(ids[i], msg) for i, msg in errs or ())
        response = Response(decision, reasons, errors, outcome, review)
        if errs is None:
            self.responses[mask] = response
        return response
