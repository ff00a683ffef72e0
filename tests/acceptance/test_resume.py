"""Acceptance: a stopped day resumes to the same books; a real human answers a review
through the swarm's inbox; forged answers, queued or written into the tables, move
nothing."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import sqlite3
import uuid
from pathlib import Path

import pytest
from acceptance_kit import books, broker_books, query, run_cli, status_json

from tradeswarm.audit.keys import VerifierKey
from tradeswarm.crypto.keys import key_id_of
from tradeswarm.crypto.registry import KeyRegistry
from tradeswarm.model.envelope import Envelope, decode_envelope
from tradeswarm.model.messages import EnvelopeRejected, OversightDecided

pytestmark = pytest.mark.slow

STATUS_KEYS = ("orders", "open_orders", "fills", "open_positions", "broker_positions", "cash")
TIMED = re.compile(r"\d\d:\d\d:\d\d  ")


def _cursor(db: Path) -> int:
    rows = query(db, "SELECT value FROM meta WHERE key = 'replay.cursor_ns'")
    return int(rows[0][0])


@pytest.mark.parametrize(
    "until",
    [
        "09:29",  # the first review pending: the scripted human answers it after the resume
        "12:00",
    ],
)
def test_stop_then_resume_equals_an_uninterrupted_day(
    full_day: tuple[Path, str], tmp_path: Path, until: str
) -> None:
    full_db, full_output = full_day
    db = tmp_path / "resumed.sqlite"
    first = run_cli("demo", "--db", db, "--until", until)
    assert first.exit_code == 0, first.stderr
    assert f"stopped at {until} as asked" in first.stdout
    assert "end-of-day compliance summary" not in first.stdout
    stop = _cursor(db)
    assert query(db, "SELECT value FROM meta WHERE key = 'replay.done'") == []

    second = run_cli("demo", "--db", db)
    assert second.exit_code == 0, second.stderr
    stopped = dt.datetime.fromtimestamp(stop / 1e9, tz=dt.UTC)
    assert f"{stopped:%H:%M}" <= until
    assert f"(resumed this store after {stopped:%H:%M:%S}" in second.stdout
    assert "end-of-day compliance summary" in second.stdout
    assert _cursor(db) > stop
    # Nothing up to the stop is told (or done) twice.
    told = [line[:8] for line in second.stdout.splitlines() if TIMED.match(line)]
    assert told and min(told) > f"{stopped:%H:%M:%S}"
    summary = full_output[full_output.index("end-of-day compliance summary") :]
    assert summary in second.stdout

    ours, theirs = status_json(db), status_json(full_db)
    assert {k: ours[k] for k in STATUS_KEYS} == {k: theirs[k] for k in STATUS_KEYS}
    assert ours["duplicate_client_order_ids"] == 0
    assert ours["reconciled"] is True
    assert ours["open_orders"] == 0
    assert books(db) == books(full_db)
    assert broker_books(db) == broker_books(full_db)
    log = "SELECT msg_id, body FROM events ORDER BY seq"
    assert query(db, log) == query(full_db, log)
    assert run_cli("audit", "verify", "--all", "--db", db, "--demo-keys").exit_code == 0


def test_resuming_a_finished_day_changes_nothing(
    full_day: tuple[Path, str], tmp_path: Path
) -> None:
    full_db, _ = full_day
    db = tmp_path / "twice.sqlite"
    assert run_cli("demo", "--db", db).exit_code == 0
    before = (books(db), broker_books(db), query(db, "SELECT COUNT(*) FROM events"))
    again = run_cli("demo", "--db", db)
    assert again.exit_code == 0, again.stderr
    assert (books(db), broker_books(db), query(db, "SELECT COUNT(*) FROM events")) == before
    assert books(db) == books(full_db)


SWARM_YAML = """\
agents:
  - {type: market-analyzer, name: market-analyzer-01}
  - {type: trading-agent, name: trading-agent-01}
  - {type: risk-manager, name: risk-manager-01}
  - {type: order-executor, name: order-executor-01}
  - {type: compliance-agent, name: compliance-agent-01}
  - {type: oversight-desk, name: oversight-desk-01}
  - {type: human, name: jane.doe@desk}
  - {type: human, name: alice}
  - {type: audit-log, name: audit-log-01}
  - {type: witness, name: witness-01}
