"""Where tasks run: procrastinate's queue on PostgreSQL, or this process (SQLite).

Why procrastinate: it keeps its queue in the PostgreSQL we already run (no broker to
deploy, back up or monitor; one database is all that replicas on several machines share);
it is asyncio-native like the rest of sippy; workers take jobs with `SELECT ... FOR UPDATE
SKIP LOCKED`, beat a heartbeat, and the jobs of a worker whose heartbeat stopped (killed,
its machine lost) can be found and retried; a queueing lock keeps one waiting job per run
and a lock keeps two jobs of one run from running at once. Celery, Dramatiq or arq would
need Redis (or RabbitMQ) beside the database, and at-least-once delivery there depends on
visibility timeouts rather than a heartbeat.

SQLite has no server for processes on several machines to share, so with it the same task
functions run in the process that finds the work (`follow`, or `serve --follow`), at most
`concurrency` at a time. What is queued there is also in `follow_runs`, so a restart loses
nothing: runs still queued are queued again when the follower starts.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.engine import make_url

from sippy.tasks import work

log = logging.getLogger(__name__)

NAMESPACE = "sippy"
QUEUE = "sippy"
SUMMARY_ATTEMPTS = 3  # tries of one summary (the model may be away for a moment)
SUMMARY_WAIT = 5.0  # seconds before the second try; doubles
STALLED_AFTER = 3  # heartbeats missed before a worker counts as gone and its jobs are retried


def task_name(name: str) -> str:
    return f"{NAMESPACE}:{name}"


# --- this process ---------------------------------------------------------------------------


class InProcessQueue:
    """Runs tasks in this process, `concurrency` at a time, one per run at a time."""

    def __init__(self, concurrency: int) -> None:
        self.ctx: work.TaskContext | None = None  # set once the context exists
        self._concurrency = concurrency
        self._semaphore: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._keys: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def load(self, location: str) -> bool:
        return self._start(f"load:{location}", lambda ctx: work.load_run(ctx, location), 1)

    async def summarize(self, run_id: int) -> bool:
        return self._start(
            f"summary:{run_id}", lambda ctx: work.summarize_run(ctx, run_id), SUMMARY_ATTEMPTS
        )

    async def load_payload(self, url: str) -> bool:
        return self._start(f"payload:{url}", lambda ctx: work.load_payload(ctx, url), 1)

    async def themes(self, release_tag: str) -> bool:
        return self._start(
            f"themes:{release_tag}",
            lambda ctx: work.payload_themes(ctx, release_tag),
            SUMMARY_ATTEMPTS,
        )

    async def depth(self) -> int:
        return len(self._keys)

    async def holds(self, locations: list[str]) -> set[str]:
        return {location for location in locations if f"load:{location}" in self._keys}

    async def drain(self) -> None:
        """Wait until nothing is queued or running (tasks may queue more tasks)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _start(
        self, key: str, run: Callable[[work.TaskContext], Awaitable[Any]], attempts: int
    ) -> bool:
        if key in self._keys:
            return False
        self._keys.add(key)
        task = asyncio.create_task(self._run(key, run, attempts), name=key)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def _run(
        self, key: str, run: Callable[[work.TaskContext], Awaitable[Any]], attempts: int
    ) -> None:
        loop = asyncio.get_running_loop()
        if self._semaphore is None or self._loop is not loop:  # one per event loop
            self._semaphore, self._loop = asyncio.Semaphore(self._concurrency), loop
        assert self.ctx is not None, "InProcessQueue.ctx is not set"
        try:
            async with self._semaphore:
                for attempt in range(1, attempts + 1):
                    try:
                        await run(self.ctx)
                        return
                    except work.RetryLater as exc:
                        if attempt == attempts:
                            log.warning("task %s failed %d times: %s", key, attempt, exc)
                            return
                        await asyncio.sleep(SUMMARY_WAIT * 2 ** (attempt - 1))
                    except Exception:
                        log.exception("task %s failed", key)
                        return
        finally:
            self._keys.discard(key)


