"""The batch path's driver: one call decides N requests, each policy in one of three tiers.

========  ===============  ===================================  ===========================
tier      code             a policy takes it when               it falls back to
========  ===============  ===================================  ===========================
emit      batch.emit       its tree is built and the batch's    closures, for that
                           signature is emitted                 signature only
closures  batch.closures   the emitter declined the policy,     rows, when the closures
                           or this signature's kinds            decline the policy (when
                                                                the program is built)
rows      ``_per_row``     the closures declined the policy:    nothing: it decides every
                           row by row, its scalar function      policy
========  ===============  ===================================  ===========================

A policy the closures decline is not offered to the emitter (what it emits is a subset of
what the closures compile). Measured on Cedar's corpus (3,987 policies, 31,730 requests):
3,984 policies emitted, 1 through the closures, 2 per row before the closures took the
strict operators and 0 since (``batch.closures`` says which constructs reach each tier);
the bundled trading set is emitted whole.

Per batch: the leaves (context columns, ``has`` tests, entity-only expressions gathered
from the entity tables) are computed, their kinds form the signature, and the policy
set's code for that signature (emitted once, ``_emit``) writes each policy's satisfied and
errored rows into two matrices, calling a policy's fallback where it is not emitted; one
matrix product per matrix turns them into per-row bit masks, and the decision is four
integer operations on the masks.

Observing and forcing the tiers: ``plan`` maps each policy id to its tier and why
(``"emit"``, ``"closures (emit declined: if-then-else)"``, ``"rows (closures declined:
is ... in)"``): before the first batch the tier each policy is built for, after it the
tier it took in the latest batch. ``tier_counts`` adds up, over every batch, how many
(policy, row) decisions each tier made. ``BatchProgram(core, tiers=...)`` limits the
tiers a program may use, an ordered subset of ``TIERS`` ending with ``"rows"``:
``("closures", "rows")`` never emits, ``("emit", "rows")`` sends what the emitter declines
straight to the rows, ``("rows",)`` decides everything row by row; tests use it so that a
disagreement with cedarpy points at one backend.

The generated source is readable when it fails: a ``# policy <id> @id("...")`` comment
heads each policy's lines, and each source is compiled under a file name of its own
(``<cedar batch N>``) registered with ``linecache``, so a traceback shows the generated
lines; ``Generated.source`` holds it. Its names are tabled in ``batch.emit``.
"""

from __future__ import annotations

import itertools
import json
import linecache
import weakref
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import numpy as np

from tradeswarm.core.errors import ConfigurationError
from tradeswarm.policy.batch.closures import VectorCompiler, as_kind, evaluate_per_entity
from tradeswarm.policy.batch.columns import Col, per_row_set
from tradeswarm.policy.batch.emit import (
    Emitter,
    Leaf,
    LeafSig,
    PolicyTree,
    TreeBuilder,
    emit_policy,
)
from tradeswarm.policy.batch.input import BatchInput
from tradeswarm.policy.batch.result import BatchResult
from tradeswarm.policy.batch.tables import EntityTables
from tradeswarm.policy.entities import EntityStore
from tradeswarm.policy.est import NotCompiled
from tradeswarm.policy.kinds import Kind
from tradeswarm.policy.scalar import generic as codegen

if TYPE_CHECKING:
    from tradeswarm.policy.batch.jit import KernelCache
    from tradeswarm.policy.batch.kernel_run import Kernel
    from tradeswarm.policy.core import PolicyCore

PolicyRun = Callable[[BatchInput], tuple[Any, Any]]
Signature = tuple[LeafSig, ...]
FLOAT_EXACT_BITS = 52
_VARS = (("principal", "P"), ("action", "A"), ("resource", "R"))
_SERIAL = itertools.count(1)


class Tier(StrEnum):
    """The batch path's tiers, best first (see the module docstring)."""

    KERNEL = "kernel"  # a numba kernel (batch.kernel, batch.jit)
    EMIT = "emit"  # generated numpy code (batch.emit)
    CLOSURES = "closures"  # the closure vectorizer (batch.closures)
    ROWS = "rows"  # row by row with the policy's scalar function


TIERS = (Tier.KERNEL, Tier.EMIT, Tier.CLOSURES, Tier.ROWS)
#: The tiers a program uses unless told: the kernel is asked for (it compiles with numba).
DEFAULT_TIERS = (Tier.EMIT, Tier.CLOSURES, Tier.ROWS)