"""
PASS_ENV = "TRADESWARM_TEST_PASSPHRASE"


@pytest.fixture
def keyed_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A keystore provisioned for the swarm and two humans (keys valid from 2006, the day
    the demo replays), and a config that loads the swarm's identities from it."""
    monkeypatch.setenv(PASS_ENV, "correct horse battery staple")
    batch = tmp_path / "swarm.yaml"
    batch.write_text(SWARM_YAML, encoding="utf-8")
    keys = tmp_path / "keys"
    made = run_cli(
        "agents", "provision", "--batch", batch, "--keystore", keys, "--passphrase-env",
        PASS_ENV, "--scrypt-n", "4096", "--valid-from", "2006-01-01",
    )  # fmt: skip
    assert made.exit_code == 0, made.stderr
    config = tmp_path / "swarm.toml"
    config.write_text(
        f'[identities]\nkeystore = "{keys}"\npassphrase_env = "{PASS_ENV}"\n', encoding="utf-8"
    )
    return config


def test_a_real_human_approves_a_pending_review_and_the_resumed_day_applies_it(
    tmp_path: Path, keyed_config: Path
) -> None:
    db = tmp_path / "human.sqlite"
    keys = ("--keystore", tmp_path / "keys", "--passphrase-env", PASS_ENV)
    first = run_cli("demo", "--db", db, "--until", "09:29", "--config", keyed_config)
    assert first.exit_code == 0, first.stderr
    assert "→ HUMAN REVIEW request" in first.stdout
    assert "APPROVED" not in first.stdout
    assert status_json(db)["pending_oversight"] == 1

    listed = run_cli("oversight", "list", "--db", db, "--json")
    assert listed.exit_code == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert len(rows) == 1
    request = rows[0]
    assert request["status"] == "PENDING"
    assert request["approver"] is None
    assert float(request["trade_amount"]) > 100_000
    rid = request["request_id"]
    pending = run_cli("oversight", "list", "--db", db, "--status", "PENDING", "--json")
    assert [r["request_id"] for r in json.loads(pending.stdout)] == [rid]

    demo_key = run_cli("oversight", "approve", rid[:8], "--as", "alice", "--db", db, "--demo-key")
    assert demo_key.exit_code == 2  # the demo's public key is not alice's key in this swarm
    assert "human:alice" in demo_key.stderr and "nothing was sent" in demo_key.stderr

    approved = run_cli(
        "oversight", "approve", rid[:8], "--as", "alice", "--db", db, "--note", "looks right",
        *keys,
    )  # fmt: skip
    assert approved.exit_code == 0, approved.stderr
    assert f"APPROVED {rid} by alice: a signed OversightDecided (ed25519 key" in approved.stdout
    assert "is in the swarm's inbox (#1)" in approved.stdout
    # a second answer, queued after the first: the first one that fits decides
    changed = run_cli(
        "oversight", "deny", rid[:8], "--as", "alice", "--db", db, "--note", "changed my mind",
        *keys,
    )  # fmt: skip
    assert changed.exit_code == 0, changed.stderr
    assert "is in the swarm's inbox (#2)" in changed.stdout

    unknown = run_cli("oversight", "deny", "deadbeef", "--as", "alice", "--db", db, *keys)
    assert unknown.exit_code == 2
    assert "deadbeef" in unknown.stderr
    assert "no such oversight request" in unknown.stderr
    record = query(db, "SELECT status, approver_id, decision_notes FROM oversight_requests")
    assert record == [("PENDING", None, None)]  # queued answers decide nothing by themselves

    resumed = run_cli("demo", "--db", db, "--config", keyed_config)
    assert resumed.exit_code == 0, resumed.stderr
    out = resumed.stdout
    short = rid[:8]
    assert f"👤 APPROVED by alice request {short}" in out
    assert f"✓ PERMIT (approved by alice) intent {short}" in out
    verdicts = query(
        db, "SELECT verdict FROM risk_events WHERE intent_id LIKE ? ORDER BY ts_ns", short + "%"
    )
    assert verdicts == [("REVIEW",), ("PERMIT",)]  # the later denial moved nothing
    assert "jane.doe@desk request " + short not in out  # the scripted human did not re-answer
    assert "👤 APPROVED by jane.doe@desk" in out  # later, the scripted human signs with its key
    order = query(
        db, f"SELECT state, filled_qty FROM orders WHERE client_order_id LIKE 'ts-{short}%'"
    )
    assert len(order) == 1
    assert order[0][0] == "FILLED"
    assert order[0][1] == request["quantity"]
    report = status_json(db)
    assert report["duplicate_client_order_ids"] == 0
    assert report["reconciled"] is True
    assert report["open_orders"] == 0
    decided = (
        "SELECT status, approver_id, decision_notes FROM oversight_requests WHERE request_id = ?"
    )
    assert query(db, decided, rid) == [("APPROVED", "alice", "looks right")]
    answers = [
        (e.sender, e.payload.status)
        for e in _log(db)
        if isinstance(e.payload, OversightDecided) and str(e.payload.request_id) == rid
    ]
    assert answers == [("human:alice", "APPROVED"), ("human:alice", "DENIED")]  # both logged

    anchor = _keystore_anchor(db, tmp_path / "keys")
    verify = run_cli("audit", "verify", "--all", "--db", db, *anchor)
    assert verify.exit_code == 0, verify.stdout + verify.stderr
    chain = run_cli("audit", "verify", f"ts-{short}", "--db", db, *anchor)
    assert chain.exit_code == 0, chain.stdout + chain.stderr
    assert "OversightDecided" in chain.stdout
    assert "✓ human signed  : valid ed25519, key" in chain.stdout
    assert "of human:alice" in chain.stdout


