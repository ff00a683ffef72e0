"""The batch path: one call decides N requests, with generated numpy code.

Per batch: the leaves (context columns, ``has`` tests, entity-only expressions gathered
from the entity tables) are computed, their kinds form the signature, and the policy set's
code for that signature (emitted once, ``vectorgen``) writes each policy's satisfied and
errored rows into two matrices; one matrix product per matrix turns them into per-row bit
masks, and the decision is four integer operations on the masks. Policies the generator
does not emit run through the closure vectorizer (``batch``) or, for constructs outside
it, row by row with their scalar function.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from tradeswarm.policy.batch.closures import (
    Unsupported,
    VectorCompiler,
    _evaluate_per_entity,
    as_kind,
)
from tradeswarm.policy.batch.columns import Col
from tradeswarm.policy.batch.emit import (
    Emitter,
    Leaf,
    PolicyTree,
    TreeBuilder,
    emit_policy,
)
from tradeswarm.policy.batch.emit import Unsupported as NotEmitted
from tradeswarm.policy.batch.input import BatchInput
from tradeswarm.policy.batch.result import BatchResult
from tradeswarm.policy.batch.tables import EntityTables
from tradeswarm.policy.entities import EntityStore
from tradeswarm.policy.scalar import generic as codegen

if TYPE_CHECKING:
    from tradeswarm.policy.core import PolicyCore

PolicyRun = Callable[[BatchInput], tuple[Any, Any]]
FLOAT_EXACT_BITS = 52
_VARS = (("principal", "P"), ("action", "A"), ("resource", "R"))


def _masks(rows: Any, weights: list[int]) -> Any:
    """Per-row bit masks from a (policies x rows) 0/1 matrix."""
    if len(weights) <= FLOAT_EXACT_BITS:
        return (np.asarray(weights, dtype=np.float64) @ rows).astype(np.int64)
    return np.asarray(weights, dtype=object) @ rows.astype(bool).astype(object)


class Generated:
    """The emitted code of one signature: which policies it covers and where errors go."""

    def __init__(self, fn: Any, error_policies: list[int], source: str) -> None:
        self.fn = fn
        self.error_policies = error_policies
        self.source = source


class BatchProgram:
    """The vectorized evaluator of one compiled policy set."""

    def __init__(self, core: PolicyCore) -> None:
        self.core = core
        self.gen = codegen.Generator()
        self.builder = TreeBuilder(self._entity_leaf)
        vc = VectorCompiler(self.gen)
        self.runs: list[PolicyRun] = []
        self.trees: list[PolicyTree | None] = []
        self.plan: dict[str, str] = {}
        for i, (pid, policy) in enumerate(core.loaded.policies.items()):
            try:
                self.runs.append(self._vectorize(vc, policy))
                self.plan[pid] = "vectorized"
            except Unsupported as exc:
                self.runs.append(self._per_row(i))
                self.plan[pid] = f"per-row ({exc})"
            self.trees.append(self._tree(i, policy) if self.plan[pid] == "vectorized" else None)
        self.weights = [1 << i for i in range(len(self.runs))]
        self._code: dict[tuple[tuple[str, bool], ...], Generated] = {}
        self._tables: dict[int, EntityTables] = {}

    def _scope(self, policy: dict[str, Any]) -> tuple[str, list[str]]:
        atoms: list[str] = []
        used = []
        for var, name in _VARS:
            found = codegen.scope_atoms(self.gen, name, policy[var])
            atoms += found
            used += [var] if found else []
        return " and ".join(atoms) or "True", used

    def _entity_leaf(self, node: dict[str, Any], free: set[str]) -> Leaf | tuple[Any, ...]:
        src = self.gen.expr(node).src
        fn = eval(f"lambda P, A, R, E: {src}", self.gen.namespace)  # our own generated source
        if not free and "E" not in src:  # a constant that does not read the entity store
            try:
                return ("const", fn(None, None, None, {}))
            except Exception:
                pass
        return Leaf(("entity", src), fn, tuple(v for v, _ in _VARS if v in free))

    def _tree(self, index: int, policy: dict[str, Any]) -> PolicyTree | None:
        scope_src, used = self._scope(policy)
        fn = eval(f"lambda P, A, R, E: {scope_src}", self.gen.namespace)  # generated source
        try:
            conditions = tuple(
                (c["kind"] == "unless", self.builder.sub(c["body"]))
                for c in policy.get("conditions") or ()
            )
        except NotEmitted:
            return None
        scope = self.builder.leaf(Leaf(("entity", "scope:" + scope_src), fn, tuple(used)))
        return PolicyTree(index, scope, conditions)

    def _vectorize(self, vc: VectorCompiler, policy: dict[str, Any]) -> PolicyRun:
        scope_src, used = self._scope(policy)
        scope_fn = eval(f"lambda P, A, R, E: {scope_src}", self.gen.namespace)
        conditions = [
            (clause["kind"] == "unless", vc.compile(clause["body"]))
            for clause in policy.get("conditions") or ()
        ]

        def run(b: BatchInput) -> tuple[Any, Any]:
            scope = _evaluate_per_entity(b, scope_fn, used, "scope:" + scope_src)
            active = np.array(scope.v, dtype=bool)
            err = np.zeros(b.n, dtype=bool)
            for negate, fn in conditions:
                v, e = as_kind(fn(b), "bool", b.n)
                if e is not None:
                    err |= active & e
                    active = active & ~e
                active = active & (~v if negate else v)
            return active, err

        return run

    def _per_row(self, index: int) -> PolicyRun:
        fn = self.core.program.policy_functions[index]

        def run(b: BatchInput) -> tuple[Any, Any]:
            sat = np.zeros(b.n, dtype=bool)
            err = np.zeros(b.n, dtype=bool)
            for i in range(b.n):
                p, a, r = (b.uid(var, i) for var in ("principal", "action", "resource"))
                try:
                    sat[i] = fn(p, a, r, b.row_context(i), b.store)
                except Exception:
                    err[i] = True
            return sat, err

        return run

    def decide(
        self, requests: Sequence[Mapping[str, Any]] | Mapping[str, Any], store: EntityStore
    ) -> BatchResult:
        if isinstance(requests, Mapping):
            batch = BatchInput.from_columns(
                int(requests["n"]), store, requests, requests.get("context") or {}
            )
        else:
            parser = self.core.context_parser
            batch = BatchInput.from_requests(
                requests, store, parser.parse, typed=parser.types is not None
            )
        return self.decide_input(batch)

    def tables(self, store: EntityStore) -> EntityTables:
        found = self._tables.get(id(store))
        if found is None or found.store is not store:
            if len(self._tables) >= 16:
                self._tables.clear()
            found = self._tables[id(store)] = EntityTables(store)
        return found

    def leaves(self, b: BatchInput) -> list[Col]:
        tables = self.tables(b.store)
        codes = tables.global_codes(b.uids)
        cols = []
        for leaf in self.builder.leaves:
            kind = leaf.key[0]
            if kind == "path":
                cols.append(b.path(leaf.key[1]))
            elif kind == "has":
                cols.append(b.has(leaf.key[1], leaf.key[2]))
            else:
                table = tables.table(leaf.key[1], leaf.fn, leaf.variables)
                if table is None:
                    cols.append(_evaluate_per_entity(b, leaf.fn, list(leaf.variables), leaf.key[1]))
                else:
                    cols.append(tables.gather(table, leaf.variables, codes))
        return cols

    def decide_input(self, b: BatchInput) -> BatchResult:
        n = len(self.runs)
        if b.n == 0:
            empty = np.zeros(0, dtype=np.int64)
            return BatchResult(self.core, b, np.zeros(0, dtype=bool), empty, empty)
        cols = self.leaves(b)
        signature = tuple((c.kind, c.err is not None) for c in cols)
        code = self._code.get(signature)
        if code is None:
            code = self._code[signature] = self._emit(signature)
        sat_rows = np.empty((n, b.n))
        err_rows = np.empty((len(code.error_policies), b.n))
        code.fn(cols, b.n, b, self.runs, sat_rows, err_rows)
        satisfied = _masks(sat_rows, self.weights)
        if code.error_policies:
            errored = _masks(err_rows, [1 << i for i in code.error_policies])
        else:
            errored = np.zeros(b.n, dtype=np.int64)
        forbid, permit = self.core.forbid_mask, self.core.permit_mask
        allowed = ((satisfied & permit) != 0) & ((satisfied & forbid) == 0)
        return BatchResult(self.core, b, allowed, satisfied, errored)

    def _emit(self, signature: tuple[tuple[str, bool], ...]) -> Generated:
        """The policy set's code for one signature (closures where it cannot be emitted)."""
        e = Emitter(signature)
        body: list[str] = []
        error_policies: list[int] = []
        for i, tree in enumerate(self.trees):
            start, lines, memo = e.count, len(e.lines), dict(e.memo)
            try:
                if tree is None:
                    raise NotEmitted("not emitted")
                sat, err = emit_policy(e, tree)
                body += [*e.lines[lines:], f"    S[{i}] = {sat}"]
                if err is not None:
                    body.append(f"    Q[{len(error_policies)}] = {err}")
                    error_policies.append(i)
            except NotEmitted:
                e.count, e.memo = start, memo
                body += [f"    s, q = runs[{i}](b)", f"    S[{i}] = s"]
                body.append(f"    Q[{len(error_policies)}] = q")
                error_policies.append(i)
            del e.lines[lines:]
        source = "\n".join(["def _batch(L, n, b, runs, S, Q):", *body, "    return None"]) + "\n"
        exec(compile(source, "<cedar batch>", "exec"), e.namespace)  # our own generated code
        return Generated(e.namespace["_batch"], error_policies, source)
