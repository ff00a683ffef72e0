"""`tradeswarm audit verify`: a clean day verifies against its trust anchor; every kind of
tampering is caught, forged entries by their signatures, rewritten histories by the anchor."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import sqlite3
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import msgspec
import pytest
from typer.testing import CliRunner

from signed_kit import keys_for
from tradeswarm.audit.charter import charter_envelope, make_charter, registry_of_charter
from tradeswarm.audit.demo_keys import DEMO_ORIGIN, demo_log_signers
from tradeswarm.audit.keys import VerifierKey, derived_signer
from tradeswarm.audit.merkle import CompactRange, hash_leaf
from tradeswarm.audit.note import Checkpoint, sign_note, timestamp_line
from tradeswarm.cli.main import app
from tradeswarm.crypto import Algorithm, Signer, sign_envelope
from tradeswarm.crypto.contexts import SigningPolicy
from tradeswarm.model.enums import VERDICT_SEVERITY, Verdict
from tradeswarm.model.envelope import Envelope, decode_envelope, encode_envelope
from tradeswarm.model.messages import (
    FillReceived,
    KillSwitchActivated,
    OrderUpdated,
    RiskDecision,
    SwarmCharter,
)
from tradeswarm.model.portfolio import Fill
from tradeswarm.store import Store
from tradeswarm.store.audit_repo import node_key

pytestmark = pytest.mark.slow

Tamper = Callable[[sqlite3.Connection], None]
DEMO_KEYS = "--demo-keys"
EXECUTOR = "order-executor:order-executor-01"
TRADER = "trading-agent:trading-agent-01"
RISK = "risk-manager:risk-manager-01"
WITNESS = "witness.tradeswarm.local/w1"
SUFFIXES = ("", ".broker", ".witness.json")


def cli(*args: str | Path) -> Any:
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def verify_all(db: Path, *trust: str | Path) -> Any:
    """`audit verify --all` of db under the given trust options."""
    return cli("audit", "verify", "--all", "--db", db, *trust)


_DEMO_DAYS: dict[str, Path] = {}


def demo_day(factory: pytest.TempPathFactory) -> Path:
    """The finished demo day's store, run once per test process and never changed (tests
    change copies of it)."""
    if "day" not in _DEMO_DAYS:
        db = factory.mktemp("demo") / "swarm.sqlite"
        result = cli("demo", "--db", db)
        assert result.exit_code == 0, result.stdout
        _DEMO_DAYS["day"] = db
    return _DEMO_DAYS["day"]


def copy_store(src: Path, dest: Path) -> Path:
    """A private copy of a store with the broker's books and the witness state beside it."""
    for suffix in SUFFIXES:
        Path(f"{dest}{suffix}").write_bytes(Path(f"{src}{suffix}").read_bytes())
    return dest


def witness_file(db: Path) -> Path:
    return Path(f"{db}.witness.json")


def tamper_with(db: Path, tamper: Tamper) -> None:
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        tamper(conn)


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_day(tmp_path_factory)


@pytest.fixture
def copy(day: Path, tmp_path: Path) -> Path:
    return copy_store(day, tmp_path / "copy.sqlite")


def _one(conn: sqlite3.Connection, sql: str, *params: object) -> Any:
    row = conn.execute(sql, params).fetchone()
    assert row is not None, sql
    return row


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


# -- the log and the books ------------------------------------------------------------------


def flip_a_body_byte(conn: sqlite3.Connection) -> None:
    seq, body = _one(conn, "SELECT seq, body FROM events WHERE type = 'FillReceived' LIMIT 1")
    i = body.index(b'"price":"') + len(b'"price":"')
    changed = body[:i] + bytes([body[i] ^ 0x01]) + body[i + 1 :]
    assert len(changed) == len(body) and changed != body
    conn.execute("UPDATE events SET body = ? WHERE seq = ?", (changed, seq))


