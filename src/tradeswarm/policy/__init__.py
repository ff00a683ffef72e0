"""Cedar policies compiled for the trading hot path: scalar and batch evaluators.

``compile_policies(text, schema)`` parses and validates with cedarpy (never a second
parser) and returns a ``CompiledPolicySet``: a generated Python evaluator for one request
(``is_authorized``) and a numpy-vectorized one for many (``is_authorized_batch``), both
giving Cedar's exact decision, reasons and errors. ``ReferenceEngine`` is cedarpy itself.

The room reads top-down, and an import-linter contract keeps the compiler's layers:

1. **parse**: ``loader`` (cedarpy -> Cedar's JSON syntax tree, the EST; validation, error
   positions through ``sourcemap``);
2. **representation**: ``est`` (free variables, attribute paths, ``NotCompiled``, the one
   exception a backend raises for a construct it declines), ``kinds`` (``Kind``, the one
   vocabulary of type tags), ``values`` (Cedar's runtime values), ``entities`` and
   ``requests`` (entities and contexts as runtime values; ``convert``, the generated JSON
   context converters);
3. **core**: ``core.PolicyCore``, what every backend reads (ids, effects, annotations,
   masks, the Response of each mask, the generic scalar program, the context parser);
4. **backends**: ``scalar`` (``generic``: EST -> Python; ``program``: the generic tier;
   ``typed`` + ``fastpath``: the typed tier) and ``batch`` (``emit``, ``closures``, rows;
   ``input``, ``columns``, ``tables``, ``result``); each gets the core, never the facade;
5. **facade**: ``compiled`` (``compile_policies``, ``CompiledPolicySet``), routing each
   request to a tier; ``testsuite`` runs Cedar's own test files on it;
6. **runtime**: ``runtime``, the operations generated code calls (``_rt.<name>``), each
   raising where Cedar reports an evaluation error; ``decision`` (``Response``, REVIEW).

The tiers (which one decided how many requests: ``count_tiers()`` / ``tier_counts()``,
``tradeswarm policy test --tiers``, ``tradeswarm policy eval --tiers``, ``tradeswarm bench
policy``):

==============  =====================  =================================  ========================
tier            code                   chosen when                        falls back to
==============  =====================  =================================  ========================
scalar typed    ``scalar.fastpath``    one request whose context the      scalar generic: per
                                       schema-directed parser made        node, per policy (a
                                       (``PreparedRequest.checked``)      leaf that raised), per
                                                                          request (its context
                                                                          binding failed)
scalar generic  ``scalar.program``     every other single request         nothing: every type is
                                                                          checked at run time
batch emit      ``batch.emit``         a batch; per policy and batch      batch closures, for
                                       signature (the leaves' kinds)      that signature
batch closures  ``batch.closures``     the emitter declined the policy    batch rows
                                       (or that signature's kinds)
batch rows      ``batch.program``      the closures declined the policy   nothing: the policy's
                                                                          scalar generic test
                                                                          per row
(errored rows)  ``batch.result``       a batch row some policy errored    -- (not counted: the
                                       on: its errors computed again by   batch tier decided)
                                       the generic scalar program, for
                                       Cedar's exact messages
==============  =====================  =================================  ========================

On Cedar's corpus (3,987 policies, 31,730 requests) 3,984 policies are emitted, 3 go to
the closures, none to the rows; the bundled trading set is emitted whole. To tell a failing
backend from the others, ``compile_policies(..., batch_tiers=("closures", "rows"))`` (or
``tradeswarm policy test --batch-tiers``) limits the batch tiers. Generated source carries
``# policy <id>`` comments and is registered with ``linecache``, so a traceback through it
shows its lines.
"""

from tradeswarm.policy.compiled import CompiledPolicySet, compile_policies
from tradeswarm.policy.decision import (
    Decision,
    Outcome,
    PolicyEngine,
    PolicyError,
    Response,
    derive_outcome,
)
from tradeswarm.policy.entities import EntityStore, prepare_entities
from tradeswarm.policy.loader import PolicyLoadError
from tradeswarm.policy.requests import PreparedRequest

__all__ = [
    "CompiledPolicySet",
    "Decision",
    "EntityStore",
    "Outcome",
    "PolicyEngine",
    "PolicyError",
    "PolicyLoadError",
    "PreparedRequest",
    "Response",
    "compile_policies",
    "derive_outcome",
    "prepare_entities",
]
