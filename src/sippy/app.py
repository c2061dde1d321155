"""The composition root: the one place that assembles the HTTP API, the web pages and MCP
(and, for `follow` and `worker`, the task queue and the follower) over the library, so every
import below it points down: api, web and mcp never import each other's assembly."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from sqlalchemy import Engine

from sippy import __version__
from sippy.ai.limits import slots_for
from sippy.ai.service import SummaryService
from sippy.api.errors import install_error_handlers
from sippy.api.middleware import MetricsAndCors
from sippy.api.routes import router
from sippy.api.write import write_router
from sippy.db.engine import session_factory, widen_default_executor
from sippy.db.generation import DerivedCache
from sippy.follow.follower import Follower
from sippy.mcp.http import MCPHttpEndpoint
from sippy.mcp.server import build_mcp_server
from sippy.settings import Settings
from sippy.tasks.jobs import CONTEXT_KEY
from sippy.tasks.queue import (
    QUEUE,
    STALLED_AFTER,
    InProcessQueue,
    SharedQueue,
    build_app,
    is_shared,
    recover_forever,
)
from sippy.tasks.work import Precompute, TaskContext
from sippy.web.pages import install_pages


def ai_service(
    settings: Settings, engine: Engine, derived: DerivedCache | None = None
) -> SummaryService:
    """The AI service of one process, its model slots shared with every other process on
    the same database (`serve` workers, task workers, replicas, the CLI)."""
    slots = slots_for(settings.database_dsn, settings.ai_concurrency)
    return SummaryService(settings, session_factory(engine), derived, slots=slots)


@dataclass(frozen=True)
class FollowPlan:
    """What `serve --follow` watches, and how (see `sippy follow`)."""

    sources: list[str]
    precompute: Precompute = "failed"
    jobs: re.Pattern[str] | None = None
    latest: int | None = None


def create_app(settings: Settings, engine: Engine, follow: FollowPlan | None = None) -> FastAPI:
    """Build the app around an engine the caller owns (and has migrated); with `follow`,
    it also follows those sources and runs their tasks while it serves."""
    sessions = session_factory(engine)
    # summaries, evidence, histories: kept until runs change
    derived = DerivedCache(fresh_for=settings.derived_fresh_for)
    ai = ai_service(settings, engine, derived)
    mcp = MCPHttpEndpoint(build_mcp_server(ai), settings.listen)  # shares the AI limits, cache

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        widen_default_executor()
        try:
            async with mcp.running(), AsyncExitStack() as stack:
                if follow is not None:
                    await stack.enter_async_context(
                        background(
                            settings,
                            engine,
                            ai,
                            sources=follow.sources,
                            concurrency=settings.task_concurrency,
                            precompute=follow.precompute,
                            jobs=follow.jobs,
                            latest=follow.latest,
                            interval=settings.follow_interval,
                        )
                    )
                yield
        finally:
            await ai.aclose()

    app = FastAPI(
        title="Sippy AI",
        version=__version__,
        description="Why did this OpenShift CI job run fail? Job-run summaries from artifacts.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = sessions
    app.state.ai = ai
    app.state.derived = derived
    install_error_handlers(app)
    app.add_middleware(MetricsAndCors)
    app.mount("/mcp/v1", mcp)
    app.include_router(router)
    app.include_router(write_router)
    install_pages(app)  # the web pages and their static files
    return app


# --- background work: the task queue, its worker, the follower ------------------------------


@dataclass
class Background:
    """The task queue of this deployment as this process uses it, and what runs here."""

    queue: InProcessQueue | SharedQueue
    context: TaskContext
    follower: Follower | None = None
    running: list[asyncio.Task[Any]] = field(default_factory=list)


@asynccontextmanager
async def background(
    settings: Settings,
    engine: Engine,
    ai: SummaryService,
    *,
    sources: list[str] | None = None,
    concurrency: int = 4,
    precompute: Precompute = "failed",
    jobs: re.Pattern[str] | None = None,
    latest: int | None = None,
    interval: float = 30.0,
) -> AsyncIterator[Background]:
    """Open the task queue; run `concurrency` tasks at a time here (0: none, leave them to
    `sippy worker` processes) and, with `sources`, a follower. On PostgreSQL the queue is
    procrastinate's, shared by every process; on SQLite the tasks run in this process."""
    stop = asyncio.Event()
    async with AsyncExitStack() as stack:
        if is_shared(settings.database_dsn):
            app = build_app(settings.database_dsn)
            await stack.enter_async_context(app.open_async())
            queue: InProcessQueue | SharedQueue = SharedQueue(app)
            context = TaskContext(settings, engine, ai, queue, precompute)
            running = _workers(app, context, settings, concurrency) if concurrency else []
        else:
            if concurrency < 1:
                raise ValueError(
                    "on SQLite, tasks run in the process that queues them: --concurrency >= 1"
                )
            queue = InProcessQueue(concurrency)
            context = TaskContext(settings, engine, ai, queue, precompute)
            queue.ctx = context
            stack.push_async_callback(queue.aclose)
            running = []
        follower = None
        if sources:
            follower = Follower(sources, settings, engine, queue, jobs=jobs, latest=latest)
            running.append(asyncio.create_task(follower.run(interval, stop), name="follower"))
        try:
            yield Background(queue, context, follower, running)
        finally:
            stop.set()
            for task in running:
                task.cancel()  # a worker stops gracefully: running jobs finish first
            await asyncio.gather(*running, return_exceptions=True)


