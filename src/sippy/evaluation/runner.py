"""Run an evaluation end to end: write or find runs, load them, score every metric.

`evaluate_generated` writes a labelled corpus (sample runs and payloads with planted themes),
loads it through the ordinary loader and scores it; `evaluate_sources` loads real runs and
reports the independent checks only. Both return plain data (the `--json` output).
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from sippy.ai.service import SummaryService
from sippy.analysis.summary import RunNotFound, job_run_summary
from sippy.db.engine import session_factory
from sippy.evaluation.answers import LabelledRun, answer_report, answer_runs
from sippy.evaluation.fields import FieldTally
from sippy.evaluation.realdata import (
    decisive_line,
    first_line,
    has_snapshots,
    letter_agrees,
    rebuild_snapshots,
    reference_tests,
)
from sippy.evaluation.recall import (
    RecallRow,
    inputs_for,
    measure_run,
    recall_report,
    size_report,
)
from sippy.evaluation.themes import theme_report
from sippy.ingest.load import LoadReport, load_sources
from sippy.ingest.sources import SourceError, group_runs, list_files, open_source
from sippy.samples.generator import BUCKET, SampleRun, generate_samples
from sippy.samples.payloads import SamplePayload, generate_payloads
from sippy.settings import Settings

MAX_EXAMPLES = 5
DECISIVE_GROUP = "failed tests' decisive line (fail [, error:, panic:, [FAILED])"
FIRST_LINE_GROUP = "failed tests' first line (failures without a decisive line)"
OTHER_GROUP = "decisive (else first) line of failures in suites Sippy does not import"


class Steps(Protocol):
    """Progress of a long evaluation: a named stage, its size once known, steps done."""

    def stage(self, what: str, total: int | None = None) -> None: ...

    def total(self, total: int) -> None: ...

    def advance(self, amount: int = 1) -> None: ...


class NoSteps:
    def stage(self, what: str, total: int | None = None) -> None:
        pass

    def total(self, total: int) -> None:
        pass

    def advance(self, amount: int = 1) -> None:
        pass


class EvaluationError(RuntimeError):
    """The evaluation could not run (nothing to evaluate, nothing loaded)."""


# --------------------------------------------------------------------------------------------
# The labelled corpus


def evaluate_generated(
    settings: Settings,
    engine: Engine,
    *,
    runs: int = 120,
    seed: int = 7,
    payloads: int = 2,
    themes: int = 4,
    keep: Path | None = None,
    steps: Steps | None = None,
) -> dict[str, Any]:
    """Write the labelled corpus, load it, and score fields, evidence, themes and answers."""
    steps = steps or NoSteps()
    started = time.perf_counter()
    if runs <= 0 and payloads <= 0:
        raise EvaluationError("nothing to evaluate: --runs and --payloads are both 0")
    with _folder(keep) as root:
        steps.stage("writing the labelled corpus")
        samples = generate_samples(root, count=runs, seed=seed) if runs > 0 else []
        sample_payloads = (
            generate_payloads(root, tags=payloads, themes=themes, seed=seed) if payloads else []
        )
        if keep is not None:
            _write_truth(root / "truth.json", samples, sample_payloads)
        sources = [str(root / BUCKET), *(p.release_json for p in sample_payloads)]
        load = _load(sources, settings, engine, steps)
    budget = settings.evidence_token_budget
    failed_payload_runs = [r for p in sample_payloads for r in p.runs if r.state == "Failed"]
    steps.stage("checking summaries and evidence", len(samples) + len(failed_payload_runs))
    tally = FieldTally()
    rows: list[RecallRow] = []
    tokens: list[int] = []
    original_tokens: list[int] = []
    missing: list[int] = []
    with session_factory(engine)() as session:
        for sample in samples:
            summary = _summary(session, sample.build_id, missing)
            steps.advance()
            if summary is None:
                continue
            tally.add(summary, sample)
            row = measure_run(session, summary, sample.root_cause_lines, budget, sample.scenario)
            tokens.append(row.tokens)
            original_tokens.append(row.original_tokens)
            if sample.root_cause_lines:
                rows.append(row)
        for run in failed_payload_runs:
            summary = _summary(session, run.build_id, missing)
            steps.advance()
            if summary is None:
                continue
            group = f"payload {run.cause_kind}"
            row = measure_run(session, summary, run.root_cause_lines, budget, group)
            tokens.append(row.tokens)
            original_tokens.append(row.original_tokens)
            rows.append(row)
        steps.stage("grouping payload failures into themes")
        found_themes = theme_report(session, sample_payloads)
    labelled = [
        LabelledRun(s.build_id, "samples", s.scenario, list(s.causes)) for s in samples if s.causes
    ]
    labelled += [
        LabelledRun(r.build_id, "payloads", r.theme or "one-off", [r.cause])
        for r in failed_payload_runs
        if r.cause is not None
    ]
    answers = _answers(settings, engine, labelled, steps)
    return {
        "mode": "generated",
        "labelled": True,
        "corpus": {
            "seed": seed,
            "runs": len(samples),
            "failedRuns": sum(1 for s in samples if s.expected_result != "S"),
            "payloads": len(sample_payloads),
            "payloadRuns": sum(len(p.runs) for p in sample_payloads),
            "payloadFailedRuns": len(failed_payload_runs),
            "plantedThemes": sum(len(p.themes) for p in sample_payloads),
            "kept": str(keep) if keep is not None else None,
        },
        "load": {**_load_summary(load), "notLoaded": missing[:MAX_EXAMPLES]},
        "fields": tally.as_dict(),
        "evidenceRecall": recall_report(rows),
        "promptSize": size_report(tokens, budget, original_tokens),
        "themes": found_themes,
        "answers": answer_report(labelled, answers, _model(settings)),
        "seconds": round(time.perf_counter() - started, 2),
    }


@contextmanager
def _folder(keep: Path | None) -> Iterator[Path]:
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield keep
        return
    with tempfile.TemporaryDirectory(prefix="sippy-eval-") as tmp:
        yield Path(tmp)


def _write_truth(path: Path, samples: list[SampleRun], payloads: list[SamplePayload]) -> None:
    data = {"runs": [s.to_dict() for s in samples], "payloads": [p.to_dict() for p in payloads]}
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _summary(session: Session, run_id: int, missing: list[int]) -> dict[str, Any] | None:
    try:
        return job_run_summary(session, run_id)
    except RunNotFound:
        missing.append(run_id)
        return None


def _model(settings: Settings) -> str:
    return settings.ai_model if settings.ai_endpoint else "builtin"


def _answers(
    settings: Settings, engine: Engine, labelled: list[LabelledRun], steps: Steps
) -> dict[int, Any]:
    what = f"asking {settings.ai_model}" if settings.ai_endpoint else "built-in answers"
    steps.stage(what, len(labelled))

    async def run() -> dict[int, Any]:
        service = SummaryService(settings, session_factory(engine))
        try:
            return await answer_runs(
                service,
                [r.run_id for r in labelled],
                concurrency=settings.ai_concurrency,
                advance=steps.advance,
            )
        finally:
            await service.aclose()

    return asyncio.run(run())


# --------------------------------------------------------------------------------------------
# Loading


def _load(sources: list[str], settings: Settings, engine: Engine, steps: Steps) -> LoadReport:
    steps.stage("loading runs")

    def progress(event: str, amount: int) -> None:
        if event == "total":
            steps.total(amount)
        else:
            steps.advance(amount)

    return load_sources(sources, settings, engine, progress)


def _load_summary(report: LoadReport) -> dict[str, Any]:
    problems = Counter(error for o in report.outcomes for _, error in o.problems)
    return {
        "loaded": report.count("loaded"),
        "unchanged": report.count("unchanged"),
        "failed": report.count("failed"),
        "sourceErrors": report.source_errors,
        "problems": sum(problems.values()),
        "problemKinds": [
            {"problem": text, "count": count} for text, count in problems.most_common(MAX_EXAMPLES)
        ],
        "failures": [
            {"location": o.location, "why": o.why} for o in report.outcomes if o.status == "failed"
        ][:MAX_EXAMPLES],
    }


# --------------------------------------------------------------------------------------------
# Real runs (unlabelled)


def evaluate_sources(
    settings: Settings, engine: Engine, sources: list[str], *, steps: Steps | None = None
) -> dict[str, Any]:
    """Load real runs and report what independent checks confirm; nothing here is labelled."""
    steps = steps or NoSteps()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="sippy-eval-real-") as tmp:
        steps.stage("finding runs")
        to_load, states, notes = _real_sources(sources, Path(tmp), settings.gcs_endpoint)
        if not to_load:
            raise EvaluationError("no job runs found in " + ", ".join(sources))
        load = _load(to_load, settings, engine, steps)
        loaded = [o for o in load.outcomes if o.run_id is not None and o.status != "failed"]
        if not loaded:
            why = "; ".join(load.source_errors) or "; ".join(o.why for o in load.outcomes)
            raise EvaluationError(f"no run could be loaded from {', '.join(sources)}: {why}")
        steps.stage("checking summaries and evidence", len(loaded))
        result = _check_real_runs(settings, engine, loaded, states, steps)
    return {
        "mode": "sources",
        "labelled": False,
        "sources": sources,
        "notes": notes,
        "load": _load_summary(load),
        **result,
        "seconds": round(time.perf_counter() - started, 2),
    }


def _real_sources(
    sources: list[str], scratch: Path, gcs_endpoint: str | None
) -> tuple[list[str], dict[int, str], list[str]]:
    """What to load: each source as given when it holds runs, plus rebuilt payload snapshots."""
    to_load: list[str] = []
    states: dict[int, str] = {}
    notes: list[str] = []
    for index, source in enumerate(sources):
        path = Path(source).expanduser()
        if path.is_dir() and has_snapshots(path):
            found = rebuild_snapshots(path, scratch / f"snapshots-{index}")
            states.update(found)
            notes.append(
                f"{source}: {len(found)} payload-snapshot jobs put back into GCS layout "
                "(their JUnit and build-log tail; the snapshots carry no prowjob.json)"
            )
            to_load.append(str(scratch / f"snapshots-{index}"))
            if not _holds_runs(source, gcs_endpoint):
                continue
        to_load.append(source)
    return to_load, states, notes


def _holds_runs(source: str, gcs_endpoint: str | None) -> bool:
    """Whether a folder holds run folders of its own (beside any snapshots)."""
    try:
        src = open_source(source, gcs_endpoint=gcs_endpoint)
        return bool(group_runs(src, list_files(src)))
    except SourceError:
        return True  # let the loader report it


def _check_real_runs(
    settings: Settings,
    engine: Engine,
    loaded: list[Any],
    states: dict[int, str],
    steps: Steps,
) -> dict[str, Any]:
    budget = settings.evidence_token_budget
    tests = {"runs": 0, "failedAgree": 0, "flakedAgree": 0, "unreadableFiles": 0}
    test_examples: list[dict[str, Any]] = []
    letters = {"checked": 0, "agree": 0, "releaseController": 0, "prowState": 0}
    letter_examples: list[dict[str, Any]] = []
    rows: list[RecallRow] = []
    tokens: list[int] = []
    original_tokens: list[int] = []
    with session_factory(engine)() as session:
        for outcome in loaded:
            run_id = outcome.run_id
            summary = job_run_summary(session, run_id)
            steps.advance()
            state, against = states.get(run_id), "releaseController"
            if state is None:
                state, against = summary.get("prowState") or "", "prowState"
            agrees = letter_agrees(summary["overallResult"], state)
            if agrees is not None:
                letters["checked"] += 1
                letters[against] += 1
                letters["agree"] += agrees
                if not agrees and len(letter_examples) < MAX_EXAMPLES:
                    letter_examples.append(
                        {"run": run_id, "letter": summary["overallResult"], "state": state}
                    )
            folder = Path(outcome.location)
            lines: list[str] = []
            firsts: list[str] = []
            others: list[str] = []
            if folder.is_dir():
                ref = reference_tests(folder)
                tests["runs"] += 1
                tests["unreadableFiles"] += len(ref.unreadable)
                failed_ok = ref.failed == set(summary["testFailures"])
                flaked_ok = ref.flaked == set(summary["testFlakes"])
                tests["failedAgree"] += failed_ok
                tests["flakedAgree"] += flaked_ok
                if not (failed_ok and flaked_ok) and len(test_examples) < MAX_EXAMPLES:
                    test_examples.append(_test_difference(run_id, ref, summary))
                for text in ref.failure_texts.values():
                    line = decisive_line(text)
                    if line:
                        lines.append(line)
                    elif first_line(text):
                        firsts.append(first_line(text))
                others += [decisive_line(t) or first_line(t) for t in ref.other_failure_texts]
            inputs = inputs_for(session, summary, budget)
            tokens.append(inputs.tokens)
            original_tokens.append(inputs.original_tokens)
            groups = ((DECISIVE_GROUP, lines), (FIRST_LINE_GROUP, firsts), (OTHER_GROUP, others))
            for group, found in groups:
                found = [line for line in found if line]
                if found:
                    rows.append(inputs.row(found, group))
    recall = recall_report(rows)
    return {
        "tests": {**tests, "differences": test_examples},
        "resultLetters": {**letters, "differences": letter_examples},
        "promptSize": size_report(tokens, budget, original_tokens),
        "decisiveLineRecall": recall,
    }


def _test_difference(run_id: int, ref: Any, summary: dict[str, Any]) -> dict[str, Any]:
    stored_failed, stored_flaked = set(summary["testFailures"]), set(summary["testFlakes"])
    return {
        "run": run_id,
        "failedOnlyInReference": sorted(ref.failed - stored_failed)[:MAX_EXAMPLES],
        "failedOnlyInSummary": sorted(stored_failed - ref.failed)[:MAX_EXAMPLES],
        "flakedOnlyInReference": sorted(ref.flaked - stored_flaked)[:MAX_EXAMPLES],
        "flakedOnlyInSummary": sorted(stored_flaked - ref.flaked)[:MAX_EXAMPLES],
    }
