"""The tasks themselves, as plain functions: load a run, store its AI summary.

The same functions run in a `sippy worker` (from the PostgreSQL queue) and in-process (the
embedded SQLite default). Each is safe to run twice: a load finds an unchanged run
unchanged, and a summary already stored is found in the cache.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Literal, Protocol

from sqlalchemy import Engine

from sippy.ai.client import ModelError
from sippy.ai.service import SummaryService
from sippy.db.engine import session_factory, session_scope
from sippy.follow import state
from sippy.ingest.load import load_sources
from sippy.ingest.payload import REJECTED
from sippy.metrics import FOLLOW
from sippy.settings import Settings

log = logging.getLogger(__name__)

Precompute = Literal["failed", "all", "none"]
PASSED = "S"  # Sippy's result letter for a successful run


class Queue(Protocol):
    """Where tasks go: the PostgreSQL queue, or this process (see tasks.queue)."""

    async def load(self, location: str) -> bool: ...

    async def summarize(self, run_id: int) -> bool: ...

    async def load_payload(self, url: str) -> bool: ...

    async def themes(self, release_tag: str) -> bool: ...

    async def holds(self, locations: list[str]) -> set[str]:
        """Those of `locations` whose load is waiting or running."""
        ...


@dataclass
class TaskContext:
    """What every task needs; one per process."""

    settings: Settings
    engine: Engine
    ai: SummaryService
    queue: Queue
    precompute: Precompute = "failed"


class RetryLater(Exception):
    """A failure worth another try after a pause (the model or the database was away)."""


async def load_run(ctx: TaskContext, location: str) -> str:
    """Load one run folder; record the outcome on its follow row; queue its summary.

    A run that fails to load is recorded with why (the follower tries it again later, a
    bounded number of times); the rest of the work is never held up by it.
    """
    report = await asyncio.to_thread(load_sources, [location], ctx.settings, ctx.engine)
    outcome = report.outcomes[0] if report.outcomes else None
    ok = outcome is not None and outcome.status in ("loaded", "unchanged")
    why = "; ".join(report.source_errors) or (outcome.why if outcome else "no run found")
    result = ""
    if ok and outcome is not None and outcome.run_id is not None:
        result = await asyncio.to_thread(_result_of, ctx, outcome.run_id)
    recorded = await asyncio.to_thread(_record_load, ctx, location, ok, result, why)
    FOLLOW.runs.labels(outcome.status if outcome else "failed").inc()
    if not ok:
        log.warning("could not load %s: %s", location, why)
        return "failed"
    assert outcome is not None and outcome.run_id is not None
    if recorded is not None and (lag := recorded.lag()) is not None:
        FOLLOW.lag.labels("loaded").observe(lag)
    if _wants_summary(ctx, result):
        await ctx.queue.summarize(outcome.run_id)
    return outcome.status


async def summarize_run(ctx: TaskContext, run_id: int) -> None:
    """Compute (or find) the run's AI summary, so the first person to ask gets it at once."""
    try:
        await ctx.ai.job_run(run_id)
    except ModelError as exc:
        await asyncio.to_thread(_record_summary, ctx, run_id, exc.message)
        FOLLOW.runs.labels("summary_failed").inc()
        if exc.retryable or exc.status in (503, 504):
            raise RetryLater(exc.message) from exc
        return
    recorded = await asyncio.to_thread(_record_summary, ctx, run_id, "")
    FOLLOW.runs.labels("summarized").inc()
    if recorded is not None and (lag := recorded.lag()) is not None:
        FOLLOW.lag.labels("summarized").observe(lag)


async def load_payload(ctx: TaskContext, url: str) -> str:
    """Load one payload's release JSON (its phase from the stream's tags list); for a newly
    rejected payload, queue its themes (the common causes of its failed jobs)."""
    report = await asyncio.to_thread(load_sources, [url], ctx.settings, ctx.engine)
    outcome = report.payloads[0] if report.payloads else None
    if outcome is None or outcome.status == "failed":
        why = outcome.why if outcome else "; ".join(report.source_errors) or "nothing loaded"
        FOLLOW.runs.labels("payload_failed").inc()
        log.warning("could not load payload %s: %s", url, why)
        return "failed"
    FOLLOW.runs.labels("payload_loaded").inc()
    if outcome.phase == REJECTED and ctx.ai.client is not None and ctx.precompute != "none":
        await ctx.queue.themes(outcome.release_tag)
    return outcome.status


async def payload_themes(ctx: TaskContext, release_tag: str) -> None:
    """Name the themes of a rejected payload ahead of the first person to ask."""
    from sippy.ai.themes import payload_themes as themes_of

    try:
        await themes_of(ctx.ai, release_tag)
    except ModelError as exc:
        if exc.retryable or exc.status in (503, 504):
            raise RetryLater(exc.message) from exc
        log.warning("themes of %s failed: %s", release_tag, exc.message)


def _wants_summary(ctx: TaskContext, result: str) -> bool:
    if ctx.ai.client is None or ctx.precompute == "none":
        return False  # the built-in summary costs nothing to make when asked
    return ctx.precompute == "all" or result not in ("", PASSED)


def _result_of(ctx: TaskContext, run_id: int) -> str:
    from sippy.db import models as m

    with session_factory(ctx.engine)() as session:
        run = session.get(m.ProwJobRun, run_id)
        return run.overall_result if run is not None else ""


def _record_load(
    ctx: TaskContext, location: str, ok: bool, result: str, why: str
) -> state.Recorded | None:
    with session_scope(session_factory(ctx.engine)) as session:
        return state.record_load(session, location, ok=ok, result=result, why=why)


def _record_summary(ctx: TaskContext, run_id: int, why: str) -> state.Recorded | None:
    with session_scope(session_factory(ctx.engine)) as session:
        return state.record_summary(session, run_id, why=why)
