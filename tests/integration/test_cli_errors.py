"""The CLI on bad input: exit 2, one clear line naming what is wrong, and nothing created."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tradeswarm.cli.main import app


def cli(*args: str | Path) -> Any:
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def _status(db: Path) -> dict[str, Any]:
    result = cli("status", "--db", db, "--json")
    assert result.exit_code == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


@pytest.fixture(scope="module")
def morning(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store that traded until 10:29, with one pending oversight request."""
    db = tmp_path_factory.mktemp("morning") / "swarm.sqlite"
    result = cli("demo", "--db", db, "--until", "10:29")
    assert result.exit_code == 0, result.stderr
    return db


def test_status_on_a_missing_store_exits_2_naming_the_path(tmp_path: Path) -> None:
    db = tmp_path / "missing.sqlite"
    result = cli("status", "--db", db)
    assert result.exit_code == 2
    assert str(db) in result.stderr
    assert "no such file" in result.stderr
    assert not db.exists()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("toml", "field", "value"),
    [
        ("bogus_key = 1\n", "bogus_key", "1"),
        ("[risk]\nno_such_limit = 3\n", "no_such_limit", "3"),
        ('initial_cash = "abc"\n', "initial_cash", "abc"),
        ('seed = "seven"\n', "seed", "seven"),
        ("initial_cash = -5\n", "initial_cash", "-5"),
        ('initial_cash = "NaN"\n', "initial_cash", "NaN"),
        ("initial_cash = nan\n", "initial_cash", "NaN"),
        ("oversight_timeout_s = -5\n", "oversight_timeout_s", "-5"),
        ("[broker]\nfee_bps = -1\n", "fee_bps", "-1"),
        ("[broker]\nparticipation = 2\n", "participation", "2"),
        ('[signing]\ndefault_algorithm = "rsa"\n', "signing.default_algorithm", "rsa"),
        ('[signing]\nsigned_types = ["Nope"]\n', "signing.signed_types", "Nope"),
        (
            '[signing.algorithms]\nOversightDecided = "ml-kem-768"\n',
            "signing.algorithms.OversightDecided",
            "ml-kem-768",
        ),
        ("[signing]\nalgorithm = 1\n", "signing.algorithm", "1"),
        ("[identities]\ndemo = false\n", "identities.keystore", "None"),
        ('[identities]\ndemo = true\nkeystore = "k"\n', "identities.demo", "True"),
        (
            '[identities]\nkeystore = "k"\npassphrase_env = "TS_TEST_UNSET_VAR"\n',
            "identities.passphrase_env",
            "TS_TEST_UNSET_VAR",
        ),
        ('[identities]\npassphrase_env = "not a var"\n', "identities.passphrase_env", "not a var"),
        ('[trader]\nsizing = "martingale"\n', "trader.sizing", "martingale"),
    ],
)
def test_demo_with_a_bad_config_exits_2_and_creates_nothing(
    tmp_path: Path, toml: str, field: str, value: str
) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(toml, encoding="utf-8")
    db = tmp_path / "swarm.sqlite"
    result = cli("demo", "--db", db, "--config", config)
    assert result.exit_code == 2, result.stdout
    assert field in result.stderr
    assert value in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml"]


def test_demo_with_a_missing_config_file_exits_2(tmp_path: Path) -> None:
    result = cli("demo", "--db", tmp_path / "s.sqlite", "--config", tmp_path / "nope.toml")
    assert result.exit_code == 2
    assert "nope.toml" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_demo_with_invalid_toml_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "broken.toml"
    config.write_text("initial_cash = = 3\n", encoding="utf-8")
    result = cli("demo", "--db", tmp_path / "s.sqlite", "--config", config)
    assert result.exit_code == 2
    assert "broken.toml" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.toml"]


