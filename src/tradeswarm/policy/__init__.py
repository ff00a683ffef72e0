"""Cedar policies compiled for the trading hot path: scalar and batch evaluators.

``compile_policies(text, schema)`` parses and validates with cedarpy (never a second
parser) and returns a ``CompiledPolicySet``: a generated Python evaluator for one request
(``is_authorized``) and a numpy-vectorized one for many (``is_authorized_batch``), both
giving Cedar's exact decision, reasons and errors. ``ReferenceEngine`` is cedarpy itself.
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
