"""The process supervisor behind `tradeswarm up`, run over real child processes (small
Python scripts): the main child's story and exit code, helpers restarted after a crash and
not after a clean exit, the ready line gating the main child, a crash loop stopping the run,
and no child outliving the run however it ends (main exit, SIGTERM, SIGINT, an error)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tradeswarm.core.errors import ConfigurationError, TradeswarmError
from tradeswarm.system.supervisor import (
    ChildSpec,
    ChildState,
    ChildStatus,
    Supervisor,
    format_status,
)

FAST = {"backoff_base_s": 0.01, "backoff_cap_s": 0.05, "grace_s": 0.5}

WRITE_PID = """
import os, pathlib, sys
_p = pathlib.Path(sys.argv[1])
_p.with_suffix(".tmp").write_text(str(os.getpid()))
os.replace(_p.with_suffix(".tmp"), _p)
"""
FOREVER = "\nimport time\nwhile True:\n    time.sleep(1)\n"


def py(*parts: str, args: tuple[Path, ...] = ()) -> list[str]:
    """argv running the script made of `parts` (each dedented on its own) with `args`."""
    code = "\n".join(textwrap.dedent(part) for part in parts)
    return [sys.executable, "-c", code, *map(str, args)]


async def until(cond: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def assert_gone(pid_file: Path) -> None:
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid_file.read_text()), 0)


def by_name(sup: Supervisor) -> dict[str, ChildStatus]:
    return {row.name: row for row in sup.status()}


def headers(log: Path) -> list[str]:
    return [line for line in log.read_text().splitlines() if line.startswith("==== ")]


@pytest.mark.asyncio
async def test_main_stdout_reaches_echo_and_its_exit_code_is_returned(tmp_path: Path) -> None:
    story: list[str] = []
    main = """
    import sys
    print("09:30 open")
    print("oops", file=sys.stderr)
    print("16:00 close")
    sys.exit(7)
    """
    sup = Supervisor([ChildSpec("kernel", py(main), main=True)], tmp_path, echo=story.append)
    assert await sup.run() == 7
    assert story == ["09:30 open", "16:00 close"]
    log = (tmp_path / "kernel.log").read_text()
    assert "09:30 open" in log and "oops" in log, "stdout and stderr both go to the log"
    assert by_name(sup)["kernel"].state == ChildState.EXITED


@pytest.mark.asyncio
async def test_helper_that_crashes_twice_is_restarted_and_each_start_is_logged(
    tmp_path: Path,
) -> None:
    helper = """
    import pathlib, sys, time
    p = pathlib.Path(sys.argv[1])
    n = int(p.read_text()) + 1 if p.exists() else 1
    p.write_text(str(n))
    if n <= 2:
        sys.exit(3)
    print("ready")
    """
    specs = [
        ChildSpec("analyzer", py(helper, FOREVER, args=(tmp_path / "starts",)), ready_line="ready"),
        ChildSpec("kernel", py("pass"), main=True),
    ]
    sup = Supervisor(specs, tmp_path / "logs", **FAST)
    assert await sup.run() == 0
    row = by_name(sup)["analyzer"]
    assert row.restarts == 2
    assert row.state == ChildState.STOPPED and row.pid is None
    starts = headers(tmp_path / "logs" / "analyzer.log")
    assert [h.split(" attempt ")[1][0] for h in starts] == ["1", "2", "3"]
    assert all(sys.executable in h for h in starts), "each header holds the argv"


@pytest.mark.asyncio
async def test_helper_that_exits_zero_is_not_restarted(tmp_path: Path) -> None:
    specs = [
        ChildSpec("once", py("print('done')")),
        ChildSpec("kernel", py("import time; time.sleep(0.5)"), main=True),
    ]
    sup = Supervisor(specs, tmp_path, **FAST)
    assert await sup.run() == 0
    row = by_name(sup)["once"]
    assert (row.restarts, row.state, row.last_exit) == (0, ChildState.EXITED, 0)
    assert len(headers(tmp_path / "once.log")) == 1


@pytest.mark.asyncio
async def test_main_starts_only_after_the_helper_printed_its_ready_line(tmp_path: Path) -> None:
    marker = tmp_path / "listening"
    helper = """
    import pathlib, sys, time
    time.sleep(0.3)
    pathlib.Path(sys.argv[1]).write_text("up")
    print("ready on port 4222")
    """
    main = "import pathlib, sys; sys.exit(0 if pathlib.Path(sys.argv[1]).exists() else 1)"
    specs = [
        ChildSpec("analyzer", py(helper, FOREVER, args=(marker,)), ready_line="ready"),
        ChildSpec("kernel", py(main, args=(marker,)), main=True),
    ]
    assert await Supervisor(specs, tmp_path, **FAST).run() == 0


@pytest.mark.asyncio
async def test_a_helper_never_ready_or_gone_before_ready_raises_naming_it_and_its_log(
    tmp_path: Path,
) -> None:
    specs = [
        ChildSpec("mute", py(FOREVER), ready_line="ready"),
        ChildSpec("kernel", py("pass"), main=True),
    ]
    with pytest.raises(
        TradeswarmError, match=r"'mute' was not ready within 0.3 s.*'ready'.*mute\.log"
    ):
        await Supervisor(specs, tmp_path, ready_timeout_s=0.3, **FAST).run()
    specs[0] = ChildSpec("quitter", py("pass"), ready_line="ready", restart=False)
    with pytest.raises(
        TradeswarmError, match=r"'quitter' exited \(code 0\).*'ready'.*quitter\.log"
    ):
        await Supervisor(specs, tmp_path, **FAST).run()


@pytest.mark.asyncio
async def test_more_than_max_restarts_stops_the_run_and_names_the_child_and_log(
    tmp_path: Path,
) -> None:
    main_pid = tmp_path / "kernel.pid"
    crash_once_main_runs = """
    import pathlib, sys, time
    while not pathlib.Path(sys.argv[1]).exists():
        time.sleep(0.01)
    sys.exit(3)
    """
    specs = [
        ChildSpec("flaky", py(crash_once_main_runs, args=(main_pid,))),
        ChildSpec("kernel", py(WRITE_PID, FOREVER, args=(main_pid,)), main=True),
    ]
    sup = Supervisor(specs, tmp_path / "logs", max_restarts=2, **FAST)
    log = tmp_path / "logs" / "flaky.log"
    with pytest.raises(TradeswarmError) as caught:
        await sup.run()
    assert "'flaky'" in str(caught.value) and "last exit code 3" in str(caught.value)
    assert str(log) in str(caught.value)
    assert by_name(sup)["flaky"].restarts == 2 and len(headers(log)) == 3
    assert_gone(main_pid)
    flaky, kernel = by_name(sup)["flaky"], by_name(sup)["kernel"]
    assert (flaky.state, flaky.last_exit) == (ChildState.EXITED, 3)
    assert kernel.state == ChildState.STOPPED and kernel.pid is None


@pytest.mark.asyncio
async def test_when_main_exits_a_helper_ignoring_sigterm_is_killed_after_grace(
    tmp_path: Path,
) -> None:
    helper_pid = tmp_path / "stubborn.pid"
    ignore = "import signal; signal.signal(signal.SIGTERM, signal.SIG_IGN)"
    stubborn = py(ignore, WRITE_PID, "print('ready')", FOREVER, args=(helper_pid,))
    specs = [
        ChildSpec("stubborn", stubborn, ready_line="ready"),
        ChildSpec("kernel", py("pass"), main=True),
    ]
    sup = Supervisor(specs, tmp_path, **FAST)
    assert await sup.run() == 0
    assert by_name(sup)["stubborn"].last_exit == -signal.SIGKILL
    assert_gone(helper_pid)


def dead_or_zombie(pid: int) -> bool:
    """True once the orphan is gone or only awaits its reaper (pid 1 in a container may be slow)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"


