"""`tradeswarm audit verify`: a clean day verifies; every kind of tampering is caught."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import sqlite3
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
from typer.testing import CliRunner

from tradeswarm.audit.keys import VerifierKey, derived_signer
from tradeswarm.audit.merkle import CompactRange, is_stored
from tradeswarm.audit.note import Checkpoint, sign_note
from tradeswarm.cli.main import app
from tradeswarm.crypto import Algorithm
from tradeswarm.model.envelope import decode_envelope, encode_envelope
from tradeswarm.model.messages import FillReceived
from tradeswarm.system.audit_wiring import DEMO_ORIGIN, demo_log_signers

pytestmark = pytest.mark.slow

Tamper = Callable[[sqlite3.Connection], None]


def cli(*args: str | Path) -> Any:
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("audit") / "swarm.sqlite"
    result = cli("demo", "--db", db)
    assert result.exit_code == 0, result.stderr
    return db


@pytest.fixture
def copy(day: Path, tmp_path: Path) -> Path:
    """A private copy of the finished day's store (and the broker's books beside it)."""
    db = tmp_path / "copy.sqlite"
    for suffix in ("", ".broker", ".witness.json"):
        Path(f"{db}{suffix}").write_bytes(Path(f"{day}{suffix}").read_bytes())
    return db


def _one(conn: sqlite3.Connection, sql: str, *params: object) -> Any:
    row = conn.execute(sql, params).fetchone()
    assert row is not None, sql
    return row


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
    leaf = hashlib.sha256(b"\x00" + body).digest()
    conn.execute(
        "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?)",
        (21, forged.msg_id.bytes, *row[2:4], body, leaf, hashlib.sha256(row[6] + leaf).digest()),
    )


def append_a_forged_fill(conn: sqlite3.Connection) -> None:
    """A fill appended at the head with a perfectly valid hash chain: the books must betray it."""
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
    leaf = hashlib.sha256(b"\x00" + new_body).digest()
    row = _one(conn, "SELECT type, ts_ns FROM events WHERE seq = ?", seq)
    conn.execute(
        "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            last_seq + 1,
            forged.msg_id.bytes,
            *row,
            new_body,
            leaf,
            hashlib.sha256(last_hash + leaf).digest(),
        ),
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
        (flip_a_body_byte, "altered entry"),
        (delete_a_row, "chain hash broken"),
        (swap_two_bodies, "altered entry"),
        (swap_two_whole_rows, "chain hash broken"),
        (insert_a_forged_row, "chain hash broken"),
        (append_a_forged_fill, "missing from the trades table"),
        (change_a_trade_price, "trades table differs from the log"),
        (add_an_unlogged_trade, "-X: missing from the log"),
        (change_an_order_state, "log says FILLED"),
        (delete_an_order, "missing from the orders table"),
        (change_a_position, "positions table"),
        (change_the_cash, "cash"),
    ],
    ids=lambda v: v.__name__ if callable(v) else None,
)
def test_tampering_is_detected(copy: Path, tamper: Tamper, says: str) -> None:
    assert cli("audit", "verify", "--all", "--db", copy).exit_code == 0
    with contextlib.closing(sqlite3.connect(copy)) as conn, conn:
        tamper(conn)
    result = cli("audit", "verify", "--all", "--db", copy)
    assert result.exit_code == 1, result.stdout
    assert "TAMPERED OR DIVERGENT" in result.stdout
    assert says in result.stdout
    assert "✗" in result.stdout


def _orders(db: Path) -> list[tuple[str, str]]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return conn.execute("SELECT order_id, client_order_id FROM orders").fetchall()


BASE_CHAIN = ("MarketSignal", "TradeIntent", "RiskDecision", "OrderUpdated", "FillReceived")


def test_verify_one_order_prints_its_chain(day: Path) -> None:
    order_id, cid = _orders(day)[0]
    for ref in (order_id[:8], order_id, cid):
        result = cli("audit", "verify", ref, "--db", day)
        assert result.exit_code == 0, result.stderr
        lines = result.stdout.splitlines()
        kinds = [line.split()[1] for line in lines if line[:4].isdigit()]
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
        assert "clean" in lines[-1]


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
        result = cli("audit", "verify", order_id[:12], "--db", day)
        assert result.exit_code == 0, result.stderr
        kinds = [line.split()[1] for line in result.stdout.splitlines() if line[:4].isdigit()]
        for kind in (*BASE_CHAIN, "OversightRequested", "OversightDecided"):
            assert kind in kinds, (kind, result.stdout)
        assert (
            kinds.index("OversightRequested")
            < kinds.index("OversightDecided")
            < kinds.index("OrderUpdated")
        )
        assert kinds.count("RiskDecision") == 2  # REVIEW, then PERMIT with the approval


def test_verify_an_unknown_order_exits_2(day: Path) -> None:
    result = cli("audit", "verify", "ffffffff", "--db", day)
    assert result.exit_code == 2
    assert "'ffffffff'" in result.stderr


def test_verify_needs_exactly_one_of_id_and_all(day: Path) -> None:
    neither = cli("audit", "verify", "--db", day)
    assert neither.exit_code == 2
    assert "ORDER_ID or --all" in neither.stderr
    order_id, _ = _orders(day)[0]
    both = cli("audit", "verify", order_id, "--all", "--db", day)
    assert both.exit_code == 2


def test_verify_on_a_missing_store_exits_2(tmp_path: Path) -> None:
    missing = tmp_path / "missing.sqlite"
    for args in (("--all",), ("abcdef",)):
        result = cli("audit", "verify", *args, "--db", missing)
        assert result.exit_code == 2
        assert str(missing) in result.stderr
    assert list(tmp_path.iterdir()) == []


# -- the Merkle tree, checkpoints and witness (issue 5) -----------------------------------


def change_a_merkle_node(conn: sqlite3.Connection) -> None:
    (node_id,) = _one(conn, "SELECT id FROM merkle_nodes ORDER BY id LIMIT 1 OFFSET 3")
    conn.execute("UPDATE merkle_nodes SET hash = ? WHERE id = ?", (bytes(32), node_id))


def delete_a_merkle_node(conn: sqlite3.Connection) -> None:
    conn.execute("DELETE FROM merkle_nodes WHERE id = (SELECT MAX(id) FROM merkle_nodes)")


def insert_a_merkle_node(conn: sqlite3.Connection) -> None:
    conn.execute("INSERT INTO merkle_nodes VALUES (?, ?)", ((2 << 56) | 999_999, bytes(32)))


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


def _leaves(conn: sqlite3.Connection) -> list[bytes]:
    return [bytes(r[0]) for r in conn.execute("SELECT leaf_hash FROM events ORDER BY seq")]


def _recut(conn: sqlite3.Connection, signers: list[Any]) -> None:
    """What an operator rewriting history does: rebuild the tree, re-sign checkpoints."""
    leaves = _leaves(conn)
    frontier = CompactRange()
    nodes = [n for n in frontier.extend(leaves) if is_stored(n[0])]
    conn.execute("DELETE FROM merkle_nodes")
    conn.executemany(
        "INSERT INTO merkle_nodes VALUES (?, ?)", [((lv << 56) | i, h) for lv, i, h in nodes]
    )
    conn.execute("DELETE FROM checkpoints")
    conn.execute("DELETE FROM cosignatures")
    keys = [(VerifierKey.for_signer(DEMO_ORIGIN, s), s) for s in signers]
    note = sign_note(Checkpoint(DEMO_ORIGIN, len(leaves), frontier.root()).text(), keys)
    conn.execute(
        "INSERT INTO checkpoints VALUES (?, ?, ?, 0)", (len(leaves), frontier.root(), note)
    )
    conn.execute("DELETE FROM audit_keys WHERE role = 'log'")
    conn.executemany(
        "INSERT INTO audit_keys VALUES (?, 'log', ?, ?)",
        [(k.vkey(), k.name, k.algorithm) for k, _ in keys],
    )


def fork_the_log(conn: sqlite3.Connection) -> None:
    """Rewrite an unsigned entry (a market signal), re-chain, rebuild, re-sign with the log's
    own keys: every row is self-consistent, the books are untouched."""
    seq, body = _one(conn, "SELECT seq, body FROM events WHERE type = 'MarketSignal' LIMIT 1")
    changed = body.replace(b'"strength":', b'"strength": ', 1)
    assert changed != body
    conn.execute(
        "UPDATE events SET body = ?, leaf_hash = ? WHERE seq = ?",
        (changed, hashlib.sha256(b"\x00" + changed).digest(), seq),
    )
    prev = bytes(32)
    for s, leaf in conn.execute("SELECT seq, leaf_hash FROM events ORDER BY seq").fetchall():
        prev = hashlib.sha256(prev + leaf).digest()
        conn.execute("UPDATE events SET chain_hash = ? WHERE seq = ?", (prev, s))
    _recut(conn, demo_log_signers())


def resign_with_a_foreign_key(conn: sqlite3.Connection) -> None:
    foreign = [derived_signer(a, "mallory") for a in (Algorithm.ED25519, Algorithm.MLDSA87)]
    _recut(conn, foreign)


@pytest.mark.parametrize(
    ("tamper", "says"),
    [
        (change_a_merkle_node, "merkle node"),
        (delete_a_merkle_node, "merkle node"),
        (insert_a_merkle_node, "merkle node"),
        (change_a_checkpoint_root, "invalid"),
        (swap_two_checkpoints, "checkpoint"),
        (delete_a_cosigned_checkpoint, "unknown checkpoint"),
        (change_a_cosignature, "invalid cosignature"),
        (fork_the_log, "fork"),
        (resign_with_a_foreign_key, "no signature by trusted key"),
    ],
    ids=lambda v: v.__name__ if callable(v) else None,
)
def test_tampering_with_the_merkle_log_is_detected(copy: Path, tamper: Tamper, says: str) -> None:
    assert cli("audit", "verify", "--all", "--db", copy).exit_code == 0
    with contextlib.closing(sqlite3.connect(copy)) as conn, conn:
        tamper(conn)
    result = cli("audit", "verify", "--all", "--db", copy)
    assert result.exit_code == 1, result.stdout
    assert says in result.stdout, result.stdout


@pytest.mark.parametrize("tamper", [fork_the_log, resign_with_a_foreign_key])
def test_a_trusted_checkpoint_catches_a_fork_without_the_witness(
    copy: Path, tmp_path: Path, tamper: Tamper
) -> None:
    trust = tmp_path / "trust.json"
    first = cli("audit", "verify", "--all", "--db", copy, "--trust-state", trust)
    assert first.exit_code == 0 and trust.exists(), first.stdout
    Path(f"{copy}.witness.json").unlink()  # the operator also hides the witness
    with contextlib.closing(sqlite3.connect(copy)) as conn, conn:
        tamper(conn)
    result = cli("audit", "verify", "--all", "--db", copy, "--trust-state", trust)
    assert result.exit_code == 1, result.stdout
    assert "trust state" in result.stdout or "trusted at size" in result.stdout


def test_every_order_verifies_with_signatures_and_proofs(day: Path) -> None:
    for order_id, _ in _orders(day):
        result = cli("audit", "verify", order_id, "--db", day)
        assert result.exit_code == 0, result.stdout
        assert "✓ signature     : valid ed25519" in result.stdout
        assert "✓ merkle proof  : valid" in result.stdout
        assert "witnessed by witness.tradeswarm.local/w1" in result.stdout


def test_a_signed_entry_altered_in_place_fails_its_signature(copy: Path) -> None:
    with contextlib.closing(sqlite3.connect(copy)) as conn, conn:
        seq, body = _one(conn, "SELECT seq, body FROM events WHERE type = 'RiskDecision' LIMIT 1")
        changed = body.replace(b'"reasons":[', b'"reasons":["forged",', 1)
        conn.execute("UPDATE events SET body = ? WHERE seq = ?", (changed, seq))
    result = cli("audit", "verify", "--all", "--db", copy)
    assert result.exit_code == 1
    assert "signature INVALID" in result.stdout


def test_an_unreadable_trust_state_exits_2(copy: Path, tmp_path: Path) -> None:
    bad = tmp_path / "trust.json"
    bad.write_text("{not json")
    result = cli("audit", "verify", "--all", "--db", copy, "--trust-state", bad)
    assert result.exit_code == 2
    assert str(bad) in result.stderr
