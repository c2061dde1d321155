"""`sippy follow`: find new finished runs in watched folders and queue their loads.

One poll:
1. Each watched source is walked down to its job folders (the folders holding numbered
   build folders). A job folder already known is not looked into here; a parent folder is
   listed again only when it may have changed (a local folder's mtime) or every
   RESCAN_EVERY polls (GCS has no cheap "changed" flag).
2. Each job folder is asked for the build folders after its cursor (the largest build id
   seen): new runs become `pending` rows.
3. Each pending run is asked whether its finished.json has appeared; finished runs are
   queued for loading (in-progress runs are asked again next poll).
4. Runs whose load failed earlier (after a pause that doubles each time) and runs due for
   their one re-check (their artifacts may have changed after the first load) are queued.
The cost of a poll is one request per job folder and one per run in flight, whatever the
history holds; the cursor, the pending runs and the rest live in the database, so a restart
neither re-lists history nor forgets a run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import PurePosixPath

from sqlalchemy import Engine

from sippy.db.engine import session_factory, session_scope
from sippy.follow import state
from sippy.follow.storage import BUILD_ID, GcsStorage, LocalStorage, WatchedStorage, open_watched
from sippy.follow.streams import changed_tags, stream_of, stream_tags
from sippy.ingest.load import MAX_BUILD_ID
from sippy.ingest.sources import MAX_JOB_DEPTH, SourceError
from sippy.metrics import FOLLOW
from sippy.settings import Settings
from sippy.tasks.work import Queue

log = logging.getLogger(__name__)

RESCAN_EVERY = 10  # polls between listings of GCS parent folders (new job folders are rare)
LOOKBACK_IDS = (6 * 3600 * 1000) << 22  # 6 hours of snowflake build ids (see _list_folder)


@dataclass
class PollReport:
    """What one poll found and did, and what it cost in storage requests."""

    job_folders: int = 0
    folders_listed: int = 0
    discovered: int = 0
    queued: int = 0
    pending: int = 0
    payloads: int = 0  # payload tags queued: new, or their phase changed
    ops: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "jobFolders": self.job_folders,
            "foldersListed": self.folders_listed,
            "discovered": self.discovered,
            "queued": self.queued,
            "inProgress": self.pending,
            "payloadsQueued": self.payloads,
            "storageOperations": dict(self.ops),
            "errors": self.errors[:10],
            "seconds": round(self.seconds, 3),
        }

    def line(self) -> str:
        return (
            f"follow poll: {self.job_folders} job folders ({self.folders_listed} listed), "
            f"{self.discovered} new runs, {self.queued} queued, {self.pending} in progress, "
            f"{self.payloads} payloads; "
            f"storage: {self.ops['list']} listings, {self.ops['stat']} stats, "
            f"{self.ops['read']} reads; "
            f"{self.seconds:.2f}s" + (f"; {len(self.errors)} errors" if self.errors else "")
        )


@dataclass
class _Watched:
    source: str
    storage: WatchedStorage
    root: str


class Follower:
    """Polls the sources; queues loads on `queue`. One per process."""

    def __init__(
        self,
        sources: list[str],
        settings: Settings,
        engine: Engine,
        queue: Queue,
        *,
        jobs: re.Pattern[str] | None = None,
        latest: int | None = None,
    ) -> None:
        self.streams = [stream for source in sources if (stream := stream_of(source))]
        self.sources = [source for source in sources if stream_of(source) is None]
        self.settings = settings
        self.sessions = session_factory(engine)
        self.queue = queue
        self.jobs = jobs
        self.latest = latest  # of a job folder seen for the first time, only its newest N runs
        self._watched: list[_Watched] = []
        self._parents: dict[str, int | None] = {}  # parent folder -> mtime at its listing
        self._children: dict[str, list[str]] = {}  # parent folder -> its subfolders
        self._polls = 0
        self.last: PollReport | None = None  # the last poll's report, for /healthz
        self.last_at: datetime | None = None
        self._local = LocalStorage()
        self._gcs: GcsStorage | None = None

    # --- the loop ---------------------------------------------------------------------

    async def run(self, interval: float, stop: asyncio.Event) -> None:
        """Poll every `interval` seconds until `stop` is set; outages are reported and
        retried with back-off, never fatal."""
        pause = interval
        while not stop.is_set():
            try:
                report = await self.poll()
                self.last, self.last_at = report, datetime.now(UTC)
                FOLLOW.outage.set(1 if report.errors else 0)
                log.info(report.line())
                for error in report.errors[:5]:
                    log.warning("follow: %s", error)
                pause = interval if not report.errors else min(pause * 2, 10 * interval)
            except Exception as exc:  # the database is away: report, back off, go on
                self.last = PollReport(errors=[f"poll failed: {exc}"])
                self.last_at = datetime.now(UTC)
                FOLLOW.outage.set(1)
                FOLLOW.polls.labels("failed").inc()
                log.warning("follow poll failed: %s", exc)
                pause = min(pause * 2, 10 * interval)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), pause)

    async def poll(self) -> PollReport:
        """One poll (see the module docstring); queues what is due."""
        started = time.perf_counter()
        report, due, queued = await asyncio.to_thread(self._poll_storage)
        for url in await asyncio.to_thread(self._changed_payloads, report):
            report.payloads += await self.queue.load_payload(url)
        if queued:  # loads queued long ago and still unrecorded: lost by the queue?
            held = await self.queue.holds([run.location for run in queued])
            due.extend(run for run in queued if run.location not in held)
        for run in due:
            await self.queue.load(run.location)
        report.queued = len(due)
        report.seconds = time.perf_counter() - started
        FOLLOW.poll_seconds.observe(report.seconds)
        FOLLOW.polls.labels("ok" if not report.errors else "partial").inc()
        FOLLOW.runs.labels("discovered").inc(report.discovered)
        FOLLOW.runs.labels("queued").inc(report.queued)
        for op, count in report.ops.items():
            FOLLOW.storage_ops.labels(op).inc(count)
        depth = getattr(self.queue, "depth", None)
        if depth is not None:
            FOLLOW.queue_depth.set(await depth())
        return report

    # --- one poll, off the event loop ---------------------------------------------------

    def _poll_storage(self) -> tuple[PollReport, list[state.Due], list[state.Due]]:
        report = PollReport()
        before = self._ops()
        self._open_sources(report)
        with session_scope(self.sessions) as session:
            folders = state.known_folders(session)
        rescan = self._polls % RESCAN_EVERY == 0
        known = {self._storage_for(location)[1] for location in folders}
        for watched in self._watched:
            for path in self._job_folders(watched, report, rescan, known):
                location = watched.storage.location(path)
                if location not in folders:
                    with session_scope(self.sessions) as session:
                        folders[location] = state.add_folder(session, location, _job_of(path))
        for folder in folders.values():
            if self.jobs is None or self.jobs.search(folder.job):
                self._list_folder(folder, report)
        report.job_folders = len(folders)
        due = self._finished_runs(report)
        with session_scope(self.sessions) as session:
            due.extend(state.due_again(session))
            wait = self.settings.follow_requeue_after
            lost_before = datetime.now(UTC) - timedelta(seconds=wait)
            queued = state.queued_before(session, lost_before) if self._polls % 10 == 0 else []
        report.ops = self._ops() - before
        self._polls += 1
        return report, due, queued

    def _changed_payloads(self, report: PollReport) -> list[str]:
        """Release JSON URLs of the streams' new tags and tags whose phase changed."""
        urls: list[str] = []
        for stream in self.streams:
            try:
                phases = stream_tags(stream)
            except SourceError as exc:
                report.errors.append(str(exc))
                continue
            finally:
                report.ops["read"] += 1
            with session_scope(self.sessions) as session:
                urls.extend(stream.release_url(tag) for tag in changed_tags(session, phases))
        return urls

    def _open_sources(self, report: PollReport) -> None:
        """Open the sources not yet opened (a source that is away is tried each poll)."""
        opened = {w.source for w in self._watched}
        for source in self.sources:
            if source in opened:
                continue
            try:
                storage, root = open_watched(
                    source, self.settings.gcs_endpoint, self.settings.gcs_timeout
                )
            except SourceError as exc:
                report.errors.append(str(exc))
                continue
            if isinstance(storage, GcsStorage):  # one client for every bucket
                self._gcs = self._gcs or storage
                storage = self._gcs
            else:
                storage = self._local
            self._watched.append(_Watched(source, storage, root))

    def _job_folders(
        self, watched: _Watched, report: PollReport, rescan: bool, known: set[str]
    ) -> list[str]:
        """The job folders under a source: the source itself, or folders below it. Known job
        folders are not listed here (their new builds are asked for by cursor); a new
        folder is listed once, to tell a job folder from a parent."""
        if watched.root in known:
            return [watched.root]
        found: list[str] = []
        level = [watched.root]
        for _ in range(MAX_JOB_DEPTH + 1):
            below: list[str] = []
            for folder in level:
                try:
                    names = self._subfolders(watched.storage, folder, rescan)
                except SourceError as exc:
                    report.errors.append(str(exc))
                    continue
                if _holds_builds(folder, names):
                    found.append(folder)
                    self._forget(folder)  # its builds are listed by cursor from now on
                    continue
                for name in names:
                    child = watched.storage.join(folder, name)
                    (found if child in known else below).append(child)
            level = below
            if not level:
                break
        return found

    def _forget(self, folder: str) -> None:
        self._children.pop(folder, None)
        self._parents.pop(folder, None)

    def _subfolders(self, storage: WatchedStorage, folder: str, rescan: bool) -> list[str]:
        """A parent folder's subfolders, listed again only when it may have changed."""
        known = self._children.get(folder)
        if known is not None and isinstance(storage, GcsStorage) and not rescan:
            return known
        listing = storage.subfolders(folder, since=self._parents.get(folder))
        if listing.unchanged and known is not None:
            return known
        self._parents[folder] = listing.mtime_ns
        self._children[folder] = listing.names
        return listing.names

    def _list_folder(self, folder: state.Folder, report: PollReport) -> None:
        """New build folders of one job folder become pending runs.

        Build ids are snowflakes (creation time in milliseconds, shifted left 22 bits), and a
        run's folder appears when its pod starts, which can be after a newer run's: the
        listing starts LOOKBACK before the cursor, and runs of that window not yet known are
        taken too. What it returns is bounded by the runs of that window, not the history.
        """
        storage, path = self._storage_for(folder.location)
        start = max(0, folder.cursor - LOOKBACK_IDS) if folder.cursor else 0
        try:
            listing = storage.subfolders(path, after=start, since=folder.mtime_ns)
        except SourceError as exc:
            report.errors.append(str(exc))
            return
        if listing.unchanged:
            return
        report.folders_listed += 1
        builds = sorted(
            int(n) for n in listing.names if BUILD_ID.match(n) and int(n) <= MAX_BUILD_ID
        )
        if not folder.cursor and self.latest:
            builds = builds[-self.latest :]
        with session_scope(self.sessions) as session:
            late = [b for b in builds if b <= folder.cursor]
            if late:  # in the window: only those never seen
                known = state.known_builds(session, folder.id, late[0])
                builds = [b for b in builds if b > folder.cursor or b not in known]
            runs = [(storage.location(storage.join(path, str(b))), b) for b in builds]
            report.discovered += state.add_runs(session, folder, runs)
            state.advance_folder(
                session, folder, max(builds, default=folder.cursor), listing.mtime_ns
            )

    def _finished_runs(self, report: PollReport) -> list[state.Due]:
        """Pending runs whose finished.json has appeared, moved to queued."""
        with session_scope(self.sessions) as session:
            pending = state.pending_runs(session)
        due: list[state.Due] = []
        for run in pending:
            storage, path = self._storage_for(run.location)
            try:
                finished = storage.finished_at(path)
            except SourceError as exc:
                report.errors.append(str(exc))
                continue
            if finished is None:
                report.pending += 1
                continue
            with session_scope(self.sessions) as session:
                if state.mark_finished(session, run.id, finished):
                    due.append(run)
        return due

    def _storage_for(self, location: str) -> tuple[WatchedStorage, str]:
        if location.startswith("gs://"):
            if self._gcs is None:
                storage, _ = open_watched(
                    location, self.settings.gcs_endpoint, self.settings.gcs_timeout
                )
                self._gcs = storage  # type: ignore[assignment]
            return self._gcs, location.removeprefix("gs://")  # type: ignore[return-value]
        return self._local, location

    def _ops(self) -> Counter[str]:
        total = Counter(self._local.ops)
        if self._gcs is not None:
            total.update(self._gcs.ops)
        return total


def _holds_builds(folder: str, names: list[str]) -> bool:
    """A job folder holds numbered build folders (a PR's `pull/<org_repo>/<number>` do not
    make `pull/<org_repo>` one)."""
    if PurePosixPath(folder).parent.name == "pull":
        return False
    return any(BUILD_ID.match(name) for name in names)


def _job_of(path: str) -> str:
    return PurePosixPath(path).name


def follower_details(follower: Follower) -> dict[str, object]:
    """What /healthz says of a follower."""
    last = follower.last
    return {
        "lastPoll": None
        if last is None
        else {"at": follower.last_at.isoformat() if follower.last_at else None, **last.as_dict()},
        "outage": bool(last and last.errors),
    }
