"""The batch path: many requests decided in one call, with numpy (``batch.program``).

Three tiers per policy, best first, each falling back to the next: generated numpy code
(``emit``), closures over columns (``closures``), row by row with the policy's scalar
function (``program``); ``program``'s docstring tables when each is taken. The rest is
shared by the tiers: ``input`` (a batch as columns), ``columns`` (``Col``), ``tables``
(entity-only expressions per entity), ``result`` (the answer, columnar).
"""