# --- PostgreSQL: procrastinate --------------------------------------------------------------


def conninfo_for(database_dsn: str) -> str:
    """libpq's form of a PostgreSQL DSN (no SQLAlchemy driver name)."""
    url = make_url(database_dsn.replace("postgres://", "postgresql://", 1))
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def is_shared(database_dsn: str) -> bool:
    """Does this database hold a queue that several processes can share?"""
    return make_url(database_dsn.replace("postgres://", "postgresql://", 1)).get_backend_name() == (
        "postgresql"
    )


def build_app(database_dsn: str):  # type: ignore[no-untyped-def]
    """The procrastinate App over the deployment's database, with sippy's tasks."""
    import procrastinate

    from sippy.tasks.jobs import blueprint

    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(
            conninfo=conninfo_for(database_dsn),
            kwargs={"application_name": "sippy-tasks", "client_encoding": "utf8"},
        )
    )
    app.add_tasks_from(blueprint, namespace=NAMESPACE)
    return app


class SharedQueue:
    """Tasks into procrastinate's queue, for any `sippy worker` to run."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def load(self, location: str) -> bool:
        return await self._defer("load_run", f"load:{location}", location=location)

    async def summarize(self, run_id: int) -> bool:
        return await self._defer("summarize_run", f"summary:{run_id}", run_id=run_id)

    async def load_payload(self, url: str) -> bool:
        return await self._defer("load_payload", f"payload:{url}", url=url)

    async def themes(self, release_tag: str) -> bool:
        return await self._defer("payload_themes", f"themes:{release_tag}", release_tag=release_tag)

    async def holds(self, locations: list[str]) -> set[str]:
        rows = await self.app.connector.execute_query_all_async(
            "SELECT queueing_lock FROM procrastinate_jobs WHERE queue_name = %(queue)s "
            "AND status IN ('todo', 'doing') AND queueing_lock = ANY(%(locks)s)",
            queue=QUEUE,
            locks=[f"load:{location}" for location in locations],
        )
        return {row["queueing_lock"].removeprefix("load:") for row in rows}

    async def depth(self) -> int:
        """Tasks waiting to start."""
        return await self._count("status = 'todo'")

    async def pending(self) -> int:
        """Tasks waiting or running (due now: a retry scheduled later does not count)."""
        return await self._count(
            "(status = 'todo' AND (scheduled_at IS NULL OR scheduled_at <= now()))"
            " OR status = 'doing'"
        )

    async def _count(self, where: str) -> int:
        row = await self.app.connector.execute_query_one_async(
            f"SELECT count(*) AS n FROM procrastinate_jobs WHERE queue_name = %(queue)s "
            f"AND ({where})",
            queue=QUEUE,
        )
        return int(row["n"])

    async def _defer(self, name: str, lock: str, **args: Any) -> bool:
        from procrastinate.exceptions import AlreadyEnqueued

        task = self.app.configure_task(task_name(name), queueing_lock=lock, lock=lock, queue=QUEUE)
        try:
            await task.defer_async(**args)
        except AlreadyEnqueued:
            return False  # the same task is already waiting: one is enough
        return True


async def recover_stalled(app: Any, stalled_after: float) -> int:
    """Put back in the queue the jobs of workers whose heartbeat stopped (killed, lost)."""
    jobs = await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=stalled_after)
    recovered = 0
    for job in jobs:
        try:
            await app.job_manager.retry_job(job)
            recovered += 1
            log.warning("job %s (%s) of a stopped worker is queued again", job.id, job.task_name)
        except Exception as exc:  # another worker recovered it first
            log.debug("could not retry stalled job %s: %s", job.id, exc)
    return recovered


async def recover_forever(app: Any, stalled_after: float, every: float) -> None:
    """recover_stalled, every `every` seconds (with jitter, so workers spread out)."""
    while True:
        await asyncio.sleep(every * random.uniform(0.5, 1.0))
        try:
            await recover_stalled(app, stalled_after)
        except Exception as exc:  # the database is away: try again next time
            log.warning("checking for stalled jobs failed: %s", exc)