def check_tiers(tiers: Iterable[str], field: str = "tiers") -> tuple[Tier, ...]:
    """The tiers a program may use: an ordered subset of TIERS ending with rows."""
    names = tuple(tiers)
    in_order = tuple(t for t in TIERS if t in names)
    if names != in_order or names[-1:] != (Tier.ROWS,):
        raise ConfigurationError(
            field,
            names,
            "an ordered subset of ('kernel', 'emit', 'closures', 'rows') ending with 'rows'",
        )
    return tuple(Tier(t) for t in names)


def _entry(tier: Tier, *why: str) -> str:
    """A plan entry: the tier, and why the tiers above did not take the policy."""
    reasons = "; ".join(w for w in why if w)
    return f"{tier} ({reasons})" if reasons else str(tier)


def _comment(policy_id: str, annotations: Mapping[str, str]) -> str:
    """``# policy <id>`` (and its ``@id`` annotation, if any) as one line of source."""
    shown = policy_id if policy_id.isprintable() else repr(policy_id)
    named = annotations.get("id")
    return f"# policy {shown}" + (f" @id({json.dumps(named)})" if named is not None else "")


def _masks(rows: Any, weights: list[int]) -> Any:
    """Per-row bit masks from a (policies x rows) 0/1 matrix (``weights``: each row's bit).
    A float64 product is exact while every bit is below bit 52."""
    if not weights or max(weights).bit_length() <= FLOAT_EXACT_BITS:
        return (np.asarray(weights, dtype=np.float64) @ rows).astype(np.int64)
    return np.asarray(weights, dtype=object) @ rows.astype(bool).astype(object)


def _or(a: Any, b: Any) -> Any:
    """Two mask columns or'ed (Python ints when either needs more than 64 bits)."""
    if a is None or b is None:
        return b if a is None else a
    if object in (a.dtype, b.dtype):
        return np.asarray(a, dtype=object) | np.asarray(b, dtype=object)
    return a | b


def _fallback_lines(i: int, sat_slot: int, err_slot: int) -> list[str]:
    return [
        f"    sat, err = fallback[{i}](b)",
        f"    satisfied[{sat_slot}] = sat",
        f"    errored[{err_slot}] = err",
    ]


def _compiled(source: str, namespace: dict[str, Any]) -> Any:
    """The generated function, compiled under a file name of its own that ``linecache``
    knows (for as long as the function lives), so tracebacks show its lines."""
    filename = f"<cedar batch {next(_SERIAL)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    exec(compile(source, filename, "exec"), namespace)  # our own generated code
    fn = namespace["_batch"]
    weakref.finalize(fn, linecache.cache.pop, filename, None)
    return fn


class Generated:
    """The code of one signature: the kernel (or None) and the emitted numpy function of
    the policies it does not cover; the policies the numpy function writes (one
    ``satisfied`` row each, in order) and those that can error there (one ``errored``
    row each); how many policies each tier decides; the plan entries of the policies a
    tier declined for this signature; the numpy source and its file name."""

    def __init__(
        self,
        fn: Any,
        kernel: Kernel | None,
        slots: tuple[list[int], list[int]],
        per_tier: Counter[Tier],
        plan: dict[str, str],
        source: str,
    ) -> None:
        self.fn = fn
        self.kernel = kernel
        self.sat_policies, self.error_policies = slots
        self.sat_weights = [1 << i for i in self.sat_policies]
        self.err_weights = [1 << i for i in self.error_policies]
        self.per_tier = tuple(per_tier.items())
        self.plan = plan
        self.source = source
        self.filename = fn.__code__.co_filename


