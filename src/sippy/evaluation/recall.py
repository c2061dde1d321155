"""Evidence recall: do the lines a summary must rest on reach the model's input?

For a run, our input is the prompt `job_run_prompt` builds at the token budget; Sippy's
original input is what its v3 summary sent: the job name, the reason, the last 256 bytes of
each failed test's output and the cluster operators (values as the model reads them, not
JSON escapes). A line counts as reached when it, or its first `PREFIX_CHARS` characters,
appears in the input: long lines may be shortened, but their start is what says why.
Recall is reached lines over all lines, over every run (micro-averaged). The stricter
"whole line" recall counts only lines that appear complete, since a shortened line can lose
the words that name the cause at its end.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sippy.ai.prompt import Prompt, job_run_prompt
from sippy.db import models as m
from sippy.evidence.snippets import tail_256
from sippy.evidence.tokens import estimate_tokens
from sippy.ingest.records import STATUS_FAILURE

PREFIX_CHARS = 100


def reached(line: str, text: str) -> bool:
    """Whether `line` (or its first PREFIX_CHARS characters) is in `text`."""
    line = line.strip()
    return bool(line) and (line in text or line[:PREFIX_CHARS] in text)


def reached_whole(line: str, text: str) -> bool:
    line = line.strip()
    return bool(line) and line in text


def prompt_text(prompt: Prompt) -> str:
    return "\n".join(message["content"] for message in prompt.messages)


def our_input(summary: dict[str, Any], budget: int) -> tuple[str, int]:
    """(the prompt's text, its estimated tokens) for a run's summary."""
    prompt = job_run_prompt(summary, budget)
    return prompt_text(prompt), prompt.estimated_tokens


def original_input(session: Session, summary: dict[str, Any]) -> str:
    """Sippy's v3 input: the summary with 256-byte failure tails, as the model read it."""
    data = {
        "name": summary["name"],
        "reason": summary["reason"],
        "testFailures": {
            name: tail_256(text) for name, text in raw_failure_outputs(session, summary["id"])
        },
        "clusterOperators": [
            {k: o[k] for k in ("name", "status", "reason", "message")}
            for o in summary["clusterOperators"]
        ],
    }
    return "\n".join(_strings(data))


def raw_failure_outputs(session: Session, run_id: int) -> list[tuple[str, str]]:
    """(test name, full stored output) of each failed real test of a run."""
    rows = session.execute(
        select(m.Test.name, m.ProwJobRunTestOutput.output)
        .select_from(m.ProwJobRunTest)
        .join(m.Test, m.Test.id == m.ProwJobRunTest.test_id)
        .outerjoin(m.Suite, m.Suite.id == m.ProwJobRunTest.suite_id)
        .join(
            m.ProwJobRunTestOutput,
            m.ProwJobRunTestOutput.prow_job_run_test_id == m.ProwJobRunTest.id,
        )
        .where(
            m.ProwJobRunTest.prow_job_run_id == run_id,
            m.ProwJobRunTest.status == STATUS_FAILURE,
            (m.Suite.name.is_(None)) | (m.Suite.name != "sippy"),
        )
        .order_by(m.ProwJobRunTest.id)
    )
    return [(name, output or "") for name, output in rows]


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [k, *_strings(v)]]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


@dataclass(slots=True)
class RecallRow:
    """One run: how many of its lines each input holds, and the inputs' sizes."""

    run_id: int
    group: str  # scenario, or what kind of run
    lines: int
    ours: int
    original: int
    tokens: int
    original_tokens: int
    ours_whole: int = 0
    original_whole: int = 0


@dataclass(frozen=True, slots=True)
class Inputs:
    """What each side sends the model for one run, and its size."""

    run_id: int
    ours: str
    tokens: int
    original: str
    original_tokens: int

    def row(self, lines: list[str], group: str) -> RecallRow:
        return RecallRow(
            run_id=self.run_id,
            group=group,
            lines=len(lines),
            ours=sum(reached(line, self.ours) for line in lines),
            original=sum(reached(line, self.original) for line in lines),
            tokens=self.tokens,
            original_tokens=self.original_tokens,
            ours_whole=sum(reached_whole(line, self.ours) for line in lines),
            original_whole=sum(reached_whole(line, self.original) for line in lines),
        )


def inputs_for(session: Session, summary: dict[str, Any], budget: int) -> Inputs:
    ours, tokens = our_input(summary, budget)
    original = original_input(session, summary)
    return Inputs(summary["id"], ours, tokens, original, estimate_tokens(original))


def measure_run(
    session: Session, summary: dict[str, Any], lines: list[str], budget: int, group: str
) -> RecallRow:
    return inputs_for(session, summary, budget).row(lines, group)


def recall(rows: Iterable[RecallRow], which: str) -> float | None:
    """Reached over all lines for `which` input ("ours", "original", "ours_whole" or
    "original_whole"); None without lines."""
    rows = list(rows)
    total = sum(r.lines for r in rows)
    return sum(getattr(r, which) for r in rows) / total if total else None


def recall_report(rows: list[RecallRow]) -> dict[str, Any]:
    def scores(group: list[RecallRow]) -> dict[str, Any]:
        return {
            "runs": len(group),
            "lines": sum(r.lines for r in group),
            "ours": _round(recall(group, "ours")),
            "original256ByteTail": _round(recall(group, "original")),
            "oursWholeLine": _round(recall(group, "ours_whole")),
            "original256ByteTailWholeLine": _round(recall(group, "original_whole")),
        }

    groups = sorted({r.group for r in rows})
    return {
        **scores(rows),
        "byGroup": {g: scores([r for r in rows if r.group == g]) for g in groups},
    }


def size_report(tokens: list[int], budget: int, original: list[int]) -> dict[str, Any]:
    """Prompt sizes (estimated tokens) against the budget."""
    return {
        "budget": budget,
        "prompts": len(tokens),
        "median": statistics.median(tokens) if tokens else None,
        "max": max(tokens, default=None),
        "withinBudget": sum(t <= budget for t in tokens),
        "originalMedian": statistics.median(original) if original else None,
        "originalMax": max(original, default=None),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
