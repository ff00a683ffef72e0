"""The verifier applies the kill switch's quorum from the charter the log records, never
from the store's say-so: a flag cleared, or votes claimed, that the logged commands do not
add up to is a difference `audit verify --all` names. And the CLI says what a vote needs."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from quorum_kit import JANE, KIM, SAM, QuorumRig, cli, quorum_config, verify_all
from tradeswarm.model.killswitch import VOTES_KEY


async def _run(db: Path, *votes: tuple[str, bool]) -> Path:
    """A quorum swarm (2 of 2 both ways) halted by both approvers, then the votes given."""
    rig = QuorumRig(db, quorum_config(activate_quorum=2, resume_quorum=2))
    try:
        await rig.vote(JANE, True)
        await rig.vote(SAM, True)
        for name, activate in votes:
            await rig.vote(name, activate)
    finally:
        rig.close()
    return db


def _set_meta(db: Path, **values: str) -> None:
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        for key, value in values.items():
            conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                (key.replace("_", "."), value),
            )


def _meta(db: Path, key: str) -> str | None:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


def _clean(db: Path) -> None:
    result = verify_all(db)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "every table: clean" in result.stdout


def _fails(db: Path, says: str) -> str:
    result = verify_all(db)
    assert result.exit_code != 0, result.stdout
    assert says in result.stdout + result.stderr, result.stdout + result.stderr
    return str(result.stdout)


@pytest.mark.asyncio
async def test_a_quorum_run_verifies_clean_with_votes_pending_and_after_the_quorum(
    tmp_path: Path,
) -> None:
    pending = await _run(tmp_path / "pending.sqlite", (JANE, False), (KIM, False))
    assert _meta(pending, "killswitch") == "on"
    _clean(pending)
    resumed = await _run(tmp_path / "resumed.sqlite", (JANE, False), (SAM, False))
    assert _meta(resumed, "killswitch") == "off"
    _clean(resumed)


@pytest.mark.asyncio
async def test_a_flag_cleared_with_one_vote_of_two_is_a_difference(tmp_path: Path) -> None:
    db = await _run(tmp_path / "one.sqlite", (JANE, False))
    _set_meta(db, killswitch="off", killswitch_votes="")  # pretend Sam's vote made quorum
    _set_meta(db, killswitch_reason=f"1 human:{SAM}: resumed (2 of 2: {JANE}, {SAM})")
    out = _fails(db, "kill switch: the store says off")
    assert "say on" in out


@pytest.mark.asyncio
async def test_a_non_approvers_resume_in_the_log_does_not_clear_the_flag(
    tmp_path: Path,
) -> None:
    db = await _run(tmp_path / "kim.sqlite", (JANE, False), (KIM, False))
    _set_meta(db, killswitch="off", killswitch_votes="")
    _fails(db, "kill switch: the store says off")


@pytest.mark.asyncio
async def test_votes_the_log_does_not_hold_are_a_difference(tmp_path: Path) -> None:
    db = await _run(tmp_path / "votes.sqlite", (JANE, False))
    forged = json.dumps({"resume": [JANE, KIM]}, separators=(",", ":"))
    _set_meta(db, killswitch_votes=forged)
    _fails(db, "kill switch votes: the store says")


@pytest.mark.asyncio
async def test_the_verifier_takes_the_quorum_from_the_charter_not_the_store(
    tmp_path: Path,
) -> None:
    """A copy whose meta says the flag and votes of a one-human rule is still held to the
    charter's two."""
    db = await _run(tmp_path / "q.sqlite", (SAM, False))
    copy = tmp_path / "copy.sqlite"
    shutil.copy(db, copy)
    _set_meta(copy, killswitch="off", killswitch_votes="")
    _fails(copy, "kill switch")
    _clean(db)


def test_the_cli_says_what_a_vote_needs_under_the_charters_quorum(tmp_path: Path) -> None:
    db = asyncio.run(_run(tmp_path / "cli.sqlite", (JANE, False)))
    sam = cli("killswitch", "resume", "--db", db, "--as", SAM, "--demo-key")
    assert sam.exit_code == 0, sam.stderr
    assert f"quorum: takes effect with 2 approvers' votes (of {JANE}, {SAM})" in sam.stdout
    assert f"cast so far: {JANE}" in sam.stdout
    jane = cli("killswitch", "resume", "--db", db, "--as", JANE, "--demo-key")
    assert f"({JANE} has voted already: this changes nothing)" in jane.stdout
    kim = cli("killswitch", "activate", "--db", db, "--as", KIM, "--demo-key")
    assert f"quorum: {KIM} is not an approver" in kim.stdout
    status = json.loads(cli("status", "--db", db, "--json").stdout)
    assert status["killswitch"] is True
    assert status["killswitch_votes"] == {"activate": [], "resume": [JANE]}
    assert _meta(db, VOTES_KEY) == json.dumps({"resume": [JANE]}, separators=(",", ":"))
