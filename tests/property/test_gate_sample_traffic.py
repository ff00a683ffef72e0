"""On the trading set's sample traffic, the compiled engine answers exactly as cedarpy."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tradeswarm.risk.engines import make_engine
from tradeswarm.risk.limits import EngineKind
from tradeswarm.risk.policyset import load_bundle, sample_entities, sample_requests

BUNDLE = load_bundle()
ENGINES = {kind: make_engine(kind, BUNDLE) for kind in EngineKind}
PREPARED = {kind: prepare(sample_entities()) for kind, (_, prepare) in ENGINES.items()}


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_gate_engines_agree_on_sample_traffic(seed: int) -> None:
    requests = sample_requests(40, seed)
    answers = {
        kind: [engine.is_authorized(r, PREPARED[kind]) for r in requests]
        for kind, (engine, _) in ENGINES.items()
    }
    for compiled, reference in zip(
        answers[EngineKind.COMPILED], answers[EngineKind.CEDARPY], strict=True
    ):
        assert (compiled.decision, compiled.reasons, compiled.outcome) == (
            reference.decision,
            reference.reasons,
            reference.outcome,
        )
        assert compiled.error_ids == reference.error_ids == ()


def test_sample_traffic_is_deterministic_and_exercises_every_policy() -> None:
    assert sample_requests(300, 5) == sample_requests(300, 5)
    engine, _ = ENGINES[EngineKind.CEDARPY]
    fired = {
        BUNDLE.rule_name(pid)
        for r in sample_requests(3000, 1)
        for pid in engine.is_authorized(r, PREPARED[EngineKind.CEDARPY]).reasons
    }
    assert fired >= {a["id"] for a in BUNDLE.annotations.values()} - {
        "value_at_risk",
        "concentration",
    }
