"""sippy's tasks as procrastinate knows them (PostgreSQL): thin wrappers over tasks.work.

The context each task needs travels in the worker's `additional_context`, built once per
worker process; nothing here connects or reads configuration at import time.
"""

from __future__ import annotations

from procrastinate import Blueprint, JobContext, RetryStrategy

from sippy.tasks import work
from sippy.tasks.queue import SUMMARY_ATTEMPTS, SUMMARY_WAIT

CONTEXT_KEY = "sippy"

blueprint = Blueprint()
# a model call that may succeed later (the model or the database was away) is tried again
LATER = RetryStrategy(
    max_attempts=SUMMARY_ATTEMPTS,
    exponential_wait=int(SUMMARY_WAIT),
    retry_exceptions={work.RetryLater},
)


def _context(job: JobContext) -> work.TaskContext:
    context = (job.additional_context or {}).get(CONTEXT_KEY)
    if not isinstance(context, work.TaskContext):
        raise RuntimeError("sippy tasks run in `sippy worker` (or `sippy follow`), not elsewhere")
    return context


@blueprint.task(name="load_run", pass_context=True)
async def load_run(job: JobContext, location: str) -> None:
    """Load one run folder (a failed load is recorded on its follow row and tried again by
    the follower later, so the job itself ends)."""
    await work.load_run(_context(job), location)


@blueprint.task(name="summarize_run", pass_context=True, retry=LATER)
async def summarize_run(job: JobContext, run_id: int) -> None:
    """Store the run's AI summary (tried again later when the model is away)."""
    await work.summarize_run(_context(job), run_id)


@blueprint.task(name="load_payload", pass_context=True)
async def load_payload(job: JobContext, url: str) -> None:
    """Load one payload's release JSON (and queue the themes of a rejected one)."""
    await work.load_payload(_context(job), url)


@blueprint.task(name="payload_themes", pass_context=True, retry=LATER)
async def payload_themes(job: JobContext, release_tag: str) -> None:
    """Name a rejected payload's themes ahead of the first person to ask."""
    await work.payload_themes(_context(job), release_tag)