def delete_a_row(conn: sqlite3.Connection) -> None:
    (total,) = _one(conn, "SELECT COUNT(*) FROM events")
    conn.execute("DELETE FROM events WHERE seq = ?", (total // 2,))


def swap_two_bodies(conn: sqlite3.Connection) -> None:
    a, b = conn.execute("SELECT seq, body FROM events WHERE seq IN (10, 11)").fetchall()
    conn.execute("UPDATE events SET body = ? WHERE seq = ?", (b[1], a[0]))
    conn.execute("UPDATE events SET body = ? WHERE seq = ?", (a[1], b[0]))


def swap_two_whole_rows(conn: sqlite3.Connection) -> None:
    """Reorder: swap every column but seq between two entries (each row stays self-consistent)."""
    cols = "msg_id, type, ts_ns, body, leaf_hash"
    r10 = _one(conn, f"SELECT {cols}, chain_hash FROM events WHERE seq = 10")
    r11 = _one(conn, f"SELECT {cols}, chain_hash FROM events WHERE seq = 11")
    conn.execute("UPDATE events SET msg_id = 'tmp' WHERE seq = 10")
    sets = ", ".join(f"{c.strip()} = ?" for c in cols.split(","))
    conn.execute(f"UPDATE events SET {sets} WHERE seq = 11", (*r10[:-1],))
    conn.execute(f"UPDATE events SET {sets} WHERE seq = 10", (*r11[:-1],))


def insert_a_forged_row(conn: sqlite3.Connection) -> None:
    """A forged row in the middle of the log, with a correct leaf hash of its own."""
    row = _one(conn, "SELECT * FROM events WHERE seq = 20")
    conn.execute("UPDATE events SET seq = seq + 1000000 WHERE seq > 20")
    conn.execute("UPDATE events SET seq = seq - 1000000 + 1 WHERE seq > 1000000")
    env = decode_envelope(row[4])
    forged = msgspec.structs.replace(env, msg_id=uuid.uuid4())
    body = encode_envelope(forged)
    leaf = hash_leaf(body)
    conn.execute(
        "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?)",
        (21, forged.msg_id.bytes, *row[2:4], body, leaf, _sha256(row[6] + leaf)),
    )


def append_a_forged_fill(conn: sqlite3.Connection) -> None:
    """A fill appended at the head with a perfectly valid hash chain: the books betray it."""
    seq, body = _one(
        conn,
        "SELECT seq, body FROM events WHERE type = 'FillReceived' ORDER BY seq DESC LIMIT 1",
    )
    (last_seq, last_hash) = _one(conn, "SELECT seq, chain_hash FROM events ORDER BY seq DESC")
    env = decode_envelope(body)
    assert isinstance(env.payload, FillReceived)
    payload = msgspec.structs.replace(env.payload, fill_id=env.payload.fill_id + "-X")
    forged = msgspec.structs.replace(env, msg_id=uuid.uuid4(), payload=payload)
    new_body = encode_envelope(forged)
    leaf = hash_leaf(new_body)
    row = _one(conn, "SELECT type, ts_ns FROM events WHERE seq = ?", seq)
    conn.execute(
        "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?)",
        (last_seq + 1, forged.msg_id.bytes, *row, new_body, leaf, _sha256(last_hash + leaf)),
    )


def change_a_trade_price(conn: sqlite3.Connection) -> None:
    fill_id, price = _one(conn, "SELECT fill_id, price FROM trades ORDER BY fill_id LIMIT 1")
    conn.execute("UPDATE trades SET price = ? WHERE fill_id = ?", (price + "1", fill_id))


def add_an_unlogged_trade(conn: sqlite3.Connection) -> None:
    conn.execute(
        "INSERT INTO trades SELECT fill_id || '-X', order_id, client_order_id, agent_id, symbol,"
        " side, quantity, price, trade_amount, fee, ts_event FROM trades LIMIT 1"
    )


def change_an_order_state(conn: sqlite3.Connection) -> None:
    (cid,) = _one(conn, "SELECT client_order_id FROM orders WHERE state = 'FILLED' LIMIT 1")
    conn.execute("UPDATE orders SET state = 'CANCELED' WHERE client_order_id = ?", (cid,))


def delete_an_order(conn: sqlite3.Connection) -> None:
    (cid,) = _one(conn, "SELECT client_order_id FROM orders LIMIT 1")
    conn.execute("DELETE FROM orders WHERE client_order_id = ?", (cid,))


def change_a_position(conn: sqlite3.Connection) -> None:
    symbol, qty = _one(conn, "SELECT symbol, quantity FROM positions LIMIT 1")
    conn.execute("UPDATE positions SET quantity = ? WHERE symbol = ?", (str(int(qty) + 1), symbol))


def change_the_cash(conn: sqlite3.Connection) -> None:
    (cash,) = _one(conn, "SELECT cash FROM account")
    conn.execute("UPDATE account SET cash = ?", (cash + "1",))


@pytest.mark.parametrize(
    ("tamper", "says"),
    [
        (flip_a_body_byte, "body does not match its leaf hash (altered entry)"),
        (delete_a_row, "chain hash broken"),
        (swap_two_bodies, "altered entry"),
        (swap_two_whole_rows, "chain hash broken"),
        (insert_a_forged_row, "chain hash broken"),
        (append_a_forged_fill, "-X: in the log, missing from the table (row deleted)"),
        (change_a_trade_price, ": column price is"),
        (add_an_unlogged_trade, "-X: in the table, not in the log (row added)"),
        (change_an_order_state, "column state is 'CANCELED' in the table, 'FILLED' in the log"),
        (delete_an_order, ": in the log, missing from the table (row deleted)"),
        (change_a_position, "positions IDXF: column quantity is"),
        (change_the_cash, "account 1: column cash is"),
    ],
    ids=lambda v: v.__name__ if callable(v) else None,
)
def test_tampering_is_detected(copy: Path, tamper: Tamper, says: str) -> None:
    assert verify_all(copy, DEMO_KEYS).exit_code == 0
    tamper_with(copy, tamper)
    result = verify_all(copy, DEMO_KEYS)
    assert result.exit_code == 1, result.stdout
    assert "TAMPERED OR DIVERGENT" in result.stdout
    assert says in result.stdout
    assert "✗" in result.stdout


def renumber_the_head_entry(conn: sqlite3.Connection) -> None:
    """Leave a gap before the last entry: seq N becomes N + 1 (bodies, hashes, order kept)."""
    conn.execute("UPDATE events SET seq = seq + 1 WHERE seq = (SELECT MAX(seq) FROM events)")


def renumber_every_entry(conn: sqlite3.Connection) -> None:
    """Shift the whole log by one: seq 1..N becomes 2..N+1 (bodies, hashes, order kept)."""
    conn.execute("UPDATE events SET seq = -seq")
    conn.execute("UPDATE events SET seq = 1 - seq")


# The Merkle tree's leaf index is seq - 1: the verifier demands seqs 1..N without gaps
# (found by this test: renumbering the head entry once verified clean).
@pytest.mark.parametrize("tamper", [renumber_the_head_entry, renumber_every_entry])
def test_renumbered_entries_are_detected(copy: Path, tamper: Tamper) -> None:
    tamper_with(copy, tamper)
    with contextlib.closing(sqlite3.connect(copy)) as conn:
        (first, last, count) = _one(conn, "SELECT MIN(seq), MAX(seq), COUNT(*) FROM events")
    assert (first, last - first + 1) != (1, count)  # the tamper did open a gap
    result = verify_all(copy, DEMO_KEYS)
    assert result.exit_code == 1, result.stdout


def _orders(db: Path) -> list[tuple[str, str]]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return conn.execute("SELECT order_id, client_order_id FROM orders").fetchall()


BASE_CHAIN = ("MarketSignal", "TradeIntent", "RiskDecision", "OrderUpdated", "FillReceived")


def _chain_kinds(stdout: str) -> list[str]:
    return [line.split()[1] for line in stdout.splitlines() if line[:4].isdigit()]


def test_verify_one_order_prints_its_chain(day: Path) -> None:
    order_id, cid = _orders(day)[0]
    for ref in (order_id[:8], order_id, cid):
        result = cli("audit", "verify", ref, "--db", day, DEMO_KEYS)
        assert result.exit_code == 0, result.stdout
        kinds = _chain_kinds(result.stdout)
        for kind in BASE_CHAIN:
            assert kind in kinds, (ref, kind, result.stdout)
        assert kinds[0] == "MarketSignal"
        assert (
            kinds.index("TradeIntent")
            < kinds.index("RiskDecision")
            < kinds.index("OrderUpdated")
            < kinds.index("FillReceived")
        )
        assert "OversightRequested" not in kinds
        assert "clean" in result.stdout.splitlines()[-1]


def test_the_approved_large_order_chain_includes_oversight(day: Path) -> None:
    with contextlib.closing(sqlite3.connect(day)) as conn:
        intents = [
            r[0]
            for r in conn.execute(
                "SELECT intent_id FROM oversight_requests WHERE status = 'APPROVED'"
            )
        ]
        approved = [
            r[0]
            for r in conn.execute(
                f"SELECT order_id FROM orders WHERE intent_id IN ({','.join('?' * len(intents))})",
                intents,
            )
        ]
    assert len(approved) == 2
    for order_id in approved:
        result = cli("audit", "verify", order_id[:12], "--db", day, DEMO_KEYS)
        assert result.exit_code == 0, result.stdout
        kinds = _chain_kinds(result.stdout)
        for kind in (*BASE_CHAIN, "OversightRequested", "OversightDecided"):
            assert kind in kinds, (kind, result.stdout)
        assert (
            kinds.index("OversightRequested")
            < kinds.index("OversightDecided")
            < kinds.index("OrderUpdated")
        )
        assert kinds.count("RiskDecision") == 2  # REVIEW, then PERMIT with the approval
        assert "✓ human signed  : valid ed25519" in result.stdout


def test_verify_an_unknown_order_exits_2(day: Path) -> None:
    result = cli("audit", "verify", "ffffffff", "--db", day, DEMO_KEYS)
    assert result.exit_code == 2
    assert "'ffffffff'" in result.stderr


def test_verify_needs_exactly_one_of_id_and_all(day: Path) -> None:
    neither = cli("audit", "verify", "--db", day, DEMO_KEYS)
    assert neither.exit_code == 2
    assert "ORDER_ID or --all" in neither.stderr
    order_id, _ = _orders(day)[0]
    both = cli("audit", "verify", order_id, "--all", "--db", day, DEMO_KEYS)
    assert both.exit_code == 2
    assert "ORDER_ID or --all" in both.stderr


def test_verify_on_a_missing_store_exits_2(tmp_path: Path) -> None:
    missing = tmp_path / "missing.sqlite"
    for args in (("--all",), ("abcdef",)):
        result = cli("audit", "verify", *args, "--db", missing, DEMO_KEYS)
        assert result.exit_code == 2
        assert str(missing) in result.stderr
    assert list(tmp_path.iterdir()) == []


# -- the Merkle tree, checkpoints and witness ----------------------------------------------


def change_a_merkle_node(conn: sqlite3.Connection) -> None:
    (node_id,) = _one(conn, "SELECT id FROM merkle_nodes ORDER BY id LIMIT 1 OFFSET 3")
    conn.execute("UPDATE merkle_nodes SET hash = ? WHERE id = ?", (bytes(32), node_id))


def delete_a_merkle_node(conn: sqlite3.Connection) -> None:
    conn.execute("DELETE FROM merkle_nodes WHERE id = (SELECT MAX(id) FROM merkle_nodes)")


def insert_a_merkle_node(conn: sqlite3.Connection) -> None:
    conn.execute("INSERT INTO merkle_nodes VALUES (?, ?)", (node_key(2, 999_999), bytes(32)))


def change_a_checkpoint_root(conn: sqlite3.Connection) -> None:
    size, note = _one(conn, "SELECT size, note FROM checkpoints ORDER BY size LIMIT 1")
    lines = note.split("\n")
    lines[2] = base64.b64encode(bytes(32)).decode()
    conn.execute("UPDATE checkpoints SET note = ? WHERE size = ?", ("\n".join(lines), size))


def swap_two_checkpoints(conn: sqlite3.Connection) -> None:
    (a, na), (b, nb) = conn.execute("SELECT size, note FROM checkpoints LIMIT 2").fetchall()
    conn.execute("UPDATE checkpoints SET note = ? WHERE size = ?", (nb, a))
    conn.execute("UPDATE checkpoints SET note = ? WHERE size = ?", (na, b))


def delete_a_cosigned_checkpoint(conn: sqlite3.Connection) -> None:
    conn.execute("DELETE FROM checkpoints WHERE size = (SELECT MIN(size) FROM cosignatures)")


def change_a_cosignature(conn: sqlite3.Connection) -> None:
    size, line = _one(conn, "SELECT size, line FROM cosignatures LIMIT 1")
    name, blob = line.rstrip("\n").split(" ")[1:]
    raw = bytearray(base64.b64decode(blob))
    raw[-1] ^= 1
    forged = f"— {name} {base64.b64encode(bytes(raw)).decode()}\n"
    conn.execute("UPDATE cosignatures SET line = ? WHERE size = ?", (forged, size))


def delete_every_cosignature(conn: sqlite3.Connection) -> None:
    conn.execute("DELETE FROM cosignatures")


def _leaves(conn: sqlite3.Connection) -> list[bytes]:
    return [bytes(r[0]) for r in conn.execute("SELECT leaf_hash FROM events ORDER BY seq")]


def _note_keys(signers: Sequence[Signer]) -> list[tuple[VerifierKey, Signer]]:
    return [(VerifierKey.for_signer(DEMO_ORIGIN, s), s) for s in signers]


def _checkpoint_row(
    frontier: CompactRange, ts_ns: int, signers: Sequence[Signer]
) -> tuple[int, bytes, str, int]:
    """A checkpoints row of the frontier's size, signed with its time like the log's own."""
    text = Checkpoint(DEMO_ORIGIN, frontier.size, frontier.root(), (timestamp_line(ts_ns),))
    return frontier.size, frontier.root(), sign_note(text.text(), _note_keys(signers)), ts_ns


def _rechain(conn: sqlite3.Connection) -> None:
    """Every leaf and chain hash recomputed from the bodies, as a rewriter of history would."""
    prev = bytes(32)
    for seq, body in conn.execute("SELECT seq, body FROM events ORDER BY seq").fetchall():
        leaf = hash_leaf(body)
        prev = _sha256(prev + leaf)
        conn.execute(
            "UPDATE events SET leaf_hash = ?, chain_hash = ? WHERE seq = ?", (leaf, prev, seq)
        )


def _recut(conn: sqlite3.Connection, signers: Sequence[Signer]) -> None:
    """What an operator rewriting history does: rebuild the tree, re-sign every checkpoint
    at its size and time, drop the cosignatures no witness would give, list the keys."""
    times = dict(conn.execute("SELECT size, ts_ns FROM checkpoints").fetchall())
    frontier = CompactRange()
    nodes, checkpoints = [], []
    for leaf in _leaves(conn):
        nodes += frontier.extend([leaf], stored_only=True)
        if frontier.size in times:
            checkpoints.append(_checkpoint_row(frontier, times[frontier.size], signers))
    conn.execute("DELETE FROM merkle_nodes")
    conn.executemany(
        "INSERT INTO merkle_nodes VALUES (?, ?)", [(node_key(lv, i), h) for lv, i, h in nodes]
    )
    conn.execute("DELETE FROM checkpoints")
    conn.executemany("INSERT INTO checkpoints VALUES (?, ?, ?, ?)", checkpoints)
    conn.execute("DELETE FROM cosignatures")
    conn.execute("DELETE FROM audit_keys WHERE role = 'log'")
    conn.executemany(
        "INSERT INTO audit_keys VALUES (?, 'log', ?, ?)",
        [(k.vkey(), k.name, k.algorithm) for k, _ in _note_keys(signers)],
    )


def fork_the_log(conn: sqlite3.Connection) -> None:
    """Rewrite an unsigned entry (a market signal), re-chain, rebuild, re-sign with the log's
    own keys: every row is self-consistent, the books are untouched."""
    seq, body = _one(conn, "SELECT seq, body FROM events WHERE type = 'MarketSignal' LIMIT 1")
    changed = body.replace(b'"strength":', b'"strength": ', 1)
    assert changed != body
    conn.execute("UPDATE events SET body = ? WHERE seq = ?", (changed, seq))
    _rechain(conn)
    _recut(conn, demo_log_signers())


FOREIGN = [derived_signer(a, "mallory") for a in (Algorithm.ED25519, Algorithm.MLDSA87)]


def resign_with_a_foreign_key(conn: sqlite3.Connection) -> None:
    """The whole log re-signed with a foreign log key: every charter entry, every checkpoint,
    the key table; the agents' own signatures still verify under the charter's registry."""
    ed25519 = next(s for s in FOREIGN if s.algorithm == Algorithm.ED25519)
    for seq, body in conn.execute("SELECT seq, body FROM events WHERE type = 'SwarmCharter'"):
        env = sign_envelope(msgspec.structs.replace(decode_envelope(body), signature=None), ed25519)
        conn.execute("UPDATE events SET body = ? WHERE seq = ?", (encode_envelope(env), seq))
    _rechain(conn)
    _recut(conn, FOREIGN)


@pytest.mark.parametrize(
    ("tamper", "says"),
    [
        (change_a_merkle_node, "merkle node"),
        (delete_a_merkle_node, "merkle node"),
        (insert_a_merkle_node, "merkle node"),
        (change_a_checkpoint_root, "invalid ed25519 signature"),
        (swap_two_checkpoints, "the signed note says size"),
        (delete_a_cosigned_checkpoint, "no such checkpoint"),
        (change_a_cosignature, "invalid cosignature"),
        (delete_every_cosignature, f"the cosignature {WITNESS} made is missing"),
        (fork_the_log, "fork: the witness cosigned another root"),
        (resign_with_a_foreign_key, "no signature by trusted key"),
    ],
    ids=lambda v: v.__name__ if callable(v) else None,
)
def test_tampering_with_the_merkle_log_is_detected(copy: Path, tamper: Tamper, says: str) -> None:
    assert verify_all(copy, DEMO_KEYS).exit_code == 0
    tamper_with(copy, tamper)
    result = verify_all(copy, DEMO_KEYS)
    assert result.exit_code == 1, result.stdout
    assert says in result.stdout, result.stdout


@pytest.mark.parametrize(
    ("tamper", "says"),
    [
        (fork_the_log, "not consistent with the checkpoint trusted at size"),
        (resign_with_a_foreign_key, "no signature by trusted key"),
        (delete_every_cosignature, f"the cosignature {WITNESS} made is missing"),
    ],
    ids=lambda v: v.__name__ if callable(v) else None,
)
def test_a_saved_trust_state_catches_a_rewrite_without_the_witness(
    copy: Path, tmp_path: Path, tamper: Tamper, says: str
) -> None:
    trust = tmp_path / "trust.json"
    first = verify_all(copy, DEMO_KEYS, "--trust-state", trust)
    assert first.exit_code == 0 and trust.exists(), first.stdout
    witness_file(copy).unlink()  # the operator also hides the witness
    tamper_with(copy, tamper)
    result = verify_all(copy, "--trust-state", trust)
    assert result.exit_code == 1, result.stdout
    assert says in result.stdout, result.stdout


def test_a_log_resigned_with_a_foreign_key_fails_under_the_demo_keys_alone(copy: Path) -> None:
    witness_file(copy).unlink()
    tamper_with(copy, resign_with_a_foreign_key)
    result = verify_all(copy, DEMO_KEYS)
    assert result.exit_code == 1, result.stdout
    assert "the log holds no charter signed by a trusted log key" in result.stdout
    assert "not a key of the demo's public-seed keys" in result.stdout
    # the rewrite is self-consistent: only what the verifier trusts betrays it
    tofu = verify_all(copy, "--trust-on-first-use")
    assert tofu.exit_code == 0, tofu.stdout
    assert "TRUST ON FIRST USE" in tofu.stdout


def test_verify_without_a_trust_anchor_exits_2(day: Path) -> None:
    result = verify_all(day)
    assert result.exit_code == 2
    assert "no trust anchor" in result.stderr
    assert "--trust-on-first-use" in result.stderr


def test_trust_on_first_use_says_so(day: Path) -> None:
    result = verify_all(day, "--trust-on-first-use")
    assert result.exit_code == 0, result.stdout
    assert "TRUST ON FIRST USE" in result.stdout


def test_every_order_verifies_with_signatures_and_proofs(day: Path) -> None:
    for order_id, _ in _orders(day):
        result = cli("audit", "verify", order_id, "--db", day, DEMO_KEYS)
        assert result.exit_code == 0, result.stdout
        assert "✓ signature     : valid ed25519" in result.stdout
        assert "✓ merkle proof  : valid" in result.stdout
        assert f"witnessed by {WITNESS}" in result.stdout


def test_a_signed_entry_altered_in_place_fails_its_signature(copy: Path) -> None:
    with contextlib.closing(sqlite3.connect(copy)) as conn, conn:
        seq, body = _one(conn, "SELECT seq, body FROM events WHERE type = 'RiskDecision' LIMIT 1")
        changed = body.replace(b'"reasons":[', b'"reasons":["forged",', 1)
        conn.execute("UPDATE events SET body = ? WHERE seq = ?", (changed, seq))
    result = verify_all(copy, DEMO_KEYS)
    assert result.exit_code == 1
    assert f"event #{seq} (RiskDecision) signature: INVALID" in result.stdout


def test_an_unreadable_trust_state_exits_2(copy: Path, tmp_path: Path) -> None:
    bad = tmp_path / "trust.json"
    bad.write_text("{not json")
    result = verify_all(copy, "--trust-state", bad)
    assert result.exit_code == 2
    assert str(bad) in result.stderr


# -- forged entries at the head: a valid chain, tree, books and checkpoint ----------------

Forge = Callable[[sqlite3.Connection], list[Envelope]]


def _entries(conn: sqlite3.Connection, type_: str) -> list[Envelope]:
    rows = conn.execute("SELECT body FROM events WHERE type = ? ORDER BY seq", (type_,))
    found = [decode_envelope(body) for (body,) in rows]
    assert found, type_
    return found


def _head_ts(conn: sqlite3.Connection) -> int:
    (ts,) = _one(conn, "SELECT MAX(ts_ns) FROM checkpoints")
    return int(ts) + 1_000_000_000


def as_new_entry(env: Envelope, payload: Any, sender: str | None = None) -> Envelope:
    """env as a new, unsigned log entry carrying payload (from sender, if given)."""
    return msgspec.structs.replace(
        env,
        msg_id=uuid.uuid4(),
        payload=payload,
        sender=sender or env.sender,
        signature=None,
    )


def signed_as(env: Envelope, principal: str, algorithm: Algorithm = Algorithm.ED25519) -> Envelope:
    """env signed with principal's demo key (whatever env's sender says)."""
    return sign_envelope(env, keys_for()[principal].signer(algorithm))


def extra_fill(conn: sqlite3.Connection) -> Envelope:
    """A second fill of the last filled order: a phantom trade, unsigned."""
    env = _entries(conn, "FillReceived")[-1]
    assert isinstance(env.payload, FillReceived)
    fill = msgspec.structs.replace(env.payload, fill_id=env.payload.fill_id + "-X")
    return as_new_entry(env, fill)


def extra_order(conn: sqlite3.Connection) -> Envelope:
    """An order update of an order nobody decided on, unsigned."""
    env = _entries(conn, "OrderUpdated")[-1]
    assert isinstance(env.payload, OrderUpdated)
    order_id = uuid.uuid4()
    order = msgspec.structs.replace(
        env.payload.order, order_id=order_id, client_order_id=f"ts-{order_id}"
    )
    return as_new_entry(env, msgspec.structs.replace(env.payload, order=order))


def extra_permit(conn: sqlite3.Connection, sender: str | None = None) -> Envelope:
    """A PERMIT for an intent the gate never saw, unsigned."""
    env = next(
        e
        for e in _entries(conn, "RiskDecision")
        if isinstance(e.payload, RiskDecision) and e.payload.verdict is Verdict.PERMIT
    )
    decision = env.payload
    assert isinstance(decision, RiskDecision)
    intent = msgspec.structs.replace(decision.intent, intent_id=uuid.uuid4())
    forged = msgspec.structs.replace(decision, decision_id=uuid.uuid4(), intent=intent)
    return as_new_entry(env, forged, sender)


def ml_dsa_charter(conn: sqlite3.Connection, type_: str) -> Envelope:
    """A new charter, signed by the log's own key, that wants ML-DSA-87 for type_."""
    env = _entries(conn, "SwarmCharter")[-1]
    old = env.payload
    assert isinstance(old, SwarmCharter)
    policy = SigningPolicy(
        signed_types=frozenset(old.signed_types), algorithms={type_: Algorithm.MLDSA87}
    )
    charter = make_charter(registry_of_charter(old), policy, old.initial_cash, _head_ts(conn))
    log_key = next(s for s in demo_log_signers() if s.algorithm == Algorithm.ED25519)
    return charter_envelope(charter, env.sender, log_key)


def _append_entries(conn: sqlite3.Connection, envs: list[Envelope]) -> None:
    """Append at the head as the log itself would: seq, leaf and chain hash, the Merkle
    nodes the new leaves complete, merkle.size, and a checkpoint signed with the log's keys."""
    seq, prev = _one(conn, "SELECT seq, chain_hash FROM events ORDER BY seq DESC LIMIT 1")
    frontier = CompactRange()
    frontier.extend(_leaves(conn))
    ts = _head_ts(conn)
    for env in envs:
        body = encode_envelope(env)
        leaf = hash_leaf(body)
        seq, prev = seq + 1, _sha256(prev + leaf)
        conn.execute(
            "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?)",
            (seq, env.msg_id.bytes, env.type, env.ts_ns, body, leaf, prev),
        )
        conn.executemany(
            "INSERT INTO merkle_nodes VALUES (?, ?)",
            [(node_key(lv, i), h) for lv, i, h in frontier.extend([leaf], stored_only=True)],
        )
    conn.execute("UPDATE meta SET value = ? WHERE key = 'merkle.size'", (str(frontier.size),))
    conn.execute(
        "INSERT INTO checkpoints VALUES (?, ?, ?, ?)",
        _checkpoint_row(frontier, ts, demo_log_signers()),
    )


def _book(db: Path, envs: list[Envelope]) -> None:
    """Make the record tables say what the forged entries say, with the store's own writers."""
    store = Store.open(db)
    try:
        with store.transaction():
            for env in envs:
                p = env.payload
                if isinstance(p, FillReceived):
                    order = store.get_order_by_client_id(p.client_order_id)
                    assert order is not None
                    store.record_fill(Fill(**msgspec.structs.asdict(p)), order.agent_id)
                elif isinstance(p, OrderUpdated):
                    store.upsert_order(p.order)
                elif isinstance(p, RiskDecision):
                    store.record_decision(p, VERDICT_SEVERITY[p.verdict])
                elif isinstance(p, KillSwitchActivated):
                    store.set_killswitch(True, p.reason, p.ts_event)
    finally:
        store.close()


def forge_at_head(db: Path, forge: Forge) -> int:
    """Append what forge makes, books and checkpoint included; return the last one's seq."""
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        envs = forge(conn)
        _append_entries(conn, envs)
        (seq,) = _one(conn, "SELECT MAX(seq) FROM events")
    _book(db, envs)
    return int(seq)


def verify_bundle_of(db: Path, tmp_path: Path, *trust: str | Path) -> Any:
    """`audit export` of db, then `audit verify --bundle` under the given trust options."""
    bundle = tmp_path / f"{db.stem}.bundle.json"
    exported = cli("audit", "export", "--db", db, "--out", bundle)
    assert exported.exit_code == 0, exported.stdout
    return cli("audit", "verify", "--bundle", bundle, "--trust-state", tmp_path / "t.json", *trust)


def unsigned_fill(conn: sqlite3.Connection) -> list[Envelope]:
    return [extra_fill(conn)]


def unsigned_order_update(conn: sqlite3.Connection) -> list[Envelope]:
    return [extra_order(conn)]


def unsigned_permit(conn: sqlite3.Connection) -> list[Envelope]:
    return [extra_permit(conn)]


def unsigned_permit_from_the_executor(conn: sqlite3.Connection) -> list[Envelope]:
    return [extra_permit(conn, EXECUTOR)]


def fill_signed_with_the_traders_key(conn: sqlite3.Connection) -> list[Envelope]:
    return [signed_as(extra_fill(conn), TRADER)]


def fill_sent_and_signed_by_the_trader(conn: sqlite3.Connection) -> list[Envelope]:
    fill = extra_fill(conn)
    return [signed_as(msgspec.structs.replace(fill, sender=TRADER), TRADER)]


def ed25519_fill_where_the_charter_wants_ml_dsa(conn: sqlite3.Connection) -> list[Envelope]:
    return [ml_dsa_charter(conn, "FillReceived"), signed_as(extra_fill(conn), EXECUTOR)]


@pytest.mark.parametrize(
    ("forge", "says"),
    [
        (unsigned_fill, "(FillReceived) signature: UNSIGNED, but FillReceived must be signed"),
        (unsigned_order_update, "(OrderUpdated) signature: UNSIGNED"),
        (unsigned_permit, "(RiskDecision) signature: UNSIGNED"),
        (unsigned_permit_from_the_executor, f"{EXECUTOR} may not publish on trading.risk"),
        (fill_signed_with_the_traders_key, f"not {EXECUTOR}'s"),
        (fill_sent_and_signed_by_the_trader, f"{TRADER} may not publish on"),
        (ed25519_fill_where_the_charter_wants_ml_dsa, "policy ml-dsa-87"),
    ],
    ids=lambda v: v.__name__ if callable(v) else None,
)
def test_a_forged_entry_at_the_head_is_refused_by_its_signature(
    copy: Path, tmp_path: Path, forge: Forge, says: str
) -> None:
    seq = forge_at_head(copy, forge)
    result = verify_all(copy, DEMO_KEYS)
    assert result.exit_code == 1, result.stdout
    assert f"event #{seq} " in result.stdout and says in result.stdout, result.stdout
    offline = verify_bundle_of(copy, tmp_path, DEMO_KEYS)
    assert offline.exit_code == 1, offline.stdout
    assert f"event #{seq} " in offline.stdout and says in offline.stdout, offline.stdout


def fill_signed_by_the_executor(conn: sqlite3.Connection) -> list[Envelope]:
    return [signed_as(extra_fill(conn), EXECUTOR)]


def order_update_signed_by_the_executor(conn: sqlite3.Connection) -> list[Envelope]:
    return [signed_as(extra_order(conn), EXECUTOR)]


def permit_signed_by_the_risk_manager(conn: sqlite3.Connection) -> list[Envelope]:
    return [signed_as(extra_permit(conn), RISK)]


def ml_dsa_fill_where_the_charter_wants_ml_dsa(conn: sqlite3.Connection) -> list[Envelope]:
    fill = signed_as(extra_fill(conn), EXECUTOR, Algorithm.MLDSA87)
    return [ml_dsa_charter(conn, "FillReceived"), fill]


@pytest.mark.parametrize(
    "forge",
    [
        fill_signed_by_the_executor,
        order_update_signed_by_the_executor,
        permit_signed_by_the_risk_manager,
        ml_dsa_fill_where_the_charter_wants_ml_dsa,
    ],
)
def test_the_same_entry_signed_as_its_charter_demands_is_accepted(
    copy: Path, tmp_path: Path, forge: Forge
) -> None:
    """The forgeries above differ from these only in their signatures (so the books, the
    tree and the checkpoint of a forgery are not what betrays it)."""
    forge_at_head(copy, forge)
    result = verify_all(copy, DEMO_KEYS)
    assert result.exit_code == 0, result.stdout
    offline = verify_bundle_of(copy, tmp_path, DEMO_KEYS)
    assert offline.exit_code == 0, offline.stdout


def labelled(env: Envelope, type_: str, topic: str) -> Envelope:
    """env under another type and topic: one the charter does not ask to be signed."""
    return msgspec.structs.replace(env, type=type_, topic=topic)


def unsigned_fill_labelled_a_market_signal(conn: sqlite3.Connection) -> list[Envelope]:
    return [labelled(extra_fill(conn), "MarketSignal", "trading.signal.market")]


def unsigned_order_update_labelled_a_compliance_flag(conn: sqlite3.Connection) -> list[Envelope]:
    return [labelled(extra_order(conn), "ComplianceFlag", "compliance.flag")]


def unsigned_permit_labelled_a_daily_summary(conn: sqlite3.Connection) -> list[Envelope]:
    return [labelled(extra_permit(conn), "DailySummary", "compliance.summary")]


def unsigned_kill_switch_labelled_a_compliance_flag(conn: sqlite3.Connection) -> list[Envelope]:
    fill, human = extra_fill(conn), "human:jane.doe@desk"
    stop = KillSwitchActivated(reason="forged", triggered_by=human, ts_event=fill.ts_ns)
    return [labelled(as_new_entry(fill, stop, human), "ComplianceFlag", "compliance.flag")]


# Whether an entry must be signed is judged by its body's own type, and every entry's type,
# topic and sender must agree with its body, signed or not (found by this test: an
# unsigned fill in an envelope labelled MarketSignal, with the books matching it, once
# verified clean in the database and in a bundle).
@pytest.mark.parametrize(
    "forge",
    [
        unsigned_fill_labelled_a_market_signal,
        unsigned_order_update_labelled_a_compliance_flag,
        unsigned_permit_labelled_a_daily_summary,
        unsigned_kill_switch_labelled_a_compliance_flag,
    ],
)
def test_a_forged_entry_labelled_as_an_unsigned_type_is_refused(
    copy: Path, tmp_path: Path, forge: Forge
) -> None:
    seq = forge_at_head(copy, forge)
    result = verify_all(copy, DEMO_KEYS)
    assert result.exit_code == 1, result.stdout
    assert f"event #{seq} " in result.stdout, result.stdout
    offline = verify_bundle_of(copy, tmp_path, DEMO_KEYS)
    assert offline.exit_code == 1, offline.stdout
    assert f"event #{seq} " in offline.stdout, offline.stdout
