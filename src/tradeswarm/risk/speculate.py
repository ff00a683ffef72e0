"""Deciding a burst of intents in one call of the gate, exactly as one at a time would.

Decisions inside a burst depend on the ones before them: the message throttle counts
every earlier intent of the agent, duplicate detection the earlier ones still live (not
denied), the open-order cap and the credit limit the earlier PERMITs. Deciding the burst
row by row would call the gate once per intent. Instead each round assumes a verdict for
every row not yet final (at first: PERMIT), computes every row's dependent facts
(`Deps`) from those assumptions in one cheap pass, decides every row whose facts changed
in one `decide_batch` call, and walks the rows: each row whose verdict is what was
assumed is final, and so is the first one whose verdict differs (the rows before it were
assumed right, so its facts were right); the rows after it take their new verdicts as
the next round's assumptions. Every round makes at least one row final; past
`max_rounds` the rest are decided one row per round, which is deciding them one at a
time. A row whose facts are the same as in the round before keeps its verdict (the gate
is a function of the context), so a burst where every assumption holds costs one call.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import NamedTuple

import msgspec

from tradeswarm.model.enums import Verdict
from tradeswarm.model.messages import TradeIntent
from tradeswarm.risk.burst import Base
from tradeswarm.risk.context import RiskContext
from tradeswarm.risk.gate import GateVerdict
from tradeswarm.risk.history import Traffic
from tradeswarm.risk.openbook import OpenBook, OpenDraft

MAX_ROUNDS = 6

Decide = Callable[[Sequence[tuple[TradeIntent, RiskContext]]], list[GateVerdict]]


class Slot(NamedTuple):
    """One row of a burst as the sequence sees it."""

    intent: TradeIntent
    principal: str  # "" when no valid signature names one: not counted
    counted: bool  # the row enters the agent's history (every decided row; not a replay)
    recorded: bool  # its decision is new in the store (so a PERMIT opens an order)
    traffic: Traffic | None  # the agent's traffic before the burst (gated rows)
    fixed: Verdict | None  # the verdict of a row the gate does not decide (None: gated)


class Deps(NamedTuple):
    """A row's facts that depend on the rows before it."""

    last_second: int
    last_minute: int
    duplicate_of: str
    open_orders: int
    open_exposure: Decimal

    def key(self) -> tuple[object, ...]:
        # Decimal equality ignores the representation; a context's metrics do not
        return (*self[:4], self.open_exposure.as_tuple())


def with_deps(base: Base, deps: Deps) -> RiskContext:
    """The row's context once the rows before it are known."""
    return msgspec.structs.replace(
        base.ctx,
        intents_last_second=deps.last_second,
        intents_last_minute=deps.last_minute,
        duplicate_of=deps.duplicate_of,
        open_orders=deps.open_orders,
        gross_exposure_after=base.positions_exposure + deps.open_exposure,
    )


class _Pass:
    """One pass over the burst: the state before it plus the rows' outcomes so far."""

    def __init__(self, draft: OpenDraft, duplicate: bool) -> None:
        self.draft = draft
        self.duplicate = duplicate
        self.counts: dict[str, int] = {}
        self.live: dict[tuple[str, object], str] = {}

    def deps(self, slot: Slot) -> Deps:
        i, traffic = slot.intent, slot.traffic
        assert traffic is not None
        seen = self.counts.get(slot.principal, 0)
        twin = self.live.get((slot.principal, (i.symbol, i.side, i.quantity)))
        duplicate = twin if twin is not None and self.duplicate else traffic.duplicate_of
        return Deps(
            traffic.last_second + seen,
            traffic.last_minute + seen,
            duplicate,
            self.draft.count(slot.principal),
            self.draft.exposure(),
        )

    def apply(self, slot: Slot, verdict: Verdict, price: Decimal | None) -> None:
        i = slot.intent
        if slot.counted and slot.principal:
            self.counts[slot.principal] = self.counts.get(slot.principal, 0) + 1
            if verdict is not Verdict.DENY:
                self.live[(slot.principal, (i.symbol, i.side, i.quantity))] = str(i.intent_id)
        if verdict is Verdict.PERMIT and slot.recorded and price is not None:
            self.draft.permit(i.intent_id, slot.principal, i.symbol, i.quantity, price)


class Decided(NamedTuple):
    deps: tuple[object, ...]
    ctx: RiskContext
    verdict: GateVerdict


class BurstStats:
    """How bursts were decided: rows, rows handed to the gate (a row decided again in a
    later round counts again), rounds, and the bursts that needed more than one."""

    __slots__ = ("bursts", "gate_rows", "redecided_bursts", "rounds", "rows")

    def __init__(self) -> None:
        self.bursts = self.rows = self.gate_rows = self.rounds = self.redecided_bursts = 0

    def add(self, rows: int, speculation: Speculation) -> None:
        self.bursts += 1
        self.rows += rows
        self.gate_rows += speculation.gate_rows
        self.rounds += speculation.rounds
        self.redecided_bursts += speculation.rounds > 1

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__slots__}


class Speculation:
    """Decides a burst's gated rows (see the module docstring)."""

    def __init__(
        self,
        slots: Sequence[Slot],
        bases: dict[int, Base],
        book: OpenBook,
        draft: Callable[[OpenBook], OpenDraft],
        duplicate: bool,
        max_rounds: int = MAX_ROUNDS,
    ) -> None:
        self.slots = slots
        self.bases = bases
        self._book, self._draft = book, draft
        self._duplicate = duplicate
        self.max_rounds = max_rounds
        self.order = [k for k, s in enumerate(slots) if s.fixed is None]
        self.assumed: dict[int, Verdict] = dict.fromkeys(self.order, Verdict.PERMIT)
        self.decided: dict[int, Decided] = {}
        self.rounds = 0
        self.gate_rows = 0  # rows handed to the gate, over every round

    def _deps(self) -> dict[int, Deps]:
        state = _Pass(self._draft(self._book), self._duplicate)
        out: dict[int, Deps] = {}
        for k, slot in enumerate(self.slots):
            verdict = slot.fixed
            if verdict is None:
                out[k] = state.deps(slot)
                verdict = self.assumed[k]
            base = self.bases.get(k)
            state.apply(slot, verdict, None if base is None else base.ctx.valuation_price)
        return out

    def _decide(self, rows: list[int], deps: dict[int, Deps], decide: Decide) -> None:
        stale = [k for k in rows if k not in self.decided or self.decided[k].deps != deps[k].key()]
        if not stale:
            return
        pairs = [(self.slots[k].intent, with_deps(self.bases[k], deps[k])) for k in stale]
        verdicts = decide(pairs)
        self.gate_rows += len(stale)
        for k, (_, ctx), verdict in zip(stale, pairs, verdicts, strict=True):
            self.decided[k] = Decided(deps[k].key(), ctx, verdict)

    def run(self, decide: Decide) -> dict[int, Decided]:
        """Every gated row's context and verdict, each what deciding the rows one at a
        time in order would give it."""
        final = 0
        while final < len(self.order):
            deps = self._deps()
            window = self.order[final:]
            if self.rounds >= self.max_rounds:
                window = window[:1]
            self._decide(window, deps, decide)
            self.rounds += 1
            final += self._settle(window)
        return self.decided

    def _settle(self, window: list[int]) -> int:
        """How many rows of window are final now; the rest take their new verdicts as
        the next round's assumptions."""
        settled = len(window)
        for n, k in enumerate(window):
            verdict = self.decided[k].verdict.verdict
            if verdict is not self.assumed[k] and settled == len(window):
                settled = n + 1
            self.assumed[k] = verdict
        return settled