class BatchProgram:
    """The vectorized evaluator of one compiled policy set (see the module docstring);
    ``tiers`` limits the tiers it may use (for tests)."""

    def __init__(
        self,
        core: PolicyCore,
        tiers: Iterable[str] = DEFAULT_TIERS,
        kernel_cache: KernelCache | None = None,
    ) -> None:
        self.core = core
        self.tiers = check_tiers(tiers)
        self.kernel_cache = kernel_cache
        self.gen = codegen.Generator()
        self.builder = TreeBuilder(self._entity_leaf)
        self.runs: list[PolicyRun] = []  # per policy, its fallback: the closures or per row
        self.fallbacks: list[tuple[Tier, str]] = []  # its tier, and why not the closures
        self.trees: list[PolicyTree | None] = []
        self.built: dict[str, str] = {}  # the plan before any batch
        vc = VectorCompiler(self.gen)
        for i, (pid, policy) in enumerate(core.loaded.policies.items()):
            self._build(vc, i, pid, policy)
        self.generated: dict[Signature, Generated] = {}
        self.last: Generated | None = None
        self.tier_counts: Counter[str] = Counter()
        self._tables: dict[int, EntityTables] = {}

    @property
    def plan(self) -> dict[str, str]:
        """Policy id -> its tier and why: as built, or as taken in the latest batch."""
        return {**self.built, **(self.last.plan if self.last is not None else {})}

    def _build(self, vc: VectorCompiler, i: int, pid: str, policy: dict[str, Any]) -> None:
        run, fallback, not_closures = self._fallback(vc, i, policy)
        self.runs.append(run)
        self.fallbacks.append((fallback, not_closures))
        tree, not_emit = None, "emit not in tiers"
        if Tier.EMIT in self.tiers or Tier.KERNEL in self.tiers:
            offered = fallback is Tier.CLOSURES or Tier.CLOSURES not in self.tiers
            tree, not_emit = self._tree(i, policy) if offered else (None, "")
        self.trees.append(tree)
        if tree is None:
            self.built[pid] = _entry(fallback, not_emit, not_closures)
        else:
            self.built[pid] = _entry(Tier.KERNEL if Tier.KERNEL in self.tiers else Tier.EMIT)

    def _fallback(
        self, vc: VectorCompiler, i: int, policy: dict[str, Any]
    ) -> tuple[PolicyRun, Tier, str]:
        """The policy's run below the emitter (the closures, else per row), its tier, and
        why not the closures."""
        if Tier.CLOSURES not in self.tiers:
            return self._per_row(i), Tier.ROWS, "closures not in tiers"
        try:
            return self._closures(vc, policy), Tier.CLOSURES, ""
        except NotCompiled as exc:
            return self._per_row(i), Tier.ROWS, f"closures declined: {exc}"

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

    def _tree(self, index: int, policy: dict[str, Any]) -> tuple[PolicyTree | None, str]:
        """The policy's tree for the emitter, or None and why not."""
        scope_src, used = self._scope(policy)
        fn = eval(f"lambda P, A, R, E: {scope_src}", self.gen.namespace)  # generated source
        try:
            conditions = tuple(
                (c["kind"] == "unless", self.builder.sub(c["body"]))
                for c in policy.get("conditions") or ()
            )
        except NotCompiled as exc:
            return None, f"emit declined: {exc}"
        scope = self.builder.leaf(Leaf(("entity", "scope:" + scope_src), fn, tuple(used)))
        return PolicyTree(index, scope, conditions), ""

    def _closures(self, vc: VectorCompiler, policy: dict[str, Any]) -> PolicyRun:
        scope_src, used = self._scope(policy)
        scope_fn = eval(f"lambda P, A, R, E: {scope_src}", self.gen.namespace)
        conditions = [
            (clause["kind"] == "unless", vc.compile(clause["body"]))
            for clause in policy.get("conditions") or ()
        ]

        def run(b: BatchInput) -> tuple[Any, Any]:
            scope = evaluate_per_entity(b, scope_fn, used, "scope:" + scope_src)
            active = np.array(scope.v, dtype=bool)
            err = np.zeros(b.n, dtype=bool)
            for negate, fn in conditions:
                v, e = as_kind(fn(b), Kind.BOOL, b.n)
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
                    cols.append(evaluate_per_entity(b, leaf.fn, list(leaf.variables), leaf.key[1]))
                else:
                    cols.append(tables.gather(table, leaf.variables, codes))
        return cols

    def decide_input(self, b: BatchInput) -> BatchResult:
        if b.n == 0:
            empty = np.zeros(0, dtype=np.int64)
            return BatchResult(self.core, b, np.zeros(0, dtype=bool), empty, empty)
        cols = self.leaves(b)
        signature = tuple((c.kind, c.err is not None, per_row_set(c)) for c in cols)
        code = self.generated.get(signature)
        if code is None:
            code = self.generated[signature] = self._emit(signature)
        self.last = code
        counts = self.tier_counts
        for tier, policies in code.per_tier:
            counts[tier] += policies * b.n
        kernel = code.kernel
        satisfied, errored = kernel.run(cols, b.n) if kernel is not None else (None, None)
        if code.sat_policies:
            sat_rows = np.empty((len(code.sat_policies), b.n))
            err_rows = np.empty((len(code.error_policies), b.n))
            code.fn(cols, b.n, b, self.runs, sat_rows, err_rows)
            satisfied = _or(satisfied, _masks(sat_rows, code.sat_weights))
            if code.error_policies:
                errored = _or(errored, _masks(err_rows, code.err_weights))
        if satisfied is None:  # no policy at all
            satisfied = np.zeros(b.n, dtype=np.int64)
        if errored is None:
            errored = np.zeros(b.n, dtype=np.int64)
        forbid, permit = self.core.forbid_mask, self.core.permit_mask
        allowed = ((satisfied & permit) != 0) & ((satisfied & forbid) == 0)
        return BatchResult(self.core, b, allowed, satisfied, errored)

    def _kernel(self, signature: Signature) -> Kernel | None:
        """The kernel of the policies it compiles for this signature (None: not a tier)."""
        if Tier.KERNEL not in self.tiers:
            return None
        from tradeswarm.policy.batch.kernel_run import build_kernel

        offered = [
            (i, tree, _comment(pid, self.core.annotations[pid]))
            for i, (pid, tree) in enumerate(zip(self.core.policy_ids, self.trees, strict=True))
            if tree is not None
        ]
        entity = [leaf.key[0] == "entity" for leaf in self.builder.leaves]
        return build_kernel(signature, entity, offered, self.kernel_cache)

    def _emit(self, signature: Signature) -> Generated:
        """The policy set's code for one signature: the kernel where it compiles a policy,
        emitted numpy code (or a fallback call) for the others."""
        kernel = self._kernel(signature)
        e = Emitter(signature)
        body: list[str] = []
        slots: tuple[list[int], list[int]] = ([], [])
        per_tier: Counter[Tier] = Counter()
        plan: dict[str, str] = {}
        for i, pid in enumerate(self.core.policy_ids):
            comment = f"    {_comment(pid, self.core.annotations[pid])}"
            if kernel is not None and i in kernel.covered:
                per_tier[Tier.KERNEL] += 1
                body.append(f"{comment}: in the kernel")
                continue
            not_kernel = kernel.declined.get(i, "") if kernel is not None else ""
            lines, can_err, declined = self._policy_lines(e, i, len(slots[0]), len(slots[1]))
            body += [comment, *lines]
            slots[0].append(i)
            slots[1].extend([i] if can_err else [])
            emitted = self.trees[i] is not None and declined is None
            per_tier[Tier.EMIT if emitted else self.fallbacks[i][0]] += 1
            if emitted and not_kernel:
                plan[pid] = _entry(Tier.EMIT, not_kernel)
            elif declined is not None:
                fallback, why = self.fallbacks[i]
                plan[pid] = _entry(fallback, not_kernel, declined, why)
        head = "def _batch(cols, n, b, fallback, satisfied, errored):"
        source = "\n".join([head, *body, "    return None"]) + "\n"
        fn = _compiled(source, e.namespace)
        covering = kernel if kernel is not None and kernel.covered else None
        return Generated(fn, covering, slots, per_tier, plan, source)

    def _policy_lines(
        self, e: Emitter, i: int, sat_slot: int, err_slot: int
    ) -> tuple[list[str], bool, str | None]:
        """Policy i's lines: emitted, or a call of its fallback; whether they write row
        ``err_slot`` of ``errored``; why the emitter did not take this signature (None
        when it emitted the policy or was never offered it)."""
        tree = self.trees[i]
        if tree is None:
            return _fallback_lines(i, sat_slot, err_slot), True, None
        if Tier.EMIT not in self.tiers:
            return _fallback_lines(i, sat_slot, err_slot), True, "emit not in tiers"
        start, first, memo = e.count, len(e.lines), dict(e.memo)
        try:
            sat, err = emit_policy(e, tree)
        except NotCompiled as exc:
            e.count, e.memo = start, memo
            del e.lines[first:]
            return _fallback_lines(i, sat_slot, err_slot), True, f"emit declined: {exc}"
        lines = [*e.lines[first:], f"    satisfied[{sat_slot}] = {sat}"]
        del e.lines[first:]
        if err is not None:
            lines.append(f"    errored[{err_slot}] = {err}")
        return lines, err is not None, None