@pytest.mark.asyncio
async def test_what_a_helper_started_goes_with_it(tmp_path: Path) -> None:
    grandchild_pid = tmp_path / "grandchild.pid"
    helper = """
    import pathlib, subprocess, sys, time
    subprocess.Popen(sys.argv[2:])
    while not pathlib.Path(sys.argv[1]).exists():
        time.sleep(0.01)
    print("ready")
    """
    grandchild = py(WRITE_PID, FOREVER, args=(grandchild_pid,))
    specs = [
        ChildSpec(
            "spawner",
            [*py(helper, FOREVER, args=(grandchild_pid,)), *grandchild],
            ready_line="ready",
        ),
        ChildSpec("kernel", py("pass"), main=True),
    ]
    assert await Supervisor(specs, tmp_path, **FAST).run() == 0
    await until(lambda: dead_or_zombie(int(grandchild_pid.read_text())))


@pytest.mark.asyncio
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
async def test_a_stop_signal_to_the_supervisor_returns_128_plus_it_and_leaves_no_child(
    tmp_path: Path, sig: signal.Signals, code: int
) -> None:
    pids = [tmp_path / "analyzer.pid", tmp_path / "kernel.pid"]
    specs = [
        ChildSpec("analyzer", py(WRITE_PID, FOREVER, args=(pids[0],))),
        ChildSpec("kernel", py(WRITE_PID, FOREVER, args=(pids[1],)), main=True),
    ]
    sup = Supervisor(specs, tmp_path, **FAST)
    before = signal.getsignal(sig)

    async def send() -> None:
        await until(lambda: all(p.exists() for p in pids))
        os.kill(os.getpid(), sig)

    sender = asyncio.create_task(send())
    assert await sup.run() == code
    await sender
    for pid in pids:
        assert_gone(pid)
    assert signal.getsignal(sig) == before, "run() put the previous handler back"


