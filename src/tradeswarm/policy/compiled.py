"""``compile_policies`` and ``CompiledPolicySet``: the public facade of the compiler.

It parses (and validates) with cedarpy, builds the ``PolicyCore`` every backend reads, and
routes each request to a backend: the typed scalar path for requests whose context the
schema-directed parser made, the generic scalar program otherwise, the batch program for
many at once (the tiers are tabled in ``tradeswarm.policy``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tradeswarm.core.errors import ConfigurationError
from tradeswarm.policy.core import PolicyCore
from tradeswarm.policy.decision import Response
from tradeswarm.policy.entities import EntityStore, prepare_entities, to_uid
from tradeswarm.policy.loader import LoadedPolicies, load_policies, validation_errors
from tradeswarm.policy.requests import PreparedRequest
from tradeswarm.policy.scalar.fastpath import FastPath
from tradeswarm.policy.values import Uid

if TYPE_CHECKING:
    from tradeswarm.policy.batch.program import BatchProgram
    from tradeswarm.policy.batch.result import BatchResult

#: Every batch tier, best first; ``DEFAULT_BATCH_TIERS`` leaves out the kernel, which is
#: asked for (``kernel=True``, or a tier list that names it): it compiles with numba.
ALL_BATCH_TIERS = ("kernel", "emit", "closures", "rows")
DEFAULT_BATCH_TIERS = ("emit", "closures", "rows")


def _uid(value: Any, field: str) -> Uid:
    """``{"type": T, "id": I}`` read inline; every other form through ``to_uid``."""
    if type(value) is dict and len(value) == 2:
        t, i = value.get("type"), value.get("id")
        if type(t) is str and type(i) is str:
            return Uid((t, i))
    return to_uid(value, field)


class CompiledPolicySet:
    """A Cedar policy set compiled to Python; satisfies ``PolicyEngine``. The facade over
    the policy core and its backends: the typed scalar path, the generic scalar program
    and (on first use) the batch program, limited to ``batch_tiers`` (for debugging).
    ``count_tiers()`` / ``tier_counts()`` say which tier decided how many requests."""

    def __init__(
        self,
        loaded: LoadedPolicies,
        schema: str | dict[str, Any] | None,
        batch_tiers: Iterable[str] = DEFAULT_BATCH_TIERS,
    ) -> None:
        self.core = PolicyCore(loaded, schema)
        self.loaded = loaded
        self.schema = schema
        self.policy_ids = self.core.policy_ids
        self.annotations = self.core.annotations
        self.effects = self.core.effects
        self.program = self.core.program
        self.context_parser = self.core.context_parser
        self.responses = self.core.responses
        self.response = self.core.response
        self._entities: dict[int, tuple[Any, EntityStore]] = {}
        self._batch: BatchProgram | None = None
        self._programs: dict[tuple[str, ...], BatchProgram] = {}
        self.batch_tiers = tuple(batch_tiers)
        self.fast = FastPath(self.core)
        self._counts: Counter[str] | None = None  # scalar requests per tier, when counting

    def prepare_entities(self, entities: Any) -> EntityStore:
        """Entities parsed once (with this set's schema), for reuse across calls."""
        if isinstance(entities, EntityStore):
            return entities
        cached = self._entities.get(id(entities))
        if cached is not None and cached[0] is entities and isinstance(entities, str | tuple):
            return cached[1]
        store = prepare_entities(entities, self.schema)
        if isinstance(entities, str | tuple):
            self._entities = {id(entities): (entities, store)}
        return store

    def prepare_request(self, request: Mapping[str, Any]) -> PreparedRequest:
        """A Cedar JSON request as runtime values (the scalar path's fast entry)."""
        if type(request) is not dict and not isinstance(request, Mapping):
            raise ConfigurationError("request", request, "expected a Cedar JSON request object")
        action = _uid(request.get("action"), "request.action")
        parser = self.context_parser
        return PreparedRequest(
            _uid(request.get("principal"), "request.principal"),
            action,
            _uid(request.get("resource"), "request.resource"),
            parser.parse(request.get("context"), action),
            parser.types is not None and parser.types.declares(action),
        )

    def check_typed(self, request: PreparedRequest) -> PreparedRequest | None:
        """A request built from runtime values (not JSON), marked ``checked`` when its
        context has exactly the types the schema declares for its action, else None
        (then build the Cedar JSON request instead: the parser decides or refuses it)."""
        if not self.context_parser.check(request.context, request.action):
            return None
        return PreparedRequest(
            request.principal, request.action, request.resource, request.context, True
        )

    def decide_prepared(self, request: PreparedRequest, entities: EntityStore) -> Response:
        """Decide a prepared request: the typed fast path when the schema-directed parser
        made its context (``request.checked``), else the generic generated function."""
        if self._counts is not None:
            self._counts["scalar typed" if request.checked else "scalar generic"] += 1
        if request.checked:
            fast = self.fast  # the hot path: the leaf rows' lookup written out here
            rows = fast.rows if entities is fast.store else fast.rows_for(entities)
            entry = rows.get((request.principal, request.action, request.resource))
            if entry is None:
                entry = fast.fill(request, entities)
            response: Response = entry[0](request, entities, entry[1])
            return response
        return self.decide_generic(request, entities)

    def count_tiers(self) -> None:
        """Start counting, from zero, which tier decides each request (off by default: it
        costs the scalar hot path a counter; the batch program always counts)."""
        self._counts = Counter()
        self.fast.bound_fallbacks = 0
        if self._batch is not None:
            self._batch.tier_counts.clear()

    def tier_counts(self) -> dict[str, int]:
        """Requests per scalar tier since ``count_tiers()`` (``scalar typed``; ``scalar
        typed -> generic``: its context binding failed, the generic program decided;
        ``scalar generic``), then (policy, request) decisions per batch tier (``batch
        emit``, ``batch closures``, ``batch rows``). Tiers that decided nothing are left out."""
        counts: Counter[str] = Counter(self._counts or {})
        if self._counts is not None and self.fast.bound_fallbacks:
            counts["scalar typed"] -= self.fast.bound_fallbacks
            counts["scalar typed -> generic"] = self.fast.bound_fallbacks
        if self._batch is not None:
            for tier, n in self._batch.tier_counts.items():
                counts[f"batch {tier}"] += n
        return {tier: n for tier, n in counts.items() if n}

    def decide_generic(self, request: PreparedRequest, entities: EntityStore) -> Response:
        """The generic generated function (every type checked at run time)."""
        mask, errs = self.program.decide(
            request.principal, request.action, request.resource, request.context, entities
        )
        return self.response(mask, errs)

    def is_authorized(self, request: Mapping[str, Any], entities: Any = None) -> Response:
        store = self.prepare_entities(entities)
        prepared = (
            request if isinstance(request, PreparedRequest) else self.prepare_request(request)
        )
        return self.decide_prepared(prepared, store)

    def is_authorized_batch(
        self, requests: Sequence[Mapping[str, Any]] | Mapping[str, Any], entities: Any = None
    ) -> BatchResult:
        """Decide many requests in one vectorized call (see ``batch_plan``).

        ``requests`` is a list of Cedar JSON requests or the columnar form (see
        ``policy.batch.input``); the answer is columnar (``BatchResult``) and a sequence
        of Responses."""
        answers: BatchResult = self.batch.decide(requests, self.prepare_entities(entities))
        return answers

    @property
    def batch(self) -> BatchProgram:
        """The batch program, built on first use (it imports numpy)."""
        if self._batch is None:
            from tradeswarm.policy.batch.program import BatchProgram

            self._batch = BatchProgram(self.core, self.batch_tiers)
        return self._batch

    def batch_program(self, tiers: Iterable[str]) -> BatchProgram:
        """A batch program of this policy set limited to ``tiers`` (one per tier list,
        kept): what a caller that wants the kernel on its own batches uses (the gate's
        ``decide_batch``) without changing this set's own ``is_authorized_batch``."""
        names = checked_batch_tiers(tiers)
        if names == self.batch_tiers:
            return self.batch
        found = self._programs.get(names)
        if found is None:
            from tradeswarm.policy.batch.program import BatchProgram

            found = self._programs[names] = BatchProgram(self.core, names)
        return found

    def batch_plan(self) -> dict[str, str]:
        """Policy id -> its batch tier and why the better tiers declined it: ``"emit"``,
        ``"closures (<why>)"`` or ``"rows (<why>)"`` (see ``policy.batch.program``)."""
        return self.batch.plan


def checked_batch_tiers(tiers: Iterable[str], field: str = "batch_tiers") -> tuple[str, ...]:
    """``tiers`` as a tuple, or a ConfigurationError if it is not an ordered subset of
    ``ALL_BATCH_TIERS`` ending with ``"rows"`` (numpy is imported only to check a subset)."""
    names = tuple(tiers)
    if names not in (ALL_BATCH_TIERS, DEFAULT_BATCH_TIERS):
        from tradeswarm.policy.batch.program import check_tiers

        check_tiers(names, field)
    return names


def compile_policies(
    policies: str,
    schema: str | dict[str, Any] | None = None,
    *,
    validate: bool = True,
    batch_tiers: Iterable[str] = DEFAULT_BATCH_TIERS,
    kernel: bool = False,
) -> CompiledPolicySet:
    """Parse (and, with a schema, validate) Cedar policies with cedarpy, then compile them.
    ``batch_tiers`` limits the batch path's tiers (an ordered subset of ``ALL_BATCH_TIERS``
    ending with ``"rows"``; checked here), to tell a failing backend from the others;
    ``kernel=True`` puts the numba kernel in front of them (``"kernel"`` in the list
    does the same)."""
    tiers = checked_batch_tiers(batch_tiers)
    if kernel and "kernel" not in tiers:
        tiers = checked_batch_tiers(("kernel", *tiers))
    loaded = load_policies(policies)
    if schema is not None and validate:
        problems = validation_errors(policies, schema)
        if problems:
            raise ConfigurationError(
                "policies", "validation against the schema", "; ".join(problems)
            )
    return CompiledPolicySet(loaded, schema, tiers)
