"""`sippy load`: list sources, read runs in parallel, write each run in its own transaction.

Reading is parallel (bounded by `load_workers`) because remote sources are I/O bound;
writing is serial, so SQLite sees one writer and each run is stored whole or not at all.
A run whose artifacts have not changed since it was stored is skipped ("unchanged").
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from sqlalchemy import Engine

from sippy.db.engine import session_factory, session_scope
from sippy.ingest.reader import ReadLimits, fingerprint, read_run
from sippy.ingest.records import ArtifactError, ParsedRun
from sippy.ingest.sources import RunFolder, Source, SourceError, group_runs, list_files, open_source
from sippy.ingest.store import NameCache, stored_fingerprint, write_run
from sippy.metrics import LOADER
from sippy.settings import Settings

log = logging.getLogger(__name__)


@dataclass(slots=True)
class RunOutcome:
    location: str
    status: str  # loaded | unchanged | failed
    run_id: int | None = None
    job: str = ""
    result: str = ""
    why: str = ""
    problems: list[tuple[str, str]] = field(default_factory=list)  # (artifact, error)


@dataclass(slots=True)
class LoadReport:
    outcomes: list[RunOutcome] = field(default_factory=list)
    source_errors: list[str] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)

    @property
    def ok(self) -> bool:
        """False when anything failed: a source, a run, or an artifact."""
        return not self.source_errors and all(
            o.status != "failed" and not o.problems for o in self.outcomes
        )


Progress = Callable[[str, int], None]  # (event, amount): "total" sets the size, "advance" moves


def load_sources(
    sources: list[str], settings: Settings, engine: Engine, progress: Progress | None = None
) -> LoadReport:
    """Load every run under `sources`; never stops on one bad source, run or artifact."""
    report = LoadReport()
    work: list[tuple[Source, RunFolder]] = []
    for source in sources:
        try:
            src = open_source(source, gcs_endpoint=settings.gcs_endpoint)
            runs = group_runs(src, list_files(src))
        except SourceError as exc:
            report.source_errors.append(str(exc))
            LOADER.source_errors.inc()
            continue
        if not runs:
            report.source_errors.append(
                f"{source}: no job runs found (no prowjob.json, "
                "started.json or finished.json under it)"
            )
        work.extend((src, run) for run in runs)
    if progress:
        progress("total", len(work))
    _load_runs(work, settings, engine, report, progress)
    return report


def _load_runs(
    work: list[tuple[Source, RunFolder]],
    settings: Settings,
    engine: Engine,
    report: LoadReport,
    progress: Progress | None,
) -> None:
    factory = session_factory(engine)
    cache = NameCache()
    limits = ReadLimits(settings.max_artifact_bytes)
    with factory() as session:
        known = {run.path: _stored_for(session, run) for _, run in work}
    todo = [(src, run) for src, run in work if known[run.path] != fingerprint(run)]
    for src, run in work:
        if known[run.path] == fingerprint(run):
            report.outcomes.append(RunOutcome(src.url_for(run.path), "unchanged"))
            LOADER.runs.labels("unchanged").inc()
            if progress:
                progress("advance", 1)
    for (src, run), parsed in _read_all(todo, limits, settings.load_workers):
        outcome = _store(factory, cache, src, run, parsed)
        report.outcomes.append(outcome)
        LOADER.runs.labels(outcome.status).inc()
        if progress:
            progress("advance", 1)


def _stored_for(session, run: RunFolder) -> str | None:  # type: ignore[no-untyped-def]
    """The fingerprint stored for the run in this folder, if its id is known from the path."""
    build_id = run.path.rpartition("/")[2]
    return stored_fingerprint(session, int(build_id)) if build_id.isdigit() else None


def _read_all(
    todo: list[tuple[Source, RunFolder]], limits: ReadLimits, workers: int
) -> Iterator[tuple[tuple[Source, RunFolder], ParsedRun | Exception]]:
    """Read runs on a bounded thread pool, yielding results in submission order.

    Threads overlap the network waits of remote sources. (Parsing in other processes was
    measured too: on 2 cores it gained nothing over threads, so it is not done.)
    """
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sippy-read") as pool:
        futures: list[Future[ParsedRun]] = [
            pool.submit(read_run, src, run, limits) for src, run in todo
        ]
        for item, future in zip(todo, futures, strict=True):
            try:
                yield item, future.result()
            except Exception as exc:  # ArtifactError (no identity) or anything unexpected
                yield item, exc


def _store(
    factory,
    cache: NameCache,
    src: Source,
    run: RunFolder,  # type: ignore[no-untyped-def]
    parsed: ParsedRun | Exception,
) -> RunOutcome:
    location = src.url_for(run.path)
    if isinstance(parsed, Exception):
        why = str(parsed) if isinstance(parsed, ArtifactError) else f"internal error: {parsed!r}"
        return RunOutcome(location, "failed", why=why)
    started = time.perf_counter()
    try:
        with session_scope(factory) as session:
            if stored_fingerprint(session, parsed.meta.build_id) == parsed.fingerprint:
                return RunOutcome(
                    location,
                    "unchanged",
                    parsed.meta.build_id,
                    parsed.meta.job_name,
                    parsed.overall_result,
                )
            write_run(session, parsed, source=location, cache=cache)
    except Exception as exc:
        log.exception("storing %s failed", location)
        cache.tests.clear()  # ids created in the rolled-back transaction are gone
        cache.suites.clear()
        return RunOutcome(
            location,
            "failed",
            parsed.meta.build_id,
            parsed.meta.job_name,
            why=f"database error: {exc}",
        )
    LOADER.write_seconds.observe(time.perf_counter() - started)
    problems = [(a.path, a.error or "") for a in parsed.problems]
    for _ in problems:
        LOADER.artifact_errors.inc()
    return RunOutcome(
        location,
        "loaded",
        parsed.meta.build_id,
        parsed.meta.job_name,
        parsed.overall_result,
        problems=problems,
    )
