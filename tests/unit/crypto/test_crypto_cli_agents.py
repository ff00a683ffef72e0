"""`tradeswarm agents provision|list|rotate|revoke` on the shipped example swarm."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tradeswarm.cli.main import app
from tradeswarm.crypto import KeyRegistry, verify
from tradeswarm.crypto.keys import Algorithm
from tradeswarm.crypto.keystore import open_keystore
from tradeswarm.crypto.provision import load_swarm_spec, parse_swarm_spec

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "swarm.yaml"
SEED_FIVE = [
    ("market-analyzer-01", "market-analyzer"),
    ("risk-manager-01", "risk-manager"),
    ("trading-agent-01", "trading-agent"),
    ("order-executor-01", "order-executor"),
    ("compliance-agent-01", "compliance-agent"),
]
ENV = {"TS_TEST_PASS": "a long test passphrase"}


def _run(*args: object) -> tuple[int, str]:
    result = CliRunner().invoke(app, [str(a) for a in args], env=ENV, catch_exceptions=False)
    return result.exit_code, result.output


@pytest.fixture
def keystore(tmp_path: Path) -> Path:
    code, out = _run(
        "agents", "provision", "--batch", EXAMPLE, "--keystore", tmp_path / "keys",
        "--passphrase-env", "TS_TEST_PASS", "--scrypt-n", 4096,
    )  # fmt: skip
    assert code == 0, out
    assert "provisioned 9 identities" in out  # the seed's five, desk, human, log, witness
    return tmp_path / "keys"


def test_provision_writes_encrypted_keys_and_a_registry_of_the_seeds_five(keystore: Path) -> None:
    registry = KeyRegistry.load(keystore / "registry.json")
    for name, role in SEED_FIVE:
        identity = registry.get(name)
        assert identity.role == role
        assert sorted(k.algorithm for k in identity.keys) == sorted(Algorithm)
        assert (keystore / f"{name}.key").exists()
    loaded = open_keystore(keystore, ENV["TS_TEST_PASS"]).load("risk-manager-01")
    sig = loaded.mldsa87.sign(b"risk decision")
    key = registry.get("risk-manager-01").current(Algorithm.MLDSA87)
    assert key is not None and verify(Algorithm.MLDSA87, key.public_key, sig, b"risk decision")
    code, out = _run("agents", "list", "--keystore", keystore, "--json")
    assert code == 0 and len(json.loads(out)["identities"]) == 9


def test_rotate_then_revoke_keep_history(keystore: Path) -> None:
    before = KeyRegistry.load(keystore / "registry.json").get("trading-agent-01")
    code, out = _run("agents", "rotate", "trading-agent-01", "--keystore", keystore,
                     "--passphrase-env", "TS_TEST_PASS")  # fmt: skip
    assert code == 0, out
    after = KeyRegistry.load(keystore / "registry.json").get("trading-agent-01")
    assert len(after.keys) == 6
    old_ids = {k.key_id for k in before.keys}
    assert all((k.retired_at_ns is not None) == (k.key_id in old_ids) for k in after.keys)
    code, out = _run("agents", "revoke", "compliance-agent-01", "--keystore", keystore,
                     "--passphrase-env", "TS_TEST_PASS")  # fmt: skip
    assert code == 0, out
    revoked = KeyRegistry.load(keystore / "registry.json").get("compliance-agent-01")
    assert revoked.revoked_at_ns is not None


def test_refusals_name_the_problem_and_change_nothing(keystore: Path, tmp_path: Path) -> None:
    registry = (keystore / "registry.json").read_bytes()
    code, out = _run("agents", "provision", "--batch", EXAMPLE, "--keystore", keystore,
                     "--passphrase-env", "TS_TEST_PASS")  # fmt: skip
    assert code == 2 and "already provisioned" in out
    ENV["TS_WRONG"] = "not the passphrase"
    code, out = _run("agents", "rotate", "trading-agent-01", "--keystore", keystore,
                     "--passphrase-env", "TS_WRONG")  # fmt: skip
    assert code == 2 and "does not open this keystore" in out
    code, out = _run("agents", "provision", "--batch", EXAMPLE, "--keystore", keystore,
                     "--passphrase-env", "TS_UNSET_VARIABLE")  # fmt: skip
    assert code == 2 and "TS_UNSET_VARIABLE" in out
    assert (keystore / "registry.json").read_bytes() == registry
    bad = tmp_path / "bad.yaml"
    bad.write_text("agents:\n  - name: x-01\n    type: quant-wizard\n")
    code, out = _run("agents", "provision", "--batch", bad, "--keystore", tmp_path / "k2",
                     "--passphrase-env", "TS_TEST_PASS", "--scrypt-n", 1000)  # fmt: skip
    assert code == 2 and "scrypt.n" in out
    code, out = _run("agents", "provision", "--batch", bad, "--keystore", tmp_path / "k2",
                     "--passphrase-env", "TS_TEST_PASS", "--scrypt-n", 4096)  # fmt: skip
    assert code == 2 and "agents[0].type" in out and "quant-wizard" in out
    assert not (tmp_path / "k2").exists()


def test_example_file_describes_the_seeds_five_agents() -> None:
    spec = load_swarm_spec(EXAMPLE)
    assert [(a.name, a.type) for a in spec.agents][:5] == SEED_FIVE


SEED_STYLE = """\
agents:
  - {type: market-analyzer, name: a-1, capabilities: [sentiment, technical]}
  - {type: risk-manager, name: r-1, limits: {max_position: $1_000_000, max_trade: 150000}}
  - {type: trading-agent, name: t-1, strategy: momentum}
  - {type: order-executor, name: e-1, venues: [NASDAQ, NYSE]}
  - {type: compliance-agent, name: c-1, rules: [wash-trading]}
"""


def test_a_seed_style_file_with_its_descriptive_fields_still_loads() -> None:
    spec = parse_swarm_spec(SEED_STYLE)  # accepted for the seed's files; nothing reads them
    assert [a.name for a in spec.agents] == ["a-1", "r-1", "t-1", "e-1", "c-1"]
    assert spec.agents[1].limits == {"max_position": "$1_000_000", "max_trade": 150000}
