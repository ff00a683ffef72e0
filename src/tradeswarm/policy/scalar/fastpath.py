"""The typed scalar tier: generated code per action and entity-value kinds, no helper calls.

Chosen by ``CompiledPolicySet.decide_prepared`` for a request whose context the
schema-directed parser made (``PreparedRequest.checked``: every present context value has
the type the schema declares for the action). It falls back to the generic tier
(``scalar.program``) at three grains: per node, a construct the typed generator
(``scalar.typed``) declines is the generic generated expression; per policy, a policy
reading a leaf that raised is the generic program's test for it; per request, a context
binding that fails is the generic program's decision.

The policy set is compiled once more, specialized on the action:

- policies whose action scope excludes the action are dropped, the others' action tests
  vanish;
- every entity-only subexpression (principal and resource scopes, ``principal.desk.hard_cap``,
  ``principal.desk.excluded_asset_classes.contains(resource.asset_class)``) is a *leaf*,
  computed once per (principal, resource, entity store) and cached; the code is generated
  per tuple of the leaves' kinds (the *signature*), so a decimal leaf arrives as its scaled
  int and a comparison is one Python operator;
- the context attributes are bound to locals once (decimals as their scaled ints);
- operators on known kinds are inline Python (only + - * and negation check for 64-bit
  overflow), so errors, short-circuits and messages are the generic path's;
- the Response is cached per mask of satisfied policies.

Each policy's lines carry a ``# policy <id>`` comment, and the sources are registered with
``linecache`` (``<cedar typed policies #N: Action::"X">``, ``<cedar typed leaves #N: ...>``).
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tradeswarm.policy.entities import EntityStore
from tradeswarm.policy.kinds import Kind, kind_of
from tradeswarm.policy.requests import PreparedRequest
from tradeswarm.policy.scalar import generic as codegen
from tradeswarm.policy.scalar.program import exec_generated, policy_comment
from tradeswarm.policy.scalar.typed import LeafError, TypedGen
from tradeswarm.policy.values import Decimal, Uid

if TYPE_CHECKING:
    from tradeswarm.policy.core import PolicyCore
    from tradeswarm.policy.decision import Response

Scopes = list[tuple[str, dict[str, Any]]]
Signature = tuple[Kind, ...]  # the leaves' kinds (``Kind.ERR``: the leaf raised)
MAX_LEAF_ROWS = 65_536
Fast = Callable[[PreparedRequest, EntityStore, tuple[Any, ...]], Any]


class _Err:
    """A leaf that raised: the policies reading it take the generic test."""

    __slots__ = ()


ERR = _Err()


@dataclass
class ActionPlan:
    """One action's policies (scope and conditions), its leaves and code per signature."""

    action: Uid
    policies: list[tuple[int, Scopes, list[tuple[bool, dict[str, Any]]]]]
    generic_tests: dict[int, str]
    leaf_keys: dict[str, int]
    leaf_fn: Callable[[Uid, Uid, Uid, EntityStore], list[Any]]
    leaf_source: str
    code: dict[Signature, Fast]


