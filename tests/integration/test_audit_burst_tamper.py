"""`tradeswarm audit verify` of a log holding burst-signed entries: a genuine burst appended
at the head of the demo's log verifies, in the database and in an offline bundle; each
attack on it (the table in burst_kit) is refused, naming the entry and the reason, and so
is a burst member logged twice; the demo's own bursts are counted, each root checked once;
`[signing] per_message_types` keeps the demo's story, signed one envelope at a time."""

from __future__ import annotations

import collections
import contextlib
import re
import sqlite3
import uuid
from pathlib import Path

import msgspec
import pytest
from test_audit_tamper import (
    DEMO_KEYS,
    EXECUTOR,
    RISK,
    _entries,
    _head_ts,
    as_new_entry,
    cli,
    copy_store,
    demo_day,
    extra_order,
    extra_permit,
    forge_at_head,
    verify_all,
    verify_bundle_of,
)

from burst_kit import ATTACKS, Attack, Scene
from signed_kit import keys_for
from tradeswarm.audit.anchor import demo_anchor
from tradeswarm.audit.bundle import export_bundle, verify_bundle
from tradeswarm.audit.charter import charter_envelope, make_charter, registry_of_charter
from tradeswarm.audit.demo_keys import demo_log_signers
from tradeswarm.audit.order_check import check_all
from tradeswarm.crypto import Algorithm, BurstBlock, SigningPolicy, decode_signature
from tradeswarm.crypto.burst import BURST_VERSION
from tradeswarm.crypto.contexts import NON_REPUDIABLE
from tradeswarm.model.envelope import Envelope, decode_envelope
from tradeswarm.model.messages import FillReceived, SwarmCharter
from tradeswarm.store import Store

pytestmark = pytest.mark.slow

KEYS = keys_for()


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_day(tmp_path_factory)


@pytest.fixture
def copy(day: Path, tmp_path: Path) -> Path:
    return copy_store(day, tmp_path / "copy.sqlite")


def _last_charter(conn: sqlite3.Connection) -> tuple[Envelope, SwarmCharter]:
    env = _entries(conn, "SwarmCharter")[-1]
    assert isinstance(env.payload, SwarmCharter)
    return env, env.payload


def executor_scene(conn: sqlite3.Connection) -> Scene:
    """The executor's phantom fills of the last filled order as bursts; an order update as
    its other type; a permit from the risk manager as another identity's envelope."""
    last = _entries(conn, "FillReceived")[-1]
    assert isinstance(last.payload, FillReceived)
    fill = last.payload

    def fills(n: int, first: int) -> list[Envelope]:
        return [
            msgspec.structs.replace(
                as_new_entry(last, msgspec.structs.replace(fill, fill_id=f"{fill.fill_id}-B{i}")),
                msg_id=uuid.UUID(int=50_000 + i),
            )
            for i in range(first, first + n)
        ]

    def alter(env: Envelope) -> Envelope:
        assert isinstance(env.payload, FillReceived)
        cheaper = msgspec.structs.replace(env.payload, price=env.payload.price - 1)
        return msgspec.structs.replace(env, payload=cheaper)

    return Scene(
        sender=KEYS[EXECUTOR],
        other=KEYS[RISK],
        registry=registry_of_charter(_last_charter(conn)[1]),
        ts=last.ts_ns,
        members=fills,
        other_type=lambda: extra_order(conn),
        foreign=lambda: extra_permit(conn, RISK),
        alter=alter,
    )


def _charter(conn: sqlite3.Connection, scene: Scene, policy: SigningPolicy) -> Envelope:
    """A new charter, signed by the log's own key: the scene's registry and policy."""
    env, old = _last_charter(conn)
    recorded = SigningPolicy(
        signed_types=frozenset(old.signed_types),
        algorithms=dict(policy.algorithms),
        per_message_types=policy.per_message_types,
    )
    charter = make_charter(scene.registry, recorded, old.initial_cash, _head_ts(conn))
    log_key = next(s for s in demo_log_signers() if s.algorithm == Algorithm.ED25519)
    return charter_envelope(charter, env.sender, log_key)


def _forge(attack: Attack) -> object:
    def forge(conn: sqlite3.Connection) -> list[Envelope]:
        scene = executor_scene(conn)
        forged = attack.forge(scene)
        if attack.change is None and attack.policy == SigningPolicy():
            return [forged]
        if attack.change is not None:
            attack.change(scene)
        return [_charter(conn, scene, attack.policy), forged]

    return forge