@pytest.mark.asyncio
async def test_stop_ends_the_run_like_sigterm(tmp_path: Path) -> None:
    sup = Supervisor([ChildSpec("kernel", py(FOREVER), main=True)], tmp_path, **FAST)
    running = asyncio.create_task(sup.run())
    await until(lambda: sup.status()[0].pid is not None)
    await sup.stop()
    assert running.done() and running.result() == 143
    assert sup.status()[0].state == ChildState.STOPPED


@pytest.mark.asyncio
async def test_kill_child_crashes_a_helper_which_is_then_restarted(tmp_path: Path) -> None:
    stop = tmp_path / "stop"
    main = """
    import pathlib, sys, time
    while not pathlib.Path(sys.argv[1]).exists():
        time.sleep(0.01)
    """
    specs = [
        ChildSpec("analyzer", py("print('ready')", FOREVER), ready_line="ready"),
        ChildSpec("kernel", py(main, args=(stop,)), main=True),
    ]
    sup = Supervisor(specs, tmp_path, **FAST)
    running = asyncio.create_task(sup.run())
    await until(lambda: by_name(sup)["kernel"].pid is not None)
    sup.kill_child("analyzer")
    await until(lambda: by_name(sup)["analyzer"].restarts == 1)
    await until(lambda: by_name(sup)["analyzer"].state == ChildState.READY)
    stop.touch()
    assert await running == 0
    assert len(headers(tmp_path / "analyzer.log")) == 2
    with pytest.raises(TradeswarmError, match="not running"):
        sup.kill_child("analyzer")


@pytest.mark.asyncio
async def test_a_main_child_that_cannot_start_raises(tmp_path: Path) -> None:
    specs = [ChildSpec("kernel", [str(tmp_path / "no-such-binary")], main=True)]
    with pytest.raises(TradeswarmError, match=r"'kernel'.*no-such-binary"):
        await Supervisor(specs, tmp_path, **FAST).run()


@pytest.mark.parametrize(
    ("specs", "field"),
    [
        ([ChildSpec("a", ["x"], main=True), ChildSpec("b", ["x"], main=True)], "children"),
        ([ChildSpec("a", ["x"]), ChildSpec("b", ["x"])], "children"),
        ([ChildSpec("a", ["x"], main=True), ChildSpec("a", ["y"])], "children.name"),
        ([ChildSpec("../a", ["x"], main=True)], "children.name"),
        ([ChildSpec("a", [], main=True)], "children[a].argv"),
    ],
    ids=["two-mains", "no-main", "duplicate-name", "path-name", "empty-argv"],
)
def test_invalid_specs_raise_configuration_error_naming_the_field(
    tmp_path: Path, specs: list[ChildSpec], field: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Supervisor(specs, tmp_path)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}=")


ROW_STATES = ["state", "running", "stopped"]


def test_format_status_lines_up_the_columns() -> None:
    rows = [
        ChildStatus("kernel", 4242, ChildState.RUNNING, 0, None, 1),
        ChildStatus("analyzer", None, ChildState.STOPPED, 2, -9, 1),
    ]
    lines = format_status(rows).splitlines()
    assert lines[0].split() == ["name", "state", "pid", "restarts", "last", "exit"]
    assert lines[1].split() == ["kernel", "running", "4242", "0", "-"]
    assert lines[2].split() == ["analyzer", "stopped", "-", "2", "-9", "(SIGKILL)"]
    starts = {line.index(word) for line, word in zip(lines, ROW_STATES, strict=True)}
    assert len(starts) == 1, "the state column starts at one place on every line"


@pytest.mark.asyncio
async def test_a_helper_that_ran_stable_s_before_it_crashed_starts_its_count_again(
    tmp_path: Path,
) -> None:
    """Each crash comes after the helper ran longer than stable_s: never max_restarts
    in a row, however many crashes in all; the run ends with the main child."""
    crash_later = """
    import sys, time
    time.sleep(0.3)
    sys.exit(3)
    """
    main = """
    import time
    time.sleep(2.0)
    """
    specs = [ChildSpec("flaky", py(crash_later)), ChildSpec("kernel", py(main), main=True)]
    sup = Supervisor(specs, tmp_path / "logs", max_restarts=1, stable_s=0.2, **FAST)
    assert await sup.run() == 0
    assert by_name(sup)["flaky"].restarts >= 2  # more than max_restarts in all


def test_a_negative_max_restarts_is_refused(tmp_path: Path) -> None:
    specs = [ChildSpec("kernel", [sys.executable, "-c", "pass"], main=True)]
    with pytest.raises(ConfigurationError, match="max_restarts"):
        Supervisor(specs, tmp_path, max_restarts=-1)
