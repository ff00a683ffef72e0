"""A day's trace read back off the wire and replayed through a fresh kernel: the same
story byte for byte; a kernel that diverges stops at its first different call; a trace
edited after the fact is refused by the kernel's gate."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest
from typer.testing import CliRunner

from tradeswarm.bus.memory_transport import MemoryTransport
from tradeswarm.bus.rpc import RemoteError
from tradeswarm.cli.main import app
from tradeswarm.core.errors import InvalidInput
from tradeswarm.crypto.keystore import Keystore
from tradeswarm.model.envelope import decode_envelope, encode_envelope
from tradeswarm.model.messages import TradeIntent
from tradeswarm.store import Store
from tradeswarm.system.config import IdentitiesConfig, SwarmConfig, load_config
from tradeswarm.system.demo import run_demo
from tradeswarm.system.role_calls import ANSWER, ENCODER, RoleAnswer
from tradeswarm.system.role_process import RoleProcess
from tradeswarm.system.trace import Trace, TraceStep, keyrings_for, load, record, replay, save

SLOTS = ["analyzer", "trader"]
EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "swarm.yaml"


def _config(**risk: object) -> SwarmConfig:
    base = load_config(None)
    bus = msgspec.structs.replace(base.bus, remote_agents=SLOTS, ack_wait_s=0.3)
    config = msgspec.structs.replace(base, bus=bus)
    if risk:
        config = msgspec.structs.replace(config, risk=msgspec.structs.replace(base.risk, **risk))
    return config


async def _traced_day(config: SwarmConfig, db: Path) -> tuple[list[str], Trace]:
    wire = MemoryTransport(config.bus.transport())
    roles = [RoleProcess(config, slot, wire) for slot in SLOTS]
    stop, out = asyncio.Event(), []
    tasks = [asyncio.create_task(r.server.serve(stop)) for r in roles]
    await run_demo(db, config, out.append, wire=wire)
    stop.set()
    await asyncio.gather(*tasks)
    return [str(x) for x in out], await record(wire, SLOTS, keyrings_for(config), idle_s=0.2)


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], Trace]:
    db = tmp_path_factory.mktemp("traced") / "day.sqlite"
    return asyncio.run(_traced_day(_config(), db))


def _replay(trace: Trace, config: SwarmConfig, db: Path) -> list[str]:
    out: list[str] = []
    asyncio.run(replay(trace, config, db, out.append))
    return [str(x) for x in out]


def test_a_replayed_trace_tells_the_traced_story_byte_for_byte(
    traced: tuple[list[str], Trace], tmp_path: Path
) -> None:
    story, trace = traced
    assert sorted(trace.channels) == ["analyzer", "trader"]
    save(trace, tmp_path / "day.trace")
    assert _replay(load(tmp_path / "day.trace"), _config(), tmp_path / "r.sqlite") == story


def test_a_kernel_that_decides_differently_stops_at_its_first_different_call(
    traced: tuple[list[str], Trace], tmp_path: Path
) -> None:
    _, trace = traced
    stricter = _config(oversight_threshold=Decimal(10_000))
    with pytest.raises(RemoteError, match=r"trader failed on call \d+: TraceDiverged"):
        _replay(trace, stricter, tmp_path / "r.sqlite")


def test_an_edited_trace_is_refused_by_the_kernels_gate(
    traced: tuple[list[str], Trace], tmp_path: Path
) -> None:
    _, trace = traced
    steps = list(trace.channels["trader"])
    k = next(i for i, s in enumerate(steps) if b"TradeIntent" in s.answer)
    answer = ANSWER.decode(steps[k].answer)
    env = decode_envelope(answer.envelopes[0])
    assert isinstance(env.payload, TradeIntent)
    bigger = msgspec.structs.replace(env.payload, quantity=env.payload.quantity * 10)
    edited = encode_envelope(msgspec.structs.replace(env, payload=bigger))
    steps[k] = TraceStep(steps[k].call_sha256, ENCODER.encode(RoleAnswer([edited])))
    forged = msgspec.structs.replace(trace, channels={**trace.channels, "trader": steps})
    with pytest.raises(RemoteError, match="TraceDiverged"):  # what follows it differs
        _replay(forged, _config(), tmp_path / "r.sqlite")
    with Store.open(tmp_path / "r.sqlite") as store:
        refused = [
            decode_envelope(r.body).payload
            for r in store.iter_events()
            if b"EnvelopeRejected" in r.body
        ]
    assert [getattr(p, "reason", None) for p in refused] == ["signature does not verify"]


def test_a_trace_of_other_agents_or_no_trace_is_refused(
    tmp_path: Path, traced: tuple[list[str], Trace]
) -> None:
    _, trace = traced
    only = msgspec.structs.replace(trace, channels={"analyzer": trace.channels["analyzer"]})
    with pytest.raises(InvalidInput, match=r"bus\.remote_agents"):
        _replay(only, _config(), tmp_path / "r.sqlite")
    (tmp_path / "junk.trace").write_bytes(b"not a trace")
    with pytest.raises(InvalidInput, match="not a tradeswarm trace"):
        load(tmp_path / "junk.trace")
    assert not (tmp_path / "r.sqlite").exists()


def test_a_keystore_swarm_in_processes_seals_to_the_audit_logs_key_and_replays(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With real keys (a provisioned keystore, no public seed): the agents' processes
    hold only their own keys, the calls and answers are sealed to the ends and to the
    audit log's identity, and the audit log's key alone reads the day back."""
    monkeypatch.setenv("TS_TEST_PASS", "a long test passphrase")
    keys = tmp_path / "keys"
    provision = [
        "agents", "provision", "--batch", str(EXAMPLE), "--keystore", str(keys),
        "--passphrase-env", "TS_TEST_PASS", "--scrypt-n", "4096", "--valid-from", "2006-01-01",
    ]  # fmt: skip
    done = CliRunner().invoke(app, provision)
    assert done.exit_code == 0, done.output
    identities = IdentitiesConfig(keystore=str(keys), passphrase_env="TS_TEST_PASS")
    config = msgspec.structs.replace(_config(), identities=identities)
    story, trace = asyncio.run(_traced_day(config, tmp_path / "day.sqlite"))
    assert _until_audit(story) == _until_audit(_plain_story())
    auditor = [k for k in keyrings_for(config) if k.principal.startswith("audit-log:")]
    assert len(auditor) == 1  # only the audit log's key is used to read it back
    assert _replay(trace, config, tmp_path / "r.sqlite") == story
    opened: list[str] = []
    real_load = Keystore.load

    def spy(self: Keystore, name: str) -> object:
        opened.append(name)
        return real_load(self, name)

    with monkeypatch.context() as m:  # an agent's process decrypts its own key, no other
        m.setattr(Keystore, "load", spy)
        m.setattr(Keystore, "load_all", lambda self: pytest.fail("load_all in an agent"))
        RoleProcess(config, "trader", MemoryTransport())
    assert opened == ["trading-agent-01"]


def _until_audit(lines: list[str]) -> list[str]:
    return lines[: next(i for i, x in enumerate(lines) if x.startswith("audit verification"))]


def _plain_story() -> list[str]:
    out: list[str] = []
    asyncio.run(run_demo(":memory:", load_config(None), out.append))
    return [str(x) for x in out]
