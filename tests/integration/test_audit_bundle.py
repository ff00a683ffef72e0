"""`audit export` / `audit verify --bundle`: offline checks with a remembered checkpoint."""

from __future__ import annotations

import base64
import contextlib
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from test_audit_tamper import cli, fork_the_log, resign_with_a_foreign_key

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("bundle") / "swarm.sqlite"
    assert cli("demo", "--db", db).exit_code == 0
    return db


@pytest.fixture
def copy(day: Path, tmp_path: Path) -> Path:
    db = tmp_path / "copy.sqlite"
    for suffix in ("", ".broker", ".witness.json"):
        Path(f"{db}{suffix}").write_bytes(Path(f"{day}{suffix}").read_bytes())
    return db


def export(db: Path, out: Path) -> dict[str, Any]:
    result = cli("audit", "export", "--db", db, "--out", out)
    assert result.exit_code == 0, result.stdout
    data: dict[str, Any] = json.loads(out.read_text())
    return data


def test_a_bundle_verifies_offline_and_moves_the_trusted_checkpoint(
    copy: Path, tmp_path: Path
) -> None:
    bundle, trust = tmp_path / "b.json", tmp_path / "trust.json"
    data = export(copy, bundle)
    assert len(data["entries"]) == len(data["inclusion"]) > 100
    copy.unlink()  # no database from here on
    first = cli("audit", "verify", "--bundle", bundle, "--trust-state", trust)
    assert first.exit_code == 0, first.stdout
    assert "trust on first use" in first.stdout and "witnessed: witness.tradeswarm" in first.stdout
    state = json.loads(trust.read_text())
    assert state["size"] == len(data["entries"])
    again = cli("audit", "verify", "--bundle", bundle, "--trust-state", trust)
    assert again.exit_code == 0 and "keys from the trust state" in again.stdout


def _edit(path: Path, change: Any) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def _flip_entry(data: dict[str, Any]) -> None:
    raw = bytearray(base64.b64decode(data["entries"][7]))
    raw[-3] ^= 1
    data["entries"][7] = base64.b64encode(bytes(raw)).decode()


def _drop_entry(data: dict[str, Any]) -> None:
    del data["entries"][3]


def _swap_entries(data: dict[str, Any]) -> None:
    e = data["entries"]
    e[4], e[5] = e[5], e[4]


def _bad_proof(data: dict[str, Any]) -> None:
    data["inclusion"][2][0] = base64.b64encode(bytes(32)).decode()


def _bad_cosignature(data: dict[str, Any]) -> None:
    line = data["checkpoints"][-1]["cosignatures"][0]
    data["checkpoints"][-1]["cosignatures"][0] = (
        line[:-6] + ("A" if line[-6] != "A" else "B") + line[-5:]
    )


@pytest.mark.parametrize(
    "change", [_flip_entry, _drop_entry, _swap_entries, _bad_proof, _bad_cosignature]
)
def test_an_altered_bundle_is_refused(copy: Path, tmp_path: Path, change: Any) -> None:
    bundle = tmp_path / "b.json"
    export(copy, bundle)
    _edit(bundle, change)
    result = cli("audit", "verify", "--bundle", bundle, "--trust-state", tmp_path / "t.json")
    assert result.exit_code == 1, result.stdout
    assert "TAMPERED" in result.stdout


@pytest.mark.parametrize("tamper", [fork_the_log, resign_with_a_foreign_key])
def test_a_forked_or_resigned_log_is_refused_against_the_trusted_checkpoint(
    copy: Path, tmp_path: Path, tamper: Any
) -> None:
    trust = tmp_path / "trust.json"
    export(copy, tmp_path / "a.json")
    trusted = cli("audit", "verify", "--bundle", tmp_path / "a.json", "--trust-state", trust)
    assert trusted.exit_code == 0, trusted.stdout
    with contextlib.closing(sqlite3.connect(copy)) as conn, conn:
        tamper(conn)
    export(copy, tmp_path / "b.json")
    result = cli("audit", "verify", "--bundle", tmp_path / "b.json", "--trust-state", trust)
    assert result.exit_code == 1, result.stdout
    # alone, the forged bundle is self-consistent: only the remembered checkpoint betrays it
    fresh = cli(
        "audit", "verify", "--bundle", tmp_path / "b.json", "--trust-state", tmp_path / "new.json"
    )
    assert fresh.exit_code == 0, fresh.stdout


def test_bundle_arguments_that_cannot_run_exit_2(copy: Path, tmp_path: Path) -> None:
    missing = cli("audit", "verify", "--bundle", tmp_path / "nope.json")
    assert missing.exit_code == 2 and "no such file" in missing.stderr
    junk = tmp_path / "junk.json"
    junk.write_text("[1, 2]")
    bad = cli("audit", "verify", "--bundle", junk, "--trust-state", tmp_path / "t.json")
    assert bad.exit_code == 2 and "not an audit bundle" in bad.stderr
    both = cli("audit", "verify", "--bundle", junk, "--db", copy)
    assert both.exit_code == 2
