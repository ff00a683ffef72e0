"""The CLI on bad input: exit 2, one clear line naming what is wrong, and nothing created;
and what a human's commands do: they only queue a signed envelope in the swarm's inbox,
which the swarm's gate checks and logs when the demo next runs a bar on the store."""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tradeswarm.cli.main import app
from tradeswarm.crypto import Algorithm, KeyRegistry, SigningPolicy, decode_block, verify_envelope
from tradeswarm.crypto.provision import demo_identities
from tradeswarm.model.enums import OversightStatus
from tradeswarm.model.envelope import Envelope, decode_envelope
from tradeswarm.model.messages import (
    EnvelopeRejected,
    KillSwitchActivated,
    OversightDecided,
    TradingResumed,
)


def cli(*args: str | Path) -> Any:
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def _status(db: Path) -> dict[str, Any]:
    result = cli("status", "--db", db, "--json")
    assert result.exit_code == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


@pytest.fixture(scope="module")
def morning(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store that traded until 09:29, with one pending oversight request."""
    db = tmp_path_factory.mktemp("morning") / "swarm.sqlite"
    result = cli("demo", "--db", db, "--until", "09:29")
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


def _copy(src: Path, dst: Path) -> Path:
    """A copy of a store with its broker and witness files, to change without touching src."""
    for suffix in ("", ".broker", ".witness.json"):
        if Path(f"{src}{suffix}").exists():
            Path(f"{dst}{suffix}").write_bytes(Path(f"{src}{suffix}").read_bytes())
    return dst


def _inbox(db: Path) -> list[bytes]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return [row[0] for row in conn.execute("SELECT wire FROM inbox ORDER BY seq")]


def test_killswitch_commands_need_a_key_the_swarm_knows_and_only_queue(
    morning: Path, tmp_path: Path
) -> None:
    db = _copy(morning, tmp_path / "ks.sqlite")
    keyless = cli("killswitch", "activate", "--db", db, "--as", "bob", "--reason", "drill")
    assert keyless.exit_code == 2
    assert "--keystore" in keyless.stderr and "--demo-key" in keyless.stderr
    stranger = cli("killswitch", "activate", "--db", db, "--as", "bob", "--demo-key")
    assert stranger.exit_code == 2
    assert "human:bob" in stranger.stderr and "unknown key" in stranger.stderr
    for who in ("carol", "bob"):
        resume = cli("killswitch", "resume", "--db", db, "--as", who, "--demo-key")
        assert resume.exit_code == 2
        assert f"human:{who}" in resume.stderr and "nothing was sent" in resume.stderr
    assert _inbox(db) == []

    human = ("--as", "jane.doe@desk", "--demo-key")  # the demo's human, in its registry
    on = cli("killswitch", "activate", "--db", db, *human, "--reason", "drill")
    assert on.exit_code == 0, on.stderr
    assert "a signed KillSwitchActivated (ed25519 key" in on.stdout
    assert "is in the swarm's inbox (#1)" in on.stdout
    assert _status(db)["killswitch"] is False  # queued: the swarm applies it at its next bar
    (wire,) = _inbox(db)
    env = decode_envelope(wire)
    assert env.sender == "human:jane.doe@desk"
    assert isinstance(env.payload, KillSwitchActivated) and env.payload.reason == "drill"
    assert verify_envelope(env, _demo_human_registry()).principal == "human:jane.doe@desk"


def _demo_human_registry() -> KeyRegistry:
    """jane's public keys derived from the demo's public seed: not read from the store."""
    (jane,) = demo_identities([("jane.doe@desk", "human")])
    return KeyRegistry([jane.public()])


def _log(db: Path) -> list[Envelope]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return [decode_envelope(r[0]) for r in conn.execute("SELECT body FROM events ORDER BY seq")]


def _orders(db: Path) -> list[tuple[str, str]]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        rows = conn.execute("SELECT client_order_id, state FROM orders ORDER BY client_order_id")
        return rows.fetchall()


def _verified_clean(db: Path) -> None:
    verify = cli("audit", "verify", "--all", "--db", db, "--demo-keys")
    assert verify.exit_code == 0, verify.stdout + verify.stderr
    assert "every table: clean" in verify.stdout


@pytest.mark.slow
def test_a_queued_kill_switch_stops_the_resumed_day_and_a_queued_resume_clears_it(
    morning: Path, tmp_path: Path
) -> None:
    db = _copy(morning, tmp_path / "ks.sqlite")
    before = _orders(db)
    human = ("--as", "jane.doe@desk", "--demo-key")
    assert cli("killswitch", "activate", "--db", db, *human, "--reason", "drill").exit_code == 0

    day = cli("demo", "--db", db)
    assert day.exit_code == 0, day.stderr
    assert "ORDER " not in day.stdout  # nothing new reached the broker after the activation
    assert "kill_switch: kill switch is active" in day.stdout
    assert "end-of-day compliance summary" in day.stdout
    assert _orders(db) == before
    assert _status(db)["killswitch"] is True
    (stop,) = [e for e in _log(db) if isinstance(e.payload, KillSwitchActivated)]
    assert stop.sender == "human:jane.doe@desk"

    resume = cli("killswitch", "resume", "--db", db, *human)
    assert resume.exit_code == 0, resume.stderr
    assert "is in the swarm's inbox" in resume.stdout
    assert _status(db)["killswitch"] is True  # queued, not applied
    assert cli("demo", "--db", db).exit_code == 0  # the finished day applies it at its close
    assert _status(db)["killswitch"] is False
    (resumed,) = [e for e in _log(db) if isinstance(e.payload, TradingResumed)]
    assert resumed.sender == "human:jane.doe@desk"
    assert verify_envelope(resumed, _demo_human_registry()).principal == "human:jane.doe@desk"
    assert _orders(db) == before
    _verified_clean(db)


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


def test_an_answer_without_a_key_the_swarm_knows_queues_nothing(morning: Path) -> None:
    rid = _request_id(morning)
    for verb in ("approve", "deny"):
        keyless = cli("oversight", verb, rid[:8], "--as", "jane.doe@desk", "--db", morning)
        assert keyless.exit_code == 2
        assert "--keystore" in keyless.stderr and "--demo-key" in keyless.stderr
        stranger = cli("oversight", verb, rid[:8], "--as", "alice", "--db", morning, "--demo-key")
        assert stranger.exit_code == 2
        assert "human:alice" in stranger.stderr and "nothing was sent" in stranger.stderr
    assert _inbox(morning) == []
    assert _pending(morning) == [(rid, "PENDING")]


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


def _request_id(db: Path) -> str:
    (rid,) = [rid for rid, status in _pending(db) if status == "PENDING"]
    return str(rid)


def _answers(db: Path, rid: str) -> list[Envelope]:
    return [
        e
        for e in _log(db)
        if isinstance(e.payload, OversightDecided) and str(e.payload.request_id) == rid
    ]


@pytest.mark.slow
def test_an_approval_queued_on_a_stopped_demo_fills_when_the_day_resumes(
    morning: Path, tmp_path: Path
) -> None:
    db = _copy(morning, tmp_path / "approved.sqlite")
    rid = _request_id(db)
    approved = cli("oversight", "approve", rid[:8], "--as", "jane.doe@desk", "--db", db,
                   "--demo-key", "--note", "checked by hand")  # fmt: skip
    assert approved.exit_code == 0, approved.stderr
    assert f"APPROVED {rid} by jane.doe@desk: a signed OversightDecided (ed25519 key" in (
        approved.stdout
    )
    assert "is in the swarm's inbox (#1)" in approved.stdout
    assert _pending(db) == [(rid, "PENDING")]  # queued: nothing decided yet

    day = cli("demo", "--db", db)
    assert day.exit_code == 0, day.stderr
    short = rid[:8]
    assert f'👤 APPROVED by jane.doe@desk request {short}: "checked by hand"' in day.stdout
    assert f"✓ PERMIT (approved by jane.doe@desk) intent {short}" in day.stdout
    assert f"ORDER ts-{short}" in day.stdout
    assert (f"ts-{short}", "FILLED") in [(c[: len(short) + 3], s) for c, s in _orders(db)]
    (answer,) = _answers(db, rid)  # the scripted human found it decided and kept quiet
    assert answer.sender == "human:jane.doe@desk"
    assert isinstance(answer.payload, OversightDecided)
    assert (answer.payload.status, answer.payload.notes) == (
        OversightStatus.APPROVED, "checked by hand",
    )  # fmt: skip
    assert verify_envelope(answer, _demo_human_registry()).principal == "human:jane.doe@desk"
    assert answer.ts_ns == _cursor_of(morning)  # signed at the store's time, as queued
    _verified_clean(db)


@pytest.mark.slow
def test_a_second_answer_is_told_as_ignored_and_changes_nothing(
    morning: Path, tmp_path: Path
) -> None:
    db = _copy(morning, tmp_path / "twice.sqlite")
    rid = _request_id(db)
    for verb, note in (("approve", "yes"), ("deny", "no")):
        sent = cli("oversight", verb, rid[:8], "--as", "jane.doe@desk", "--db", db,
                   "--demo-key", "--note", note)  # fmt: skip
        assert sent.exit_code == 0, sent.stderr
    day = cli("demo", "--db", db)
    assert day.exit_code == 0, day.stderr
    short = rid[:8]
    assert f'👤 APPROVED by jane.doe@desk request {short}: "yes"' in day.stdout
    assert "(ignored: the request was already decided, or the answer did not fit) 👤 DENIED" in (
        day.stdout
    )
    assert (rid, "APPROVED") in _pending(db)  # the first answer moved it; the second did not
    assert f"✓ PERMIT (approved by jane.doe@desk) intent {short}" in day.stdout
    _verified_clean(db)


def _cursor_of(db: Path) -> int:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        (value,) = conn.execute("SELECT value FROM meta WHERE key = 'replay.cursor_ns'").fetchone()
    return int(value)


@pytest.mark.slow
def test_a_charter_asking_for_ml_dsa_makes_the_cli_sign_the_approval_with_it(
    tmp_path: Path,
) -> None:
    config = tmp_path / "pq.toml"
    config.write_text('[signing]\nalgorithms = { OversightDecided = "ml-dsa-87" }\n')
    db = tmp_path / "pq.sqlite"
    assert cli("demo", "--db", db, "--until", "09:29", "--config", config).exit_code == 0
    rid = _request_id(db)
    approved = cli("oversight", "approve", rid[:8], "--as", "jane.doe@desk", "--db", db,
                   "--demo-key", "--note", "post-quantum")  # fmt: skip
    assert approved.exit_code == 0, approved.stderr
    assert "a signed OversightDecided (ml-dsa-87 key" in approved.stdout

    day = cli("demo", "--db", db, "--config", config)
    assert day.exit_code == 0, day.stderr
    assert f"✓ PERMIT (approved by jane.doe@desk) intent {rid[:8]}" in day.stdout
    (answer,) = _answers(db, rid)
    assert isinstance(answer.payload, OversightDecided)
    assert answer.payload.notes == "post-quantum"
    assert answer.signature is not None and answer.payload.human_signature is not None
    assert decode_block(answer.signature).alg == "ml-dsa-87"
    assert decode_block(answer.payload.human_signature).alg == "ml-dsa-87"
    policy = SigningPolicy(algorithms={"OversightDecided": Algorithm.MLDSA87})
    assert verify_envelope(answer, _demo_human_registry(), policy).algorithm == "ml-dsa-87"
    _verified_clean(db)


@pytest.mark.slow
def test_an_approval_tampered_in_the_inbox_is_refused_at_the_gate_and_logged(
    morning: Path, tmp_path: Path
) -> None:
    db = _copy(morning, tmp_path / "tampered.sqlite")
    rid = _request_id(db)
    queued = cli("oversight", "approve", rid[:8], "--as", "jane.doe@desk", "--db", db,
                 "--demo-key", "--note", "size ok")  # fmt: skip
    assert queued.exit_code == 0, queued.stderr
    (wire,) = _inbox(db)
    sent = decode_envelope(wire)
    at = wire.index(b'"notes":"size ok"') + len(b'"notes":"')
    flipped = wire[:at] + bytes([wire[at] ^ 0x20]) + wire[at + 1 :]  # "size ok" -> "Size ok"
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("UPDATE inbox SET wire = ?", (flipped,))

    day = cli("demo", "--db", db)
    assert day.exit_code == 0, day.stderr
    log = _log(db)
    (rejected,) = [e.payload for e in log if isinstance(e.payload, EnvelopeRejected)]
    assert (rejected.msg_id, rejected.sender) == (sent.msg_id, "human:jane.doe@desk")
    assert rejected.reason == "signature does not verify"
    assert rejected.envelope_sha256 == hashlib.sha256(flipped).hexdigest()
    notes = [e.payload.notes for e in _answers(db, rid)]  # type: ignore[union-attr]
    assert notes == ["momentum confirmed, size acceptable"]  # only the scripted human's
    assert f'request {rid[:8]}: "Size ok"' not in day.stdout
    _verified_clean(db)


def test_audit_verify_without_a_trust_anchor_exits_2_naming_the_options(
    morning: Path, tmp_path: Path
) -> None:
    db = _copy(morning, tmp_path / "anchorless.sqlite")
    before = sorted(p.name for p in tmp_path.iterdir())
    result = cli("audit", "verify", "--all", "--db", db)
    assert result.exit_code == 2
    assert "no trust anchor" in result.stderr
    for option in ("--trust-state", "--log-key", "--witness-key", "--demo-keys",
                   "--trust-on-first-use"):  # fmt: skip
        assert option in result.stderr
    assert "clean" not in result.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == before