@pytest.mark.parametrize("until", ["25:99", "noon", "12:61", ""])
def test_demo_with_a_bad_until_exits_2_naming_it(tmp_path: Path, until: str) -> None:
    db = tmp_path / "swarm.sqlite"
    result = cli("demo", "--db", db, "--until", until)
    assert result.exit_code == 2
    assert "--until" in result.stderr
    assert repr(until) in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_killswitch_activate_then_resume_as_a_human(morning: Path, tmp_path: Path) -> None:
    db = tmp_path / "ks.sqlite"
    for suffix in ("", ".broker"):
        Path(f"{db}{suffix}").write_bytes(Path(f"{morning}{suffix}").read_bytes())
    assert _status(db)["killswitch"] is False

    on = cli("killswitch", "activate", "--db", db, "--as", "bob", "--reason", "drill")
    assert on.exit_code == 0, on.stderr
    assert "kill switch ACTIVE" in on.stdout
    assert _status(db)["killswitch"] is True
    twice = cli("killswitch", "activate", "--db", db, "--as", "bob")
    assert twice.exit_code == 0
    assert "already active" in twice.stdout
    assert _status(db)["killswitch"] is True

    keyless = cli("killswitch", "resume", "--db", db, "--as", "carol")
    assert keyless.exit_code == 2
    assert "--keystore" in keyless.stderr and "--demo-key" in keyless.stderr
    stranger = cli("killswitch", "resume", "--db", db, "--as", "carol", "--demo-key")
    assert stranger.exit_code == 2
    assert "human:carol" in stranger.stderr and "unknown key" in stranger.stderr
    assert _status(db)["killswitch"] is True  # neither changed anything

    human = ("--as", "jane.doe@desk", "--demo-key")  # the demo's human, in its registry
    off = cli("killswitch", "resume", "--db", db, *human)
    assert off.exit_code == 0, off.stderr
    assert "trading resumed" in off.stdout
    assert _status(db)["killswitch"] is False
    again = cli("killswitch", "resume", "--db", db, *human)
    assert again.exit_code == 0
    assert "was not active" in again.stdout
    assert _status(db)["killswitch"] is False
    _assert_resume_signed_by_jane(db)


def _assert_resume_signed_by_jane(db: Path) -> None:
    from tradeswarm.audit.order_check import registry_of
    from tradeswarm.model.messages import TradingResumed
    from tradeswarm.oversight.service import last_command, verify_command
    from tradeswarm.store import Store

    store = Store.open(db)
    try:
        command, registry = last_command(store), registry_of(store)
    finally:
        store.close()
    assert command is not None and registry is not None
    assert isinstance(command.command, TradingResumed)
    assert verify_command(command, registry).principal == "human:jane.doe@desk"


def test_killswitch_needs_a_name_and_an_existing_store(tmp_path: Path) -> None:
    missing = tmp_path / "none.sqlite"
    result = cli("killswitch", "activate", "--db", missing, "--as", "bob")
    assert result.exit_code == 2
    assert str(missing) in result.stderr
    assert not missing.exists()
    no_name = cli("killswitch", "resume", "--db", missing)
    assert no_name.exit_code == 2
    assert "--as" in no_name.stderr


def _pending(db: Path) -> list[tuple[str, str]]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return conn.execute("SELECT request_id, status FROM oversight_requests").fetchall()


@pytest.mark.parametrize(
    ("prefix", "problem"),
    [
        ("", "invalid request id prefix"),
        ("   ", "invalid request id prefix"),
        ("%", "invalid request id prefix"),
        ("_", "invalid request id prefix"),
        ("zzzzzzzz", "no such oversight request"),
    ],
)
def test_oversight_decide_with_a_bad_prefix_exits_2(
    morning: Path, prefix: str, problem: str
) -> None:
    before = _pending(morning)
    for verb in ("approve", "deny"):
        result = cli("oversight", verb, prefix, "--as", "alice", "--db", morning)
        assert result.exit_code == 2, result.stdout
        assert problem in result.stderr
        assert repr(prefix) in result.stderr
    assert _pending(morning) == before
    assert [s for _, s in before] == ["PENDING"]