def test_a_genuine_burst_at_the_head_verifies_in_the_store_and_offline(
    copy: Path, tmp_path: Path
) -> None:
    seq = forge_at_head(copy, lambda conn: executor_scene(conn).burst(5))
    result = verify_all(copy, DEMO_KEYS)
    assert result.exit_code == 0, result.stdout
    offline = verify_bundle_of(copy, tmp_path, DEMO_KEYS)
    assert offline.exit_code == 0, offline.stdout
    # the demo's own bursts and the five: each counted, in the store and offline alike
    counted = re.search(r"signatures: (\d+) entries signed by a burst's Merkle root", result.stdout)
    assert counted is not None and int(counted.group(1)) >= 5, result.stdout
    assert counted.group(0) in offline.stdout, offline.stdout
    with contextlib.closing(sqlite3.connect(copy)) as conn:
        (kind,) = conn.execute("SELECT type FROM events WHERE seq = ?", (seq,)).fetchone()
    assert kind == "FillReceived"


def test_the_walk_counts_the_demos_burst_signed_entries_and_checks_each_root_once(
    day: Path,
) -> None:
    with contextlib.closing(sqlite3.connect(day)) as conn:
        rows = conn.execute("SELECT body FROM events").fetchall()
    blocks = [
        decode_signature(e.signature)
        for e in map(decode_envelope, (b for (b,) in rows))
        if e.signature is not None
    ]
    bursts = [b for b in blocks if isinstance(b, BurstBlock)]
    assert len(bursts) >= 2  # the demo publishes bursts: escalations with their requests
    store = Store.open(day)
    try:
        check = check_all(store, demo_anchor())
        bundle = verify_bundle(export_bundle(store), demo_anchor())
    finally:
        store.close()
    assert check.scan.report.ok and not bundle.problems, check.scan.report.problems
    assert check.walk.burst_signed == bundle.burst_signed == len(bursts)
    roots = len({b.sig for b in bursts})
    assert check.walk.roots_checked == bundle.roots_checked == roots < len(bursts)


@pytest.mark.parametrize("attack", ATTACKS, ids=str)
def test_audit_verify_refuses_the_attack_naming_the_entry_and_reason(
    copy: Path, tmp_path: Path, attack: Attack
) -> None:
    seq = forge_at_head(copy, _forge(attack))  # type: ignore[arg-type]
    says = f"event #{seq} "
    result = verify_all(copy, DEMO_KEYS)
    assert result.exit_code == 1, result.stdout
    assert says in result.stdout and attack.reason.value in result.stdout, result.stdout
    offline = verify_bundle_of(copy, tmp_path, DEMO_KEYS)
    assert offline.exit_code == 1, offline.stdout
    assert says in offline.stdout and attack.reason.value in offline.stdout, offline.stdout


def _replayed_burst_member(conn: sqlite3.Connection) -> list[Envelope]:
    """The demo's last burst-signed oversight request logged again, byte for byte (the
    store's unique msg_id index dropped first, as someone with the file could)."""
    genuine = [
        e
        for e in _entries(conn, "OversightRequested")
        if isinstance(decode_signature(e.signature or b""), BurstBlock)
    ]
    conn.execute("DROP INDEX ux_events_msg_id")
    return [genuine[-1]]


def test_a_replayed_burst_member_is_refused_though_its_root_signature_verifies(
    copy: Path, tmp_path: Path
) -> None:
    seq = forge_at_head(copy, _replayed_burst_member)
    for result in (verify_all(copy, DEMO_KEYS), verify_bundle_of(copy, tmp_path, DEMO_KEYS)):
        assert result.exit_code == 1, result.stdout
        assert f"event #{seq} (OversightRequested): msg_id" in result.stdout, result.stdout
        assert "replays event #" in result.stdout
        assert "signature: INVALID" not in result.stdout  # the signature itself is genuine


def _versions(db: Path) -> collections.Counter[int | None]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        envs = [decode_envelope(body) for (body,) in conn.execute("SELECT body FROM events")]
    return collections.Counter(
        None if e.signature is None else decode_signature(e.signature).version for e in envs
    )


def test_per_message_types_in_the_config_file_keep_the_demo_signed_one_by_one(
    day: Path, tmp_path: Path
) -> None:
    config = tmp_path / "swarm.toml"
    names = ", ".join(f'"{name}"' for name in sorted(NON_REPUDIABLE))
    config.write_text(f"[signing]\nper_message_types = [{names}]\n", encoding="utf-8")
    db, default = tmp_path / "per-message.sqlite", tmp_path / "default.sqlite"
    per_message, bursts = cli("demo", "--db", db, "--config", config), cli("demo", "--db", default)
    assert per_message.exit_code == 0, per_message.stdout
    assert per_message.stdout == bursts.stdout  # the same story, told one signature each
    assert BURST_VERSION in _versions(day) and BURST_VERSION not in _versions(db)
    signed = sum(n for v, n in _versions(day).items() if v is not None)
    assert _versions(db)[1] == signed
    assert verify_all(db, DEMO_KEYS).exit_code == 0