def _workers(
    app: Any, context: TaskContext, settings: Settings, concurrency: int
) -> list[asyncio.Task[Any]]:
    """A procrastinate worker over sippy's queue, and the watch for stalled jobs."""
    heartbeat = settings.task_heartbeat

    def worker_run() -> Awaitable[None]:
        return app.run_worker_async(
            queues=[QUEUE],
            concurrency=concurrency,
            name=f"sippy-{os.getpid()}",
            additional_context={CONTEXT_KEY: context},
            install_signal_handlers=False,
            update_heartbeat_interval=heartbeat,
            stalled_worker_timeout=STALLED_AFTER * heartbeat,
            delete_jobs="successful",
            # stopping lets running tasks finish (each is bounded by its own timeouts); a
            # worker killed before they do has them retried by another (recover_forever)
            shutdown_graceful_timeout=None,
        )

    return [
        asyncio.create_task(_keep_working(worker_run), name="worker"),
        asyncio.create_task(
            recover_forever(app, STALLED_AFTER * heartbeat, every=heartbeat), name="recovery"
        ),
    ]


async def _keep_working(run: Callable[[], Awaitable[None]]) -> None:
    """Run the worker; when it stops by itself (procrastinate stops a worker whose database
    connection broke), start it again after a pause that doubles up to 30 s."""
    log = logging.getLogger("sippy.tasks")
    pause = 1.0
    while True:
        started = time.monotonic()
        try:
            await run()
            log.warning("the task worker stopped; starting it again in %.0f s", pause)
        except Exception as exc:
            log.warning("the task worker failed (%s); starting it again in %.0f s", exc, pause)
        await asyncio.sleep(pause)
        pause = 1.0 if time.monotonic() - started > 60 else min(30.0, pause * 2)


async def run_background(
    settings: Settings,
    engine: Engine,
    *,
    sources: list[str],
    concurrency: int,
    precompute: Precompute = "failed",
    jobs: re.Pattern[str] | None = None,
    latest: int | None = None,
    once: bool = False,
    status: tuple[str, int] | None = None,
) -> None:
    """`sippy follow` and `sippy worker`: run until SIGTERM/SIGINT (or, `once`, until one
    poll's work is done), with the status server (health, metrics) on `status`."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    ai = ai_service(settings, engine)
    try:
        async with (
            background(
                settings,
                engine,
                ai,
                sources=[] if once else sources,
                concurrency=concurrency,
                precompute=precompute,
                jobs=jobs,
                latest=latest,
                interval=settings.follow_interval,
            ) as work,
            _status_server(engine, work, status),
        ):
            if once:
                follower = Follower(sources, settings, engine, work.queue, jobs=jobs, latest=latest)
                report = await follower.poll()
                logging.getLogger("sippy.follow").info(report.line())
                await _settled(work, concurrency)
                return
            waiting = asyncio.create_task(stop.wait())
            await asyncio.wait([waiting, *work.running], return_when=asyncio.FIRST_COMPLETED)
            waiting.cancel()
    finally:
        await ai.aclose()


async def _settled(work: Background, concurrency: int) -> None:
    """Until the queue holds nothing this process (or any worker) still has to do."""
    if isinstance(work.queue, InProcessQueue):
        await work.queue.drain()
        return
    while concurrency and await work.queue.pending() > 0:
        await asyncio.sleep(0.2)


@asynccontextmanager
async def _status_server(
    engine: Engine, work: Background, listen: tuple[str, int] | None
) -> AsyncIterator[None]:
    if listen is None:
        yield
        return
    import uvicorn

    from sippy.follow.follower import follower_details
    from sippy.status import status_app

    def details() -> dict[str, Any]:
        return follower_details(work.follower) if work.follower else {}

    config = uvicorn.Config(
        status_app(engine, details), host=listen[0], port=listen[1], log_level="warning"
    )
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve(), name="status server")
    try:
        yield
    finally:
        server.should_exit = True
        await asyncio.gather(task, return_exceptions=True)