def test_oversight_decide_with_an_ambiguous_prefix_exits_2(morning: Path, tmp_path: Path) -> None:
    db = tmp_path / "two.sqlite"
    Path(db).write_bytes(morning.read_bytes())
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        # A second request whose id shares the first one's opening characters.
        (rid,) = conn.execute("SELECT request_id FROM oversight_requests").fetchone()
        twin = rid[:8] + "-0000-7000-8000-000000000000"
        conn.execute(
            "INSERT INTO oversight_requests SELECT ?, 'twin-intent', decision_id, agent_id, symbol,"
            " trigger_type, trade_amount, status, approver_id, decision_notes, decision_ns,"
            " created_ns, timeout_ns, body FROM oversight_requests WHERE request_id = ?",
            (twin, rid),
        )
    result = cli("oversight", "approve", rid[:4], "--as", "alice", "--db", db)
    assert result.exit_code == 2
    assert "ambiguous" in result.stderr
    assert repr(rid[:4]) in result.stderr
    assert [s for _, s in _pending(db)] == ["PENDING", "PENDING"]


def test_oversight_commands_on_a_missing_store_exit_2(tmp_path: Path) -> None:
    missing = tmp_path / "gone.sqlite"
    for args in (
        ("oversight", "list", "--db", missing),
        ("oversight", "approve", "abc", "--as", "alice", "--db", missing),
        ("oversight", "deny", "abc", "--as", "alice", "--db", missing),
    ):
        result = cli(*args)
        assert result.exit_code == 2
        assert str(missing) in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_oversight_list_when_there_is_nothing_to_list(morning: Path) -> None:
    result = cli("oversight", "list", "--db", morning, "--status", "APPROVED", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == []
    text = cli("oversight", "list", "--db", morning, "--status", "DENIED")
    assert "no oversight requests" in text.stdout


def test_demo_refuses_a_symbol_the_bundled_data_does_not_have(tmp_path: Path) -> None:
    config = tmp_path / "sym.toml"
    config.write_text('symbol = "AAPL"\n')
    db = tmp_path / "x.sqlite"
    result = CliRunner().invoke(app, ["demo", "--db", str(db), "--config", str(config)])
    assert result.exit_code == 2
    assert "symbol='AAPL'" in result.output
    assert not db.exists()


def test_demo_with_a_keystore_that_is_not_there_exits_2_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TS_TEST_PASSPHRASE", "x")
    config = tmp_path / "bad.toml"
    missing = tmp_path / "no-keys"
    config.write_text(
        f'[identities]\nkeystore = "{missing}"\npassphrase_env = "TS_TEST_PASSPHRASE"\n',
        encoding="utf-8",
    )
    result = cli("demo", "--db", tmp_path / "swarm.sqlite", "--config", config)
    assert result.exit_code == 2
    assert str(missing) in result.stderr and "no keystore here" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml"]


def test_a_keystore_without_audit_log_keys_is_refused_before_any_file_is_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Real keys never mix with the demo's: checkpoints need the keystore's audit-log key."""
    monkeypatch.setenv("TS_TEST_PASSPHRASE", "x")
    batch = tmp_path / "swarm.yaml"
    members = [
        ("market-analyzer", "market-analyzer-01"),
        ("trading-agent", "trading-agent-01"),
        ("risk-manager", "risk-manager-01"),
        ("order-executor", "order-executor-01"),
        ("compliance-agent", "compliance-agent-01"),
        ("oversight-desk", "oversight-desk-01"),
        ("human", "jane.doe@desk"),
    ]
    lines = "".join(f"  - {{type: {t}, name: {n}}}\n" for t, n in members)
    batch.write_text("agents:\n" + lines, encoding="utf-8")
    keys = tmp_path / "keys"
    made = cli("agents", "provision", "--batch", batch, "--keystore", keys,
               "--passphrase-env", "TS_TEST_PASSPHRASE", "--scrypt-n", "4096",
               "--valid-from", "2006-01-01")  # fmt: skip
    assert made.exit_code == 0, made.stderr
    config = tmp_path / "keyed.toml"
    config.write_text(
        f'[identities]\nkeystore = "{keys}"\npassphrase_env = "TS_TEST_PASSPHRASE"\n',
        encoding="utf-8",
    )
    result = cli("demo", "--db", tmp_path / "swarm.sqlite", "--config", config)
    assert result.exit_code == 2
    assert "identities.keystore" in result.stderr and "audit-log" in result.stderr
    assert not (tmp_path / "swarm.sqlite").exists()
