"""`tradeswarm demo`: five agents trade a day of real market data, and tell the story."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path

from tradeswarm.bus.transport import Transport
from tradeswarm.core.clock import SimClock, SimSleeper
from tradeswarm.core.errors import InvalidInput
from tradeswarm.data.csv_bars import BUNDLED_FILE, BUNDLED_SYMBOL, bundled_bars
from tradeswarm.data.replay import pick_day, split_days
from tradeswarm.model.messages import DailySummary
from tradeswarm.system.agents import AGENTS
from tradeswarm.system.config import SwarmConfig
from tradeswarm.system.narrate import Narrator, audit_lines, hhmmss
from tradeswarm.system.operator import ScriptedOperator
from tradeswarm.system.replay import DayReplay
from tradeswarm.system.status import swarm_status
from tradeswarm.system.swarm import Swarm

Emit = Callable[[str], None]


def _intro(config: SwarmConfig, emit: Emit) -> None:
    emit("tradeswarm demo — paper trading on the SimClock (no real money, no network)")
    emit(
        f"  market data : {BUNDLED_FILE}: real one-minute bars of an index future "
        f"(backtrader test data), traded as symbol {config.symbol}"
    )
    emit(
        f"  synthesized : bid/ask quotes (bar close ± {config.quote_spread / 2}); the human "
        f"approver {config.operator.approver} is scripted (answers request 1, 3, 5 …; "
        "ignores 2, 4 …)"
    )
    emit(f"  day         : {config.day} (the day before warms the indicators up)")
    emit("agents provisioned:")
    for agent in AGENTS:
        emit(f"  ✓ {agent.name:<22} ({agent.slot})")


def _summary(s: DailySummary, emit: Emit) -> None:
    emit(f"end-of-day compliance summary — {s.day}")
    emit(f"  trades executed    : {s.trades}")
    emit(f"  total volume       : ${s.volume:,.2f}")
    emit(f"  oversight requests : {s.oversight_requests}")
    emit(f"  human approvals    : {s.approvals}")
    emit(f"  human denials      : {s.denials}")
    emit(f"  auto-denials       : {s.auto_denials}")
    emit(f"  risk events        : {s.risk_events}")
    emit(f"  compliance flags   : {s.flags}")


async def run_demo(
    db: str | Path,
    config: SwarmConfig,
    emit: Emit,
    until: str | None = None,
    wire: Transport | None = None,
    seen: list[Swarm] | None = None,
    trace_replay: bool = False,
) -> DailySummary | None:
    """Replay config.day on db; resume if db already holds part of the day. wire: a
    connected transport (default: the one `[bus]` names, connected here; closed at the
    end either way); seen: the swarm is appended to it (for a benchmark's counters);
    trace_replay: see `Swarm` (a trace's replay)."""
    if config.symbol != BUNDLED_SYMBOL:
        raise InvalidInput("symbol", config.symbol, f"the bundled data has only {BUNDLED_SYMBOL}")
    history, day = pick_day(split_days(bundled_bars()), config.day)
    until_ns = _until_ns(day.session.day, until)  # before anything is created
    clock = SimClock()
    if wire is None:  # before any file: an absent server creates nothing
        wire = await _connect_wire(config)
    try:
        swarm = Swarm(config, db, clock, SimSleeper(clock), wire=wire, trace_replay=trace_replay)
    except BaseException:
        if wire is not None:
            await wire.close()
        raise
    if seen is not None:
        seen.append(swarm)
    try:
        operator = ScriptedOperator(swarm.store, clock, config.operator, swarm.human_signer())
        replay = DayReplay(swarm, clock, operator)
        _intro(config, emit)
        Narrator(swarm.bus, emit, swarm.store)
        replay.warm_up(history)
        summary = await replay.run(day, until_ns)
        if replay.resumed_from:
            emit(
                f"(resumed this store after {hhmmss(replay.resumed_from)}; work already done "
                "was not redone)"
            )
        if summary is None:
            emit(f"stopped at {until} as asked; run again on the same --db to resume")
        else:
            _summary(summary, emit)
        status = await swarm_status(swarm.store, swarm.broker)
        emit(
            f"books: {status['orders']} orders, {status['fills']} fills, duplicate client "
            f"order ids {status['duplicate_client_order_ids']}, reconciled with broker: "
            f"{status['reconciled']}"
        )
        for line in audit_lines(swarm.store, swarm.audit):
            emit(line)
        return summary
    finally:
        swarm.close()
        if wire is not None:
            _report_wire(swarm)
            await wire.close()


async def _connect_wire(config: SwarmConfig) -> Transport | None:
    """The server `[bus]` names, connected; None for the in-process bus."""
    if config.bus.backend == "memory":
        return None
    from tradeswarm.bus.factory import open_transport

    wire = open_transport(config.bus.transport())
    await wire.connect()
    return wire


def _report_wire(swarm: Swarm) -> None:
    """On stderr, so that the story stays the story: what the wire did not take."""
    shipper = swarm.shipper
    if shipper is not None and shipper.degraded:
        print(
            "warning: the bus server did not take every log entry; they wait in the store "
            "and go out on the next run on this --db",
            file=sys.stderr,
        )


def _until_ns(day: str, until: str | None) -> int | None:
    if until is None:
        return None
    import datetime as dt

    try:
        stamp = dt.datetime.fromisoformat(f"{day}T{until}").replace(tzinfo=dt.UTC)
    except ValueError as err:
        raise InvalidInput("--until", until, "expected HH:MM") from err
    return int(stamp.timestamp()) * 1_000_000_000


def demo(db: str | Path, config: SwarmConfig, emit: Emit, until: str | None = None) -> None:
    asyncio.run(run_demo(db, config, emit, until))
