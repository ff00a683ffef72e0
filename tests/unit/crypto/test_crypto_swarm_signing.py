"""The demo swarm signs what must never be repudiated, and its registry verifies every one."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

from tradeswarm.audit.anchor import demo_anchor
from tradeswarm.audit.charter import check_charter, registry_of_charter
from tradeswarm.crypto import NON_REPUDIABLE, SigningPolicy, verify_envelope
from tradeswarm.crypto.keys import Algorithm
from tradeswarm.crypto.signing import decode_signature
from tradeswarm.model.envelope import decode_envelope
from tradeswarm.model.messages import SwarmCharter
from tradeswarm.store import Store
from tradeswarm.system.agents import AGENTS
from tradeswarm.system.config import SwarmConfig
from tradeswarm.system.demo import run_demo
from tradeswarm.system.identities import SwarmIdentities


def test_demo_log_signed_by_each_author_and_verified_by_the_swarm_registry(tmp_path: Path) -> None:
    config = SwarmConfig()
    db = tmp_path / "swarm.sqlite"
    lines: list[str] = []
    asyncio.run(run_demo(db, config, lines.append, until="11:00"))
    registry = SwarmIdentities.for_swarm(AGENTS, config.operator.approver, SigningPolicy()).registry
    store = Store.open(db)
    try:
        envs = [decode_envelope(row.body) for row in store.iter_events()]
    finally:
        store.close()
    signed = [e for e in envs if e.type in NON_REPUDIABLE]
    assert {e.type for e in signed} >= {
        "TradeIntent",
        "RiskDecision",
        "OrderUpdated",
        "FillReceived",
        "OversightRequested",
        "OversightDecided",
    }
    for env in signed:
        got = verify_envelope(env, registry, SigningPolicy())
        assert got.principal == env.sender and got.algorithm is Algorithm.ED25519
    charters = [e for e in envs if isinstance(e.payload, SwarmCharter)]
    assert len(charters) == 1 and envs[0] == charters[0]  # the first entry of the log
    assert check_charter(charters[0], demo_anchor().charter_keys()) is None
    assert registry_of_charter(charters[0].payload).to_json() == registry.to_json()  # type: ignore[arg-type]
    others = [e for e in envs if e.type not in NON_REPUDIABLE and e not in charters]
    assert others and all(e.signature is None for e in others)
    story = "\n".join(lines)  # the story stays byte-identical: it prints no signature bytes
    for env in [*signed, *charters]:
        raw = decode_signature(env.signature or b"").sig  # per message or a burst root
        assert base64.b64encode(raw).decode()[:24] not in story and raw.hex()[:24] not in story
