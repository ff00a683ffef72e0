"""The policy gate: one intent in its RiskContext -> PERMIT / DENY / REVIEW with reasons.

Unknown means deny. A context value Cedar cannot hold (out of range, NaN) is a DENY
before the engine is asked; any error in the engine's response (a policy that errored
and was skipped, a request that failed to build) is a DENY with the error as reason,
whatever Cedar decided, because a skipped forbid could otherwise become a permit.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from tradeswarm.core.errors import InvalidInput
from tradeswarm.model.enums import Verdict
from tradeswarm.model.market import Instrument
from tradeswarm.model.messages import TradeIntent
from tradeswarm.policy import CompiledPolicySet, Outcome, PolicyEngine, Response
from tradeswarm.policy.decision import OVERSIGHT_ANNOTATION
from tradeswarm.risk.context import RiskContext
from tradeswarm.risk.display import ReasonValues
from tradeswarm.risk.engines import Prepare, make_engine
from tradeswarm.risk.gate_batch import BurstColumns
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
#: The batch path's tiers for ``decide_batch``: the numba kernel first.
KERNEL_BATCH_TIERS = ("kernel", "emit", "closures", "rows")
#: Bursts smaller than this are decided pair by pair (the batch path's fixed cost per
#: call is larger than a few ``decide`` calls).
BATCH_MIN = 16
DEFAULT_DENY = "no_permit: no policy permits this trade (Cedar's default deny)"


@dataclass(frozen=True)
class GateVerdict:
    verdict: Verdict
    reasons: list[str]
    review_reasons: tuple[str, ...] = ()


@functools.cache
def _parts(template: str) -> tuple[str, ...]:
    """The template split at its placeholders: text, name, text, name, ..., text."""
    return tuple(PLACEHOLDER.split(template))


_NO_VALUES: Mapping[str, str] = {}


class VerdictPlan(NamedTuple):
    """A verdict whose reasons are still to render: per reason its fixed text and the
    message (with ``{placeholders}``) to render after it, or None."""

    verdict: Verdict
    reasons: tuple[tuple[str, str | None], ...]
    review_reasons: tuple[str, ...]
    quotes: bool  # whether any reason names a value

    @classmethod
    def of(
        cls,
        verdict: Verdict,
        reasons: tuple[tuple[str, str | None], ...],
        review_reasons: tuple[str, ...] = (),
    ) -> VerdictPlan:
        quotes = any(t is not None and len(_parts(t)) > 1 for _, t in reasons)
        return cls(verdict, reasons, review_reasons, quotes)

    def fill(self, values: Mapping[str, str]) -> GateVerdict:
        reasons = [text if t is None else text + render(t, values) for text, t in self.reasons]
        return GateVerdict(self.verdict, reasons, self.review_reasons)


def render(template: str, values: Mapping[str, str]) -> str:
    """Fill {name} placeholders from values; an unknown name stays as written."""
    parts = _parts(template)
    if len(parts) == 1:
        return template
    out = [parts[0]]
    for k in range(1, len(parts), 2):
        name = parts[k]
        out += [values.get(name, "{" + name + "}"), parts[k + 1]]
    return "".join(out)


class PolicyGate:
    """Decides intents through a PolicyEngine over the swarm's entities."""

    def __init__(
        self,
        bundle: PolicyBundle,
        engine: PolicyEngine,
        limits: RiskLimits,
        prepare: Prepare | None = None,
        batch_tiers: Iterable[str] = KERNEL_BATCH_TIERS,
        batch_min: int = BATCH_MIN,
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
        self.batch_min = batch_min
        self._batch = (
            engine.batch_program(batch_tiers) if isinstance(engine, CompiledPolicySet) else None
        )
        self._typed_shapes: dict[bool, bool] = {}
        self._burst_instruments: dict[str, Instrument] = {}
        self._burst_entities: Any = None
        self._plans: dict[int, tuple[Response, VerdictPlan]] = {}

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
        verdict ``decide`` gives it (and ``decide``'s exception, if one raises).

        With the compiled engine a burst of at least ``batch_min`` pairs is converted to
        columns (``risk.gate_batch``) and decided in one call of the batch path (the
        kernel tier first, unless ``batch_tiers`` leaves it out); the rows the columns
        cannot carry exactly go through ``decide``. Smaller bursts, and other engines,
        are decided one by one."""
        if self._batch is None or len(pairs) < self.batch_min:
            return [self.decide(intent, ctx) for intent, ctx in pairs]
        try:
            burst = BurstColumns(pairs)
        except Exception:  # an input the columns cannot read at all: decide says what
            return [self.decide(intent, ctx) for intent, ctx in pairs]
        slow = set(burst.slow) | self._untyped_rows(pairs, burst)
        result = self._batch.decide(burst.columns, self._burst_store(burst.instruments))
        masks, errs = result.satisfied.tolist(), result.errored.tolist()
        response = self._batch.core.response
        out: list[GateVerdict] = []
        for k, (intent, ctx) in enumerate(pairs):
            if k in slow:
                out.append(self.decide(intent, ctx))
                continue
            answer = response(masks[k], None) if errs[k] == 0 else result[k]
            out.append(self._batch_verdict(answer, intent, ctx))
        return out

    def _untyped_rows(
        self, pairs: Sequence[tuple[TradeIntent, RiskContext]], burst: Any
    ) -> set[int]:
        """The rows ``decide`` would not send typed (the schema declares other types for
        their context's shape: with or without a human approval)."""
        rows: set[int] = set()
        slow = set(burst.slow)
        for k, approved in enumerate(burst.approved):
            typed = self._typed_shapes.get(approved)
            if typed is None and k not in slow and self._check_typed is not None:
                typed = self._check_typed(typed_request(*pairs[k])) is not None
                self._typed_shapes[approved] = typed
            if typed is False:
                rows.add(k)
        return rows

    def _burst_store(self, instruments: Mapping[str, Instrument]) -> Any:
        """The swarm's entities plus every instrument bursts have brought (one store,
        prepared again when a burst brings a new one)."""
        known = self._burst_instruments
        if self._burst_entities is None or any(known.get(s) != i for s, i in instruments.items()):
            known.update(instruments)
            entities = [instrument_entity(known[s], self.limits) for s in sorted(known)]
            self._burst_entities = self._prepare([*self._base, *entities])
        return self._burst_entities

    def request(self, intent: TradeIntent, ctx: RiskContext) -> Mapping[str, Any]:
        """The engine's request: typed and checked when it can be, else Cedar JSON (the
        same values either way; InvalidInput for a value Cedar cannot hold)."""
        if self._check_typed is not None:
            typed = self._check_typed(typed_request(intent, ctx))
            if typed is not None:
                return typed  # type: ignore[return-value]  # is_authorized takes it as is
        return to_cedar_request(intent, ctx)

    def _reason(self, policy_id: str) -> tuple[str, str | None]:
        """A DENY / REVIEW reason: its rule name and the message to render after it."""
        name = self.bundle.rule_name(policy_id)
        template = self.bundle.message(policy_id)
        return (f"{name}: ", template) if template else (name, None)

    def _plan(self, response: Response) -> VerdictPlan:
        """The verdict of a response with its reasons still to render: (verdict, (text,
        message or None) per reason, review reasons). Cached per response object (the
        engine's error-free responses are one object per mask of satisfied policies)."""
        cached = self._plans.get(id(response))
        if cached is not None and cached[0] is response:
            return cached[1]
        plan = self._make_plan(response)
        if not response.errors:
            if len(self._plans) >= 4096:
                self._plans.clear()
            self._plans[id(response)] = (response, plan)
        return plan

    def _make_plan(self, response: Response) -> VerdictPlan:
        determining = sorted(response.reasons, key=self.bundle.order)
        if response.errors:
            errors = tuple(
                (
                    f"policy_error: {self.bundle.rule_name(e.policy_id) or 'request'}: {e.message}",
                    None,
                )
                for e in response.errors
            )
            return VerdictPlan.of(Verdict.DENY, errors)
        if response.outcome is Outcome.PERMIT:
            messages = tuple(("", self.bundle.message(p) or p) for p in determining)
            return VerdictPlan.of(Verdict.PERMIT, messages)
        if not determining:
            return VerdictPlan.of(Verdict.DENY, ((DEFAULT_DENY, None),))
        if response.outcome is Outcome.REVIEW:
            reasons = tuple(self._reason(p) for p in determining)
            return VerdictPlan.of(Verdict.REVIEW, reasons, response.review_reasons)
        # a human cannot lift a hard forbid: leave the reviewable ones out of a DENY
        hard = [
            p for p in determining if OVERSIGHT_ANNOTATION not in self.bundle.annotations.get(p, {})
        ]
        return VerdictPlan.of(Verdict.DENY, tuple(self._reason(p) for p in hard or determining))

    def verdict_of(self, response: Response, values: Mapping[str, str]) -> GateVerdict:
        """The gate's verdict for an engine response: any error is a DENY."""
        return self._plan(response).fill(values)

    def _batch_verdict(
        self, response: Response, intent: TradeIntent, ctx: RiskContext
    ) -> GateVerdict:
        """``verdict_of`` for one row of a burst: the row's values are formatted only when
        a reason quotes one."""
        plan = self._plan(response)
        if not plan.quotes:
            return plan.fill(_NO_VALUES)
        return plan.fill(ReasonValues(intent, ctx, self.limits, self._grid))
