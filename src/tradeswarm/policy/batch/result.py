"""A batch's answer, columnar: decisions and per-policy bit masks, Responses on demand.

``allowed`` is one bool per row; ``satisfied`` and ``errored`` are one integer per row
with bit i set when policy i was satisfied or raised an error (bit order is
``policy_ids``). Indexing or iterating gives the same ``Response`` objects the scalar path
gives: rows without errors share one cached Response per satisfied mask; a row with
errors is decided once more by the scalar path for Cedar's exact error messages (errors
are rare, so this costs nothing on the hot path).

Not a tier: the answer of all three (``batch.program``). A row the batch says errored but
the scalar path does not is an ``InvariantViolation``: a batch tier's bug, never hidden.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, overload

import numpy as np

from tradeswarm.core.errors import InvariantViolation
from tradeswarm.policy.batch.input import BatchInput
from tradeswarm.policy.decision import Response

if TYPE_CHECKING:
    from tradeswarm.policy.core import PolicyCore


class BatchResult(Sequence[Response]):
    """Decisions of one batch; a sequence of Responses built lazily."""

    def __init__(
        self,
        core: PolicyCore,
        batch: BatchInput,
        allowed: Any,
        satisfied: Any,
        errored: Any,
    ) -> None:
        self.core = core
        self.batch = batch
        self.allowed = allowed
        self.satisfied = satisfied
        self.errored = errored

    def __len__(self) -> int:
        return self.batch.n

    @overload
    def __getitem__(self, index: int) -> Response: ...

    @overload
    def __getitem__(self, index: slice) -> list[Response]: ...

    def __getitem__(self, index: int | slice) -> Response | list[Response]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        i = range(len(self))[index]
        return self._row(i, int(self.satisfied[i]), int(self.errored[i]))

    def __iter__(self) -> Iterator[Response]:
        masks = np.asarray(self.satisfied).tolist()
        errs = np.asarray(self.errored).tolist()
        response = self.core.response
        for i, (m, e) in enumerate(zip(masks, errs, strict=True)):
            yield response(m, None) if e == 0 else self._row(i, m, e)

    def _row(self, i: int, mask: int, err_mask: int) -> Response:
        if err_mask == 0:
            return self.core.response(mask, None)
        messages = self._scalar_errors(i)
        errs = []
        for policy in range(len(self.core.policy_ids)):
            if err_mask >> policy & 1:
                if policy not in messages:
                    pid = self.core.policy_ids[policy]
                    raise InvariantViolation(f"{pid} errored on the batch path only (row {i})")
                errs.append((policy, messages[policy]))
        return self.core.response(mask, errs)

    def _scalar_errors(self, i: int) -> dict[int, str]:
        b = self.batch
        _, errs = self.core.program.decide(
            b.uid("principal", i),
            b.uid("action", i),
            b.uid("resource", i),
            b.row_context(i),
            b.store,
        )
        return dict(errs or ())

    @property
    def error_rows(self) -> Any:
        """Indices of the rows where some policy errored."""
        return np.flatnonzero(np.asarray(self.errored) != 0)
