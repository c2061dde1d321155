"""Model slots shared by processes: never more holders than slots, a killed holder's slot
freed at once, and a clear timeout when none comes free."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import time
from pathlib import Path

import pytest

from sippy.ai.limits import FileSlots, PostgresSlots, ProcessSlots, SlotTimeout, slots_for

SLOTS = 2


def _hold(dsn: str, log: str, hold_for: float) -> None:
    """Child process: take a slot, note when it was held, let it go."""

    async def run() -> None:
        slots = slots_for(dsn, SLOTS)
        async with slots.hold(SLOTS, time.monotonic() + 30):
            start = time.time()
            await asyncio.sleep(hold_for)
            with open(log, "a") as out:
                out.write(f"{start} {time.time()}\n")
        await slots.aclose()

    asyncio.run(run())


def _hold_forever(dsn: str, ready: str) -> None:
    async def run() -> None:
        slots = slots_for(dsn, SLOTS)
        async with slots.hold(SLOTS, time.monotonic() + 30):
            Path(ready).touch()
            await asyncio.sleep(3600)

    asyncio.run(run())


def most_at_once(log: Path) -> int:
    spans = [tuple(map(float, line.split())) for line in log.read_text().splitlines()]
    return max(sum(1 for s, e in spans if s <= start < e) for start, _ in spans)


@pytest.fixture(params=["sqlite", "postgresql"])
def dsn(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'sippy.db'}"
    return request.getfixturevalue("pg_database_dsn")


def test_processes_never_hold_more_slots_than_there_are(dsn, tmp_path):
    log = tmp_path / "held.log"
    spawn = multiprocessing.get_context("spawn")
    children = [spawn.Process(target=_hold, args=(dsn, str(log), 0.4)) for _ in range(6)]
    for child in children:
        child.start()
    for child in children:
        child.join(60)
        assert child.exitcode == 0
    assert len(log.read_text().splitlines()) == 6
    assert most_at_once(log) == SLOTS  # full use, never more


def test_a_killed_holder_frees_its_slot(dsn, tmp_path):
    spawn = multiprocessing.get_context("spawn")
    holders = []
    for n in range(SLOTS):
        ready = tmp_path / f"ready-{n}"
        holder = spawn.Process(target=_hold_forever, args=(dsn, str(ready)))
        holder.start()
        holders.append(holder)
        deadline = time.monotonic() + 30
        while not ready.exists():
            assert time.monotonic() < deadline, "the holder never got a slot"
            time.sleep(0.05)

    async def try_one(wait: float) -> bool:
        slots = slots_for(dsn, SLOTS)
        try:
            async with slots.hold(SLOTS, time.monotonic() + wait):
                return True
        except SlotTimeout:
            return False
        finally:
            await slots.aclose()

    assert asyncio.run(try_one(0.5)) is False  # all taken
    os.kill(holders[0].pid, signal.SIGKILL)
    holders[0].join(10)
    assert asyncio.run(try_one(10)) is True
    holders[1].kill()
    holders[1].join(10)


def test_the_kind_of_slots_follows_the_database(tmp_path):
    assert isinstance(slots_for(f"sqlite:///{tmp_path / 'a.db'}", 4), FileSlots)
    assert isinstance(slots_for("postgresql://u@h/db", 4), PostgresSlots)
    assert isinstance(slots_for("sqlite://", 4), ProcessSlots)  # in memory: one process
