"""Does each answer name the planted cause?

The answers come from the same path a user gets (`SummaryService.job_run`: evidence, prompt,
cache, the model, or the built-in summarizer without one). An answer names the cause when it
mentions every term group of one of the run's labelled causes (`PlantedCause.named_in`:
case-insensitive, any alternative of each group). Repeating which test failed is not enough:
the terms are the cause's own words (an error code, the component and what happened to it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sippy.ai.client import ModelError
from sippy.ai.service import SummaryService
from sippy.analysis.summary import RunNotFound
from sippy.samples.causes import PlantedCause

MAX_MISSES = 5
ANSWER_CHARS = 400  # of a missed answer, shown in the report


@dataclass(slots=True)
class LabelledRun:
    run_id: int
    source: str  # samples | payloads
    group: str  # the scenario, or the payload theme / "one-off"
    causes: list[PlantedCause] = field(default_factory=list)


@dataclass(slots=True)
class Answer:
    run_id: int
    text: str = ""
    error: str = ""
    cached: bool = False


def names_cause(text: str, causes: Iterable[PlantedCause]) -> bool:
    return any(cause.named_in(text) for cause in causes)


async def answer_runs(
    service: SummaryService,
    run_ids: list[int],
    *,
    concurrency: int,
    advance: Callable[[], None] = lambda: None,
) -> dict[int, Answer]:
    """Each run's answer; a model fault is recorded for that run, not raised.

    At most `concurrency` requests wait at once, so the client's queue limit is never hit.
    """
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(run_id: int) -> Answer:
        async with gate:
            try:
                answer = await service.job_run(run_id)
                return Answer(run_id, answer.summary, cached=answer.cached)
            except ModelError as exc:
                return Answer(run_id, error=f"model error {exc.status}: {exc.message}")
            except RunNotFound as exc:
                return Answer(run_id, error=str(exc))
            finally:
                advance()

    answers = await asyncio.gather(*(one(run_id) for run_id in run_ids))
    return {a.run_id: a for a in answers}


def answer_report(
    labelled: list[LabelledRun], answers: dict[int, Answer], model: str
) -> dict[str, Any]:
    """The share of answered runs whose answer names the cause, overall and per group."""
    by_group: dict[str, dict[str, int]] = {}
    misses: list[dict[str, Any]] = []
    named = scored = errors = cached = 0
    for run in labelled:
        answer = answers.get(run.run_id)
        if answer is None or answer.error:
            errors += 1
            continue
        scored += 1
        cached += answer.cached
        hit = names_cause(answer.text, run.causes)
        named += hit
        tally = by_group.setdefault(f"{run.source}:{run.group}", {"scored": 0, "named": 0})
        tally["scored"] += 1
        tally["named"] += hit
        if not hit and len(misses) < MAX_MISSES:
            misses.append(
                {
                    "run": run.run_id,
                    "cause": run.causes[0].label if run.causes else "",
                    "answer": answer.text[:ANSWER_CHARS],
                }
            )
    error_examples = [a.error for a in answers.values() if a.error][:MAX_MISSES]
    return {
        "model": model,
        "criterion": "the answer mentions every term group of a labelled cause of the run",
        "scored": scored,
        "namesCause": named,
        "rate": round(named / scored, 4) if scored else None,
        "errors": errors,
        "errorExamples": error_examples,
        "cached": cached,
        "byGroup": by_group,
        "misses": misses,
    }
