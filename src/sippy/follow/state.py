"""Where `sippy follow` stopped, and where each run it found stands (tables follow_*).

Every change is a conditional write, so several followers (and the workers running their
tasks) can share one database: a run is discovered by whoever inserts its row, queued by
whoever moves it out of `pending`, and its load is recorded by the task that ran it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from sippy.db import models as m
from sippy.db.writes import insert_new

MAX_ATTEMPTS = 5  # loads of one run before it is given up (each after a longer pause)
RETRY_FIRST = 30.0  # seconds before the first retry of a failed load; doubles each time
RECHECK_AFTER = 600.0  # seconds after its first load that a run is looked at once more


@dataclass(slots=True)
class Folder:
    id: int
    location: str  # as `sippy load` takes it: a local path or gs://bucket/path
    job: str
    cursor: int
    mtime_ns: int | None


@dataclass(slots=True)
class Due:
    """A run to queue now."""

    id: int
    location: str


_FOLDERS = select(
    m.FollowFolder.id,
    m.FollowFolder.location,
    m.FollowFolder.job,
    m.FollowFolder.cursor,
    m.FollowFolder.mtime_ns,
)


def known_folders(session: Session) -> dict[str, Folder]:
    return {row.location: Folder(*row) for row in session.execute(_FOLDERS)}


def add_folder(session: Session, location: str, job: str) -> Folder:
    """The folder's row, made if new (another follower may have made it first)."""
    insert_new(
        session, m.FollowFolder, {"location": location, "job": job, "cursor": 0}, ["location"]
    )
    return Folder(*session.execute(_FOLDERS.where(m.FollowFolder.location == location)).one())


def advance_folder(session: Session, folder: Folder, cursor: int, mtime_ns: int | None) -> None:
    """Record a listing: the cursor only moves forward, whoever wrote last."""
    now = datetime.now(UTC)
    session.execute(
        update(m.FollowFolder)
        .where(m.FollowFolder.id == folder.id)
        .values(
            cursor=func.greatest(m.FollowFolder.cursor, cursor)
            if session.get_bind().dialect.name == "postgresql"
            else func.max(m.FollowFolder.cursor, cursor),
            mtime_ns=mtime_ns,
            listed_at=now,
        )
    )
    folder.cursor = max(folder.cursor, cursor)
    folder.mtime_ns = mtime_ns


def known_builds(session: Session, folder_id: int, since: int) -> set[int]:
    """Build ids of a folder's runs already found, from `since` on."""
    rows = session.scalars(
        select(m.FollowRun.build_id).where(
            m.FollowRun.folder_id == folder_id, m.FollowRun.build_id >= since
        )
    )
    return set(rows)


def add_runs(session: Session, folder: Folder, runs: Iterable[tuple[str, int]]) -> int:
    """New runs (location, build id) as pending; returns how many this caller added."""
    now = datetime.now(UTC)
    added = 0
    for location, build_id in runs:
        row = {
            "location": location,
            "folder_id": folder.id,
            "build_id": build_id,
            "state": "pending",
            "attempts": 0,
            "why": "",
            "result": "",
            "discovered_at": now,
        }
        added += insert_new(session, m.FollowRun, row, ["location"])
    return added


def pending_runs(session: Session) -> list[Due]:
    rows = session.execute(
        select(m.FollowRun.id, m.FollowRun.location).where(m.FollowRun.state == "pending")
    )
    return [Due(*row) for row in rows]


def mark_finished(session: Session, run_id: int, finished_at: datetime) -> bool:
    """Pending -> queued; False if another follower moved it first."""
    now = datetime.now(UTC)
    moved = session.execute(
        update(m.FollowRun)
        .where(m.FollowRun.id == run_id, m.FollowRun.state == "pending")
        .values(state="queued", finished_at=finished_at, queued_at=now)
    )
    return moved.rowcount == 1  # type: ignore[attr-defined]


