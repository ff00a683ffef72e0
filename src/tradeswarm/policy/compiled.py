"""``compile_policies``: Cedar text -> one generated Python function per policy set.

The scalar evaluator is a single function: the distinct scope tests are computed once,
each policy is one ``if`` inside its own ``try`` (an error skips the policy and is
reported), and the satisfied policies come back as a bit mask. A decision without
errors is then a dictionary lookup from mask to a prebuilt ``Response``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tradeswarm.core.errors import ConfigurationError
from tradeswarm.policy import codegen
from tradeswarm.policy.decision import Decision, PolicyError, Response, derive_outcome
from tradeswarm.policy.entities import EntityStore, prepare_entities, to_uid
from tradeswarm.policy.fastpath import FastPath
from tradeswarm.policy.loader import LoadedPolicies, load_policies, validation_errors
from tradeswarm.policy.requests import ContextParser, PreparedRequest
from tradeswarm.policy.values import EvalError, Uid

if TYPE_CHECKING:
    from tradeswarm.policy.batchresult import BatchResult


def error_message(exc: BaseException) -> str:
    if isinstance(exc, EvalError):
        return str(exc)
    if isinstance(exc, KeyError):
        return f"attribute or entity not found: {exc}"
    return f"{type(exc).__name__}: {exc}"


def _uid(value: Any, field: str) -> Uid:
    """``{"type": T, "id": I}`` read inline; every other form through ``to_uid``."""
    if type(value) is dict and len(value) == 2:
        t, i = value.get("type"), value.get("id")
        if type(t) is str and type(i) is str:
            return Uid((t, i))
    return to_uid(value, field)


class ScalarProgram:
    """The generated source, its namespace, the decide function and per-policy functions."""

    def __init__(self, loaded: LoadedPolicies) -> None:
        gen = codegen.Generator()
        self.ids = list(loaded.policies)
        atoms: dict[str, str] = {}
        tests: list[tuple[list[str], str | None]] = []
        for policy in loaded.policies.values():
            scope = []
            for var, name in (("principal", "P"), ("action", "A"), ("resource", "R")):
                scope += codegen.scope_atoms(gen, name, policy[var])
            for atom in scope:
                atoms.setdefault(atom, f"_s{len(atoms)}")
            tests.append((scope, codegen.condition(gen, policy)))
        self.tests = [_test(scope, cond) or "True" for scope, cond in tests]
        self.source = _render(atoms, tests)
        self.namespace = dict(gen.namespace)
        self.namespace["_error_message"] = error_message
        exec(compile(self.source, "<cedar policies>", "exec"), self.namespace)
        self.decide = self.namespace["_decide"]
        self.policy_functions = [self.namespace[f"_policy{i}"] for i in range(len(self.ids))]


def _test(parts: list[str], cond: str | None) -> str | None:
    return " and ".join([*parts, *([f"({cond})"] if cond else [])]) or None


def _render(atoms: dict[str, str], tests: list[tuple[list[str], str | None]]) -> str:
    lines = ["def _decide(P, A, R, C, E):", "    m = 0", "    errs = None"]
    lines += [f"    {name} = {atom}" for atom, name in atoms.items()]
    for i, (scope, cond) in enumerate(tests):
        test = _test([atoms[a] for a in scope], cond)
        if test is None:
            lines.append(f"    m |= {1 << i}")
            continue
        lines += [
            "    try:",
            f"        if {test}:",
            f"            m |= {1 << i}",
            "    except Exception as ex:",
            f"        errs = (errs or []) + [({i}, _error_message(ex))]",
        ]
    lines.append("    return m, errs")
    for i, (scope, cond) in enumerate(tests):
        body = _test(scope, cond) or "True"
        lines += ["", f"def _policy{i}(P, A, R, C, E):", f"    return bool({body})"]
    return "\n".join(lines) + "\n"


class CompiledPolicySet:
    """A Cedar policy set compiled to Python; satisfies ``PolicyEngine``."""

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
        self._entities: dict[int, tuple[Any, EntityStore]] = {}
        self._batch: Any = None
        self.fast = FastPath(self)

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

    def response(self, mask: int, errs: list[tuple[int, str]] | None) -> Response:
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
        errors = tuple(PolicyError(self.policy_ids[i], msg) for i, msg in errs or ())
        response = Response(decision, reasons, errors, outcome, review)
        if errs is None:
            self.responses[mask] = response
        return response

    def decide_prepared(self, request: PreparedRequest, entities: EntityStore) -> Response:
        """Decide a prepared request: the typed fast path when the schema-directed parser
        made its context (``request.checked``), else the generic generated function."""
        if request.checked:
            fast = self.fast  # FastPath.decide, inline: this is the hot path
            rows = fast.rows if entities is fast.store else fast.rows_for(entities)
            entry = rows.get((request.principal, request.action, request.resource))
            if entry is None:
                entry = fast.fill(request, entities)
            response: Response = entry[0](request, entities, entry[1])
            return response
        return self.decide_generic(request, entities)

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
        ``batchinput``); the answer is columnar (``BatchResult``) and a sequence of
        Responses."""
        answers: BatchResult = self.batch.decide(requests, self.prepare_entities(entities))
        return answers

    def is_authorized_scalar_batch(
        self, requests: Sequence[Mapping[str, Any]], entities: Any = None
    ) -> list[Response]:
        store = self.prepare_entities(entities)
        return [self.is_authorized(r, store) for r in requests]

    @property
    def batch(self) -> Any:
        if self._batch is None:
            from tradeswarm.policy.batchprogram import BatchProgram

            self._batch = BatchProgram(self)
        return self._batch

    def batch_plan(self) -> dict[str, str]:
        """Policy id -> "vectorized" or "per-row (<construct>)" on the batch path."""
        plan: dict[str, str] = self.batch.plan
        return plan


def compile_policies(
    policies: str, schema: str | dict[str, Any] | None = None, *, validate: bool = True
) -> CompiledPolicySet:
    """Parse (and, with a schema, validate) Cedar policies with cedarpy, then compile them."""
    loaded = load_policies(policies)
    if schema is not None and validate:
        problems = validation_errors(policies, schema)
        if problems:
            raise ConfigurationError(
                "policies", "validation against the schema", "; ".join(problems)
            )
    return CompiledPolicySet(loaded, schema)