def _log(db: Path) -> list[Envelope]:
    return [decode_envelope(body) for (body,) in query(db, "SELECT body FROM events ORDER BY seq")]


def _keystore_anchor(db: Path, keys: Path) -> list[str]:
    """--log-key/--witness-key options for the keystore's own audit-log and witness keys
    (checked against the keystore's registry, never taken on the store's word)."""
    _assert_checkpoints_signed_by_the_keystore(db, keys)
    registry = KeyRegistry.load(keys / "registry.json")
    options = []
    for (vkey,) in query(db, "SELECT vkey FROM audit_keys"):
        found = registry.lookup(key_id_of(VerifierKey.parse(vkey).public_key))
        assert found is not None
        owner = found.owner.name
        assert owner in ("audit-log-01", "witness-01"), owner
        options += ["--log-key" if owner == "audit-log-01" else "--witness-key", vkey]
    return options


def _assert_checkpoints_signed_by_the_keystore(db: Path, keys: Path) -> None:
    """A keystore swarm's log keys are its audit-log identity's, never the demo's."""
    from tradeswarm.audit.keys import VerifierKey
    from tradeswarm.crypto.keys import key_id_of
    from tradeswarm.crypto.registry import KeyRegistry
    from tradeswarm.system.audit_wiring import demo_log_signers

    registry = KeyRegistry.load(keys / "registry.json")
    logged = [VerifierKey.parse(r[0]) for r in query(db, "SELECT vkey FROM audit_keys")]
    log_keys = [k.public_key for k in logged if k.name == "tradeswarm.local/log"]
    assert len(log_keys) == 2  # Ed25519 and ML-DSA-87
    demo = {s.public_key_bytes() for s in demo_log_signers()}
    for public in log_keys:
        assert public not in demo
        found = registry.lookup(key_id_of(public))
        assert found is not None and found.owner.name == "audit-log-01"


MALLORY_SEED = b"mallory's own seed bytes"


def _stopped_at_the_first_review(db: Path) -> tuple[str, int]:
    """The demo stopped at 09:29 with its first review pending: (request id, store time)."""
    assert run_cli("demo", "--db", db, "--until", "09:29").exit_code == 0
    ((rid, status, cursor),) = query(
        db,
        "SELECT request_id, status, (SELECT value FROM meta WHERE key = 'replay.cursor_ns')"
        " FROM oversight_requests",
    )
    assert status == "PENDING"
    return rid, int(cursor)


