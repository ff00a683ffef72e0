"""A sum of Decimal terms kept up to date term by term, equal to the direct sum.

The risk context's exposures are sums of non-negative terms over the book (every
position, every symbol with open orders). A burst of intents needs the sum once per row
with one term replaced (the traded symbol's position after the trade) or a few terms
changed (the open orders the earlier PERMITs added). Summing the whole book per row costs
a pass over every symbol; this keeps the sum and swaps terms instead.

The result must be the very Decimal the direct sum ``sum(terms, Decimal(0))`` gives, the
representation too (``Decimal("1.50")`` is not ``Decimal("1.5")`` in a decision's
metrics). Exact Decimal addition gives the smallest exponent of its operands, so a direct
sum that never rounds is its exact value at the smallest exponent among its terms (and
zero's, 0). The total is kept exactly; when the exact result has more digits than the
context's precision (the direct sum would have rounded) or a term is not finite,
``value()`` returns None and the caller sums directly.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from decimal import Decimal, getcontext, localcontext

_EXACT = 200  # digits: enough for any sum of config-sized terms to stay exact
ZERO = Decimal(0)


class ExactSum:
    """The sum of a multiset of finite Decimal terms; see the module docstring."""

    __slots__ = ("_bad", "_exponents", "_total")

    def __init__(self, terms: Iterable[Decimal] = ()) -> None:
        self._total = ZERO
        self._exponents: Counter[int] = Counter()
        self._bad = 0  # non-finite terms held
        for term in terms:
            self.add(term)

    def copy(self) -> ExactSum:
        twin = ExactSum()
        twin._total, twin._bad = self._total, self._bad
        twin._exponents = self._exponents.copy()
        return twin

    def add(self, term: Decimal) -> None:
        if not term.is_finite():
            self._bad += 1
            return
        with localcontext() as ctx:
            ctx.prec = _EXACT
            self._total += term
        self._exponents[int(term.as_tuple().exponent)] += 1

    def remove(self, term: Decimal) -> None:
        """Take out a term added before (the same value, the same representation)."""
        if not term.is_finite():
            self._bad -= 1
            return
        with localcontext() as ctx:
            ctx.prec = _EXACT
            self._total -= term
        exponent = int(term.as_tuple().exponent)
        self._exponents[exponent] -= 1
        if not self._exponents[exponent]:
            del self._exponents[exponent]

    def replace(self, old: Decimal, new: Decimal) -> None:
        self.remove(old)
        self.add(new)

    def swapped(self, old: Decimal | None, new: Decimal) -> Decimal | None:
        """``value()`` with old (a held term, or None) replaced by new, leaving this sum
        as it is."""
        twin = self.copy()
        if old is not None:
            twin.remove(old)
        twin.add(new)
        return twin.value()

    def value(self) -> Decimal | None:
        """The direct sum's Decimal, or None when it would have rounded (or a term is
        not finite): then sum directly."""
        if self._bad:
            return None
        exponent = min(0, *self._exponents) if self._exponents else 0
        with localcontext() as ctx:
            ctx.prec = _EXACT
            result = self._total.quantize(Decimal(1).scaleb(exponent))
        if len(result.as_tuple().digits) > getcontext().prec:
            return None
        return result
