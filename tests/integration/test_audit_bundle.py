"""`audit export` / `audit verify --bundle`: offline checks against a trust anchor, and a
trust state that remembers the last checkpoint and every cosignature it accepted."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from test_audit_tamper import (
    DEMO_KEYS,
    WITNESS,
    Tamper,
    cli,
    copy_store,
    demo_day,
    fork_the_log,
    resign_with_a_foreign_key,
    tamper_with,
)

from tradeswarm.audit.demo_keys import DEMO_ORIGIN
from tradeswarm.audit.trust import default_trust_path

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_day(tmp_path_factory)


@pytest.fixture
def copy(day: Path, tmp_path: Path) -> Path:
    return copy_store(day, tmp_path / "copy.sqlite")


@pytest.fixture(autouse=True)
def state_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The default trust state lives under XDG_STATE_HOME: here, never the user's."""
    home = tmp_path / "state"
    monkeypatch.setenv("XDG_STATE_HOME", str(home))
    return home


def export(db: Path, out: Path) -> dict[str, Any]:
    result = cli("audit", "export", "--db", db, "--out", out)
    assert result.exit_code == 0, result.stdout
    data: dict[str, Any] = json.loads(out.read_text())
    return data


def verify_bundle(bundle: Path, *trust: str | Path) -> Any:
    return cli("audit", "verify", "--bundle", bundle, *trust)


@pytest.mark.parametrize(
    ("seed", "source"),
    [
        (DEMO_KEYS, "the demo's public-seed keys"),
        ("--trust-on-first-use", "TRUST ON FIRST USE"),
    ],
)
def test_a_bundle_verifies_offline_and_moves_the_trusted_checkpoint(
    copy: Path, tmp_path: Path, seed: str, source: str
) -> None:
    bundle, trust = tmp_path / "b.json", tmp_path / "trust.json"
    data = export(copy, bundle)
    assert len(data["entries"]) == len(data["inclusion"]) > 100
    for suffix in ("", ".broker", ".witness.json"):
        Path(f"{copy}{suffix}").unlink()  # no database from here on
    first = verify_bundle(bundle, "--trust-state", trust, seed)
    assert first.exit_code == 0, first.stdout
    assert source in first.stdout and f"witnessed: {WITNESS}" in first.stdout
    state = json.loads(trust.read_text())
    assert state["size"] == len(data["entries"])
    assert len(state["cosigned"][WITNESS]) == len(data["checkpoints"])
    again = verify_bundle(bundle, "--trust-state", trust)
    assert again.exit_code == 0, again.stdout
    assert "keys from the verifier's trust state" in again.stdout


def test_the_default_trust_state_is_per_origin_under_the_state_home(
    copy: Path, tmp_path: Path, state_home: Path
) -> None:
    bundle = tmp_path / "b.json"
    export(copy, bundle)
    assert verify_bundle(bundle).exit_code == 2  # nothing trusted yet, nothing given
    first = verify_bundle(bundle, DEMO_KEYS)
    assert first.exit_code == 0, first.stdout
    saved = default_trust_path(DEMO_ORIGIN)
    assert saved.is_relative_to(state_home) and saved.exists()
    again = verify_bundle(bundle)
    assert again.exit_code == 0, again.stdout
    assert f"keys from the verifier's trust state ({saved})" in again.stdout


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


def _drop_cosignatures(data: dict[str, Any]) -> None:
    for checkpoint in data["checkpoints"]:
        checkpoint["cosignatures"] = []


@pytest.mark.parametrize(
    "change", [_flip_entry, _drop_entry, _swap_entries, _bad_proof, _bad_cosignature]
)
def test_an_altered_bundle_is_refused(copy: Path, tmp_path: Path, change: Any) -> None:
    bundle = tmp_path / "b.json"
    export(copy, bundle)
    clean = verify_bundle(bundle, "--trust-state", tmp_path / "clean.json", DEMO_KEYS)
    assert clean.exit_code == 0, clean.stdout
    _edit(bundle, change)
    result = verify_bundle(bundle, "--trust-state", tmp_path / "t.json", DEMO_KEYS)
    assert result.exit_code == 1, result.stdout
    assert "TAMPERED" in result.stdout


def test_a_bundle_without_the_cosignatures_it_had_is_refused(copy: Path, tmp_path: Path) -> None:
    bundle, trust = tmp_path / "b.json", tmp_path / "trust.json"
    export(copy, bundle)
    assert verify_bundle(bundle, "--trust-state", trust, DEMO_KEYS).exit_code == 0
    _edit(bundle, _drop_cosignatures)
    result = verify_bundle(bundle, "--trust-state", trust)
    assert result.exit_code == 1, result.stdout
    assert f"the cosignature {WITNESS} made is missing" in result.stdout


@pytest.mark.parametrize(
    ("tamper", "says", "alone"),
    [
        (fork_the_log, "not consistent with the checkpoint trusted at size", DEMO_KEYS),
        (resign_with_a_foreign_key, "no signature by trusted key", "--trust-on-first-use"),
    ],
    ids=["fork_the_log", "resign_with_a_foreign_key"],
)
def test_a_bundle_of_a_rewritten_log_is_refused_by_the_pinned_trust_state(
    copy: Path, tmp_path: Path, tamper: Tamper, says: str, alone: str
) -> None:
    trust = tmp_path / "trust.json"
    export(copy, tmp_path / "a.json")
    pinned = verify_bundle(tmp_path / "a.json", "--trust-state", trust, DEMO_KEYS)
    assert pinned.exit_code == 0, pinned.stdout
    tamper_with(copy, tamper)
    export(copy, tmp_path / "b.json")
    result = verify_bundle(tmp_path / "b.json", "--trust-state", trust)
    assert result.exit_code == 1, result.stdout
    assert says in result.stdout, result.stdout
    assert f"the cosignature {WITNESS} made is missing" in result.stdout
    # alone, the rewritten bundle is self-consistent: only what was remembered betrays it
    fresh = verify_bundle(tmp_path / "b.json", "--trust-state", tmp_path / "new.json", alone)
    assert fresh.exit_code == 0, fresh.stdout


def test_a_foreign_resigned_bundle_fails_under_the_demo_keys(copy: Path, tmp_path: Path) -> None:
    tamper_with(copy, resign_with_a_foreign_key)
    export(copy, tmp_path / "b.json")
    result = verify_bundle(tmp_path / "b.json", "--trust-state", tmp_path / "t.json", DEMO_KEYS)
    assert result.exit_code == 1, result.stdout
    assert "the log holds no charter signed by a trusted log key" in result.stdout
    assert not (tmp_path / "t.json").exists()  # nothing is remembered from a failed check


def test_bundle_arguments_that_cannot_run_exit_2(copy: Path, tmp_path: Path) -> None:
    missing = verify_bundle(tmp_path / "nope.json", DEMO_KEYS)
    assert missing.exit_code == 2 and "no such file" in missing.stderr
    junk = tmp_path / "junk.json"
    junk.write_text("[1, 2]")
    bad = verify_bundle(junk, "--trust-state", tmp_path / "t.json", DEMO_KEYS)
    assert bad.exit_code == 2 and "not an audit bundle" in bad.stderr
    both = cli("audit", "verify", "--bundle", junk, "--db", copy, DEMO_KEYS)
    assert both.exit_code == 2 and "--bundle takes no --db" in both.stderr
    bundle = tmp_path / "b.json"
    export(copy, bundle)
    untrusted = verify_bundle(bundle, "--trust-state", tmp_path / "t.json")
    assert untrusted.exit_code == 2 and "no trust anchor" in untrusted.stderr