def test_an_approval_in_janes_name_signed_with_another_key_is_refused_at_the_gate(
    full_day: tuple[Path, str], tmp_path: Path
) -> None:
    """Someone with write access to the store queues an approval as jane, signed with their
    own key: the gate refuses it (a logged EnvelopeRejected), the real jane (the scripted
    human) answers as she would have, and the books are the uninterrupted day's."""
    from tradeswarm.bus.identity import Identity
    from tradeswarm.bus.topics import Role
    from tradeswarm.crypto import AgentIdentity
    from tradeswarm.oversight.service import answer_request, submit
    from tradeswarm.store import Store

    full_db, _ = full_day
    db = tmp_path / "forged.sqlite"
    rid, now = _stopped_at_the_first_review(db)
    mallory = AgentIdentity.from_seed("jane.doe@desk", "human", MALLORY_SEED, 0)
    store = Store.open(db)
    try:
        jane = Identity("jane.doe@desk", Role.HUMAN)
        forged = answer_request(store, rid, jane, True, "fine", now, signer=mallory.ed25519)
        submit(store, forged)
    finally:
        store.close()

    out = run_cli("demo", "--db", db)
    assert out.exit_code == 0, out.stderr
    log = _log(db)
    (rejected,) = [e.payload for e in log if isinstance(e.payload, EnvelopeRejected)]
    assert (rejected.msg_id, rejected.sender) == (forged.msg_id, "human:jane.doe@desk")
    assert rejected.reason == "unknown key"
    answers = [
        e.payload.notes
        for e in log
        if isinstance(e.payload, OversightDecided) and str(e.payload.request_id) == rid
    ]
    assert answers == ["momentum confirmed, size acceptable"]  # the scripted jane's, not "fine"
    assert books(db) == books(full_db)
    assert broker_books(db) == broker_books(full_db)
    assert run_cli("audit", "verify", "--all", "--db", db, "--demo-keys").exit_code == 0


def test_an_approval_written_straight_into_the_tables_moves_nothing_and_the_verifier_names_it(
    tmp_path: Path,
) -> None:
    """The tables are a projection of the log: an approval written into them (with a human
    signature made with another key) is acted on by nobody, and the verifier, rebuilding
    the tables from the log, names the divergence."""
    from tradeswarm.crypto import AgentIdentity, sign_bytes
    from tradeswarm.model.messages import HUMAN_DECISION_CONTEXT, HumanApproval

    db = tmp_path / "written.sqlite"
    rid, decided_ns = _stopped_at_the_first_review(db)
    answer = HumanApproval(request_id=uuid.UUID(rid), approver="jane.doe@desk",
                           approved=True, decided_ns=decided_ns, notes="fine")  # fmt: skip
    mallory = AgentIdentity.from_seed("jane.doe@desk", "human", MALLORY_SEED, 0)
    block = sign_bytes(HUMAN_DECISION_CONTEXT, answer.signing_bytes(), mallory.ed25519)
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        conn.execute(
            "UPDATE oversight_requests SET status='APPROVED', approver_id='jane.doe@desk',"
            " decision_notes='fine', decision_ns=? WHERE request_id=?",
            (decided_ns, rid),
        )
        conn.execute("INSERT INTO oversight_signatures VALUES (?, ?)", (rid, block))

    out = run_cli("demo", "--db", db)
    assert out.exit_code == 0, out.stderr
    short = rid[:8]
    assert f"PERMIT (approved by jane.doe@desk) intent {short}" not in out.stdout
    assert query(
        db, "SELECT verdict FROM risk_events WHERE intent_id LIKE ? ORDER BY ts_ns", short + "%"
    ) == [("REVIEW",)]
    assert not query(db, f"SELECT 1 FROM orders WHERE client_order_id LIKE 'ts-{short}%'")
    assert not [
        e for e in _log(db)
        if isinstance(e.payload, OversightDecided) and str(e.payload.request_id) == rid
    ]  # fmt: skip
    verify = run_cli("audit", "verify", "--all", "--db", db, "--demo-keys")
    assert verify.exit_code == 1
    assert (
        f"oversight_requests {rid}: column status is 'APPROVED' in the table, 'PENDING' in the log"
        in verify.stdout
    )
    assert "TAMPERED OR DIVERGENT" in verify.stdout