def due_again(session: Session, now: datetime | None = None) -> list[Due]:
    """Failed loads whose pause is over, and loaded runs due for their one re-check; each
    moved to queued here (conditionally: one follower takes each)."""
    now = now or datetime.now(UTC)
    rows = session.execute(
        select(m.FollowRun.id, m.FollowRun.location, m.FollowRun.state).where(
            m.FollowRun.state.in_(("failed", "loaded")), m.FollowRun.recheck_at <= now
        )
    ).all()
    due = []
    for row in rows:
        moved = session.execute(
            update(m.FollowRun)
            .where(m.FollowRun.id == row.id, m.FollowRun.state == row.state)
            .values(state="queued", queued_at=now, recheck_at=None)
        )
        if moved.rowcount == 1:  # type: ignore[attr-defined]
            due.append(Due(row.id, row.location))
    return due


def queued_before(session: Session, before: datetime) -> list[Due]:
    """Runs queued before `before` and still not recorded as loaded or failed: the queue
    may have lost them (a restart of an in-process queue, a crash between queuing and the
    queue's commit, a task that died on a database error)."""
    rows = session.execute(
        select(m.FollowRun.id, m.FollowRun.location).where(
            m.FollowRun.state == "queued",
            or_(m.FollowRun.queued_at.is_(None), m.FollowRun.queued_at < before),
        )
    )
    return [Due(*row) for row in rows]


@dataclass(slots=True)
class Recorded:
    """What a task recorded on a followed run."""

    first: bool  # the first time it happened to this run (a load, a summary)
    finished_at: datetime | None  # when the run's finished.json appeared

    def lag(self) -> float | None:
        """Seconds from finished.json to now, the first time; else None."""
        if not self.first or self.finished_at is None:
            return None
        finished = self.finished_at
        if finished.tzinfo is None:  # SQLite hands back naive UTC
            finished = finished.replace(tzinfo=UTC)
        return max(0.0, (datetime.now(UTC) - finished).total_seconds())


def record_load(
    session: Session, location: str, *, ok: bool, result: str = "", why: str = ""
) -> Recorded | None:
    """What a load task found, on the run's row (None if `follow` did not find this run)."""
    run = session.scalar(select(m.FollowRun).where(m.FollowRun.location == location))
    if run is None:
        return None
    now = datetime.now(UTC)
    first = ok and run.loaded_at is None
    if ok:
        run.state, run.result, run.why = "loaded", result, ""
        run.loaded_at = now if first else run.loaded_at
        run.recheck_at = now + timedelta(seconds=RECHECK_AFTER) if first else None
    else:
        run.attempts += 1
        run.why = why[:2000]
        if run.attempts >= MAX_ATTEMPTS:
            run.state, run.recheck_at = "gave_up", None
        else:
            run.state = "failed"
            run.recheck_at = now + timedelta(seconds=RETRY_FIRST * 2 ** (run.attempts - 1))
    return Recorded(first, run.finished_at)


def record_summary(session: Session, build_id: int, *, why: str = "") -> Recorded | None:
    """A summary stored (or, with `why`, not) for a followed run."""
    run = session.scalar(
        select(m.FollowRun)
        .where(m.FollowRun.build_id == build_id)
        .order_by(m.FollowRun.id.desc())
        .limit(1)
    )
    if run is None:
        return None
    if why:
        run.why = f"summary: {why}"[:2000]
        return Recorded(False, run.finished_at)
    first = run.summarized_at is None
    if first:
        run.summarized_at = datetime.now(UTC)
    return Recorded(first, run.finished_at)


def counts(session: Session) -> dict[str, int]:
    """Runs by state (for /healthz and the metrics)."""
    rows = session.execute(select(m.FollowRun.state, func.count()).group_by(m.FollowRun.state))
    return {state: int(n) for state, n in rows}


def stalled_since(session: Session, before: datetime) -> int:
    """Runs queued before `before` and still not loaded (a sign of no running worker)."""
    return (
        session.scalar(
            select(func.count()).where(
                m.FollowRun.state == "queued",
                or_(m.FollowRun.queued_at.is_(None), m.FollowRun.queued_at < before),
            )
        )
        or 0
    )
