"""The policy gate: one intent in its RiskContext -> PERMIT / DENY / REVIEW with reasons.

Unknown means deny. A context value Cedar cannot hold (out of range, NaN) is a DENY
before the engine is asked; any error in the engine's response (a policy that errored
and was skipped, a request that failed to build) is a DENY with the error as reason,
whatever Cedar decided, because a skipped forbid could otherwise become a permit.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tradeswarm.core.errors import InvalidInput
from tradeswarm.model.enums import Verdict
from tradeswarm.model.market import Instrument
from tradeswarm.model.messages import TradeIntent
from tradeswarm.policy import CompiledPolicySet, Outcome, PolicyEngine, Response
from tradeswarm.policy.decision import OVERSIGHT_ANNOTATION
from tradeswarm.risk.context import RiskContext
from tradeswarm.risk.display import ReasonValues
from tradeswarm.risk.engines import Prepare, make_engine
from tradeswarm.risk.limits import RiskLimits
from tradeswarm.risk.policyset import (
    PolicyBundle,
    instrument_entity,
    load_bundle,
    swarm_entities,
    to_cedar_request,
    typed_request,
)

PLACEHOLDER = re.compile(r"\{(\w+)\}")
DEFAULT_DENY = "no_permit: no policy permits this trade (Cedar's default deny)"


@dataclass(frozen=True)
class GateVerdict:
    verdict: Verdict
    reasons: list[str]
    review_reasons: tuple[str, ...] = ()


def render(template: str, values: Mapping[str, str]) -> str:
    """Fill {name} placeholders from values; an unknown name stays as written."""
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)


class PolicyGate:
    """Decides intents through a PolicyEngine over the swarm's entities."""

    def __init__(
        self,
        bundle: PolicyBundle,
        engine: PolicyEngine,
        limits: RiskLimits,
        prepare: Prepare | None = None,
    ) -> None:
        self.bundle = bundle
        self.engine = engine
        self.limits = limits
        self._prepare: Prepare = prepare or (lambda entities: entities)
        self._base = swarm_entities(limits)
        self._grid = limits.grid_limits()  # RiskLimits is frozen
        self._entities: dict[Instrument, Any] = {}
        # the compiled engine takes the request as runtime values (no JSON written and
        # parsed) when its schema declares exactly those types; otherwise Cedar JSON
        self._check_typed = engine.check_typed if isinstance(engine, CompiledPolicySet) else None

    @classmethod
    def from_limits(cls, limits: RiskLimits) -> PolicyGate:
        """The gate the config asks for: its policies (bundled or a file) and engine."""
        bundle = load_bundle(limits.policies, limits.schema)
        engine, prepare = make_engine(limits.engine, bundle)
        return cls(bundle, engine, limits, prepare)

    def entities_for(self, instrument: Instrument) -> Any:
        """The swarm's entities plus the instrument (as the instrument master has it),
        prepared once per instrument."""
        if instrument not in self._entities:
            entity = instrument_entity(instrument, self.limits)
            self._entities[instrument] = self._prepare([*self._base, entity])
        return self._entities[instrument]

    def decide(self, intent: TradeIntent, ctx: RiskContext) -> GateVerdict:
        try:
            request = self.request(intent, ctx)
        except InvalidInput as err:
            return GateVerdict(Verdict.DENY, [f"context_error: {err} (unknown means deny)"])
        response = self.engine.is_authorized(request, self.entities_for(ctx.instrument))
        return self.verdict_of(response, ReasonValues(intent, ctx, self.limits, self._grid))

    def decide_batch(self, pairs: Sequence[tuple[TradeIntent, RiskContext]]) -> list[GateVerdict]:
        """The verdicts of a burst of (intent, context) pairs, in order: each exactly the
        verdict ``decide`` gives it."""
        return [self.decide(intent, ctx) for intent, ctx in pairs]

    def request(self, intent: TradeIntent, ctx: RiskContext) -> Mapping[str, Any]:
        """The engine's request: typed and checked when it can be, else Cedar JSON (the
        same values either way; InvalidInput for a value Cedar cannot hold)."""
        if self._check_typed is not None:
            typed = self._check_typed(typed_request(intent, ctx))
            if typed is not None:
                return typed  # type: ignore[return-value]  # is_authorized takes it as is
        return to_cedar_request(intent, ctx)

    def _reason(self, policy_id: str, values: Mapping[str, str]) -> str:
        name = self.bundle.rule_name(policy_id)
        template = self.bundle.message(policy_id)
        return f"{name}: {render(template, values)}" if template else name

    def verdict_of(self, response: Response, values: Mapping[str, str]) -> GateVerdict:
        """The gate's verdict for an engine response: any error is a DENY."""
        determining = sorted(response.reasons, key=self.bundle.order)
        if response.errors:
            errors = [
                f"policy_error: {self.bundle.rule_name(e.policy_id) or 'request'}: {e.message}"
                for e in response.errors
            ]
            return GateVerdict(Verdict.DENY, errors)
        if response.outcome is Outcome.PERMIT:
            messages = [render(self.bundle.message(p) or p, values) for p in determining]
            return GateVerdict(Verdict.PERMIT, messages)
        if not determining:
            return GateVerdict(Verdict.DENY, [DEFAULT_DENY])
        if response.outcome is Outcome.REVIEW:
            reasons = [self._reason(p, values) for p in determining]
            return GateVerdict(Verdict.REVIEW, reasons, response.review_reasons)
        # a human cannot lift a hard forbid: leave the reviewable ones out of a DENY
        hard = [
            p for p in determining if OVERSIGHT_ANNOTATION not in self.bundle.annotations.get(p, {})
        ]
        return GateVerdict(Verdict.DENY, [self._reason(p, values) for p in hard or determining])