class FastPath:
    """Typed scalar evaluators of one compiled policy set (see the module docstring)."""

    def __init__(self, core: PolicyCore) -> None:
        self.core = core
        self.plans: dict[Uid, ActionPlan] = {}
        self._stores: dict[int, tuple[Any, dict[tuple[Uid, Uid, Uid], Any]]] = {}
        self.sources: dict[tuple[Uid, Signature], str] = {}
        self.store: EntityStore | None = None
        self.rows: dict[tuple[Uid, Uid, Uid], Any] = {}
        self.bound_fallbacks = 0  # requests whose context binding failed (generic decided)

    def rows_for(self, store: EntityStore) -> dict[tuple[Uid, Uid, Uid], Any]:
        """The leaf rows of one entity store (the last store used is kept at hand)."""
        key = id(store)
        found = self._stores.get(key)
        if found is None or found[0]() is not store:
            found = self._stores[key] = (weakref.ref(store), {})
            weakref.finalize(store, self._stores.pop, key, None)  # rows die with the store
        self.store, self.rows = store, found[1]
        return self.rows

    def fill(self, request: PreparedRequest, store: EntityStore) -> tuple[Fast, tuple[Any, ...]]:
        key = (request.principal, request.action, request.resource)
        return self._fill(key, store, self.rows_for(store))

    def _fill(
        self, key: tuple[Uid, Uid, Uid], store: EntityStore, rows: dict[Any, Any]
    ) -> tuple[Fast, tuple[Any, ...]]:
        principal, action, resource = key
        plan = self.plans.get(action)
        if plan is None:
            plan = self.plans[action] = self._plan(action)
        values = plan.leaf_fn(principal, action, resource, store)
        signature = tuple(kind_of(v) if v is not ERR else Kind.ERR for v in values)
        fast = plan.code.get(signature)
        if fast is None:
            fast = plan.code[signature] = self._generate(plan, signature)
        leaves = tuple(v.v if type(v) is Decimal else v for v in values)
        if len(rows) >= MAX_LEAF_ROWS:
            rows.clear()
        rows[key] = (fast, leaves)
        return fast, leaves

    def _plan(self, action: Uid) -> ActionPlan:
        program = self.core.program
        gen = TypedGen(self.core.context_parser, action, program.namespace)
        policies = []
        for i, policy in enumerate(self.core.loaded.policies.values()):
            atoms = codegen.scope_atoms(gen.g, "A", policy["action"])
            scopes = [("P", policy["principal"]), ("R", policy["resource"])]
            if any("E" in a for a in atoms):  # `action in` reads the action entities
                scopes.append(("A", policy["action"]))
            elif not all(eval(a, gen.g.namespace, {"A": action}) for a in atoms):  # our source
                continue  # the action scope excludes this action: never satisfied
            clauses = [(c["kind"] == "unless", c["body"]) for c in policy.get("conditions") or ()]
            policies.append((i, scopes, clauses))
        generic = {i: program.tests[i] for i, _, _ in policies}
        for _, scopes, clauses in policies:
            _policy_test(gen, scopes, clauses)  # registers the leaves
        source = _leaf_source(gen.leaf_sources)
        namespace = dict(gen.g.namespace, _ERR=ERR)
        exec_generated(source, "typed leaves", namespace, self, repr(action))
        leaf_fn = namespace["_leaves"]
        return ActionPlan(action, policies, generic, dict(gen.leaves), leaf_fn, source, {})

    def _generate(self, plan: ActionPlan, signature: Signature) -> Fast:
        gen = TypedGen(self.core.context_parser, plan.action, self.core.program.namespace)
        gen.use_leaves(plan.leaf_keys, signature)
        body: list[str] = []
        ids = self.core.policy_ids
        for i, scopes, clauses in plan.policies:
            try:
                test = _policy_test(gen, scopes, clauses)
            except LeafError:  # reads a leaf that raised: the generic test, errors and all
                test = plan.generic_tests[i]
            body += _policy_lines(i, ids[i], test)
        source = _render(gen, body, len(plan.leaf_keys))
        self.sources[(plan.action, signature)] = source
        namespace = dict(gen.g.namespace)
        namespace.update(gen.namespace)
        core = self.core
        program = self.core.program
        action = plan.action

        def generic(q: PreparedRequest, e: EntityStore) -> Response:
            self.bound_fallbacks += 1
            mask, errs = program.decide(q.principal, action, q.resource, q.context, e)
            return core.response(mask, errs)

        namespace.update(
            _generic=generic,
            _responses=core.responses,
            _response=core.response,
            A=action,
        )
        exec_generated(source, "typed policies", namespace, self, repr(action))
        fast: Fast = namespace["_fast"]
        return fast


def _policy_test(gen: TypedGen, scopes: Scopes, clauses: list[tuple[bool, dict[str, Any]]]) -> str:
    leaves = [gen.scope_leaf(var, scope) for var, scope in scopes]
    parts = [p for p in leaves if p is not None]
    for negate, body in clauses:
        text = gen.boolean(body)
        parts.append(f"(not {text})" if negate else text)
    return " and ".join(parts) or "True"


def _policy_lines(i: int, policy_id: str, test: str) -> list[str]:
    if test == "True":
        return [policy_comment(policy_id), f"    m |= {1 << i}"]
    return [
        policy_comment(policy_id),
        "    try:",
        f"        if {test}:",
        f"            m |= {1 << i}",
        "    except Exception as ex:",
        f"        errs = (errs or []) + [({i}, _error_message(ex))]",
    ]


def _render(gen: TypedGen, body: list[str], leaves: int) -> str:
    lines = ["def _fast(Q, E, K):", "    C = Q.context"]
    text = "\n".join(body)
    lines += ["    P = Q.principal"] if re.search(r"\bP\b", text) else []
    lines += ["    R = Q.resource"] if re.search(r"\bR\b", text) else []
    if leaves:
        names = ", ".join(f"k{j}" for j in range(leaves))
        lines.append(f"    {names}{',' if leaves == 1 else ''} = K")
    if gen.bindings:
        lines.append("    try:")
        lines += [f"        {line}" for line in gen.bindings]
        lines += ["    except (KeyError, AttributeError):", "        return _generic(Q, E)"]
    lines += ["    m = 0", "    errs = None", *body]
    lines += [
        "    if errs is None:",
        "        found = _responses.get(m)",
        "        if found is not None:",
        "            return found",
        "    return _response(m, errs)",
    ]
    return "\n".join(lines) + "\n"


def _leaf_source(sources: list[str]) -> str:
    """``_leaves(P, A, R, E)``: each leaf's value, or ``_ERR`` where it raised."""
    lines = ["def _leaves(P, A, R, E):", "    out = []"]
    for j, src in enumerate(sources):
        lines += [
            f"    # k{j}",
            "    try:",
            f"        out.append({src})",
            "    except Exception:",
            "        out.append(_ERR)",
        ]
    lines.append("    return out")
    return "\n".join(lines) + "\n"
