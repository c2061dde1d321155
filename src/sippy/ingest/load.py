"""`sippy load`: list sources, read runs in parallel, write each run in its own transaction.

Reading is parallel (bounded by `load_workers`) because remote sources are I/O bound;
writing is serial, so SQLite sees one writer and each run is stored whole or not at all.
A run whose artifacts have not changed since it was stored is skipped ("unchanged").
Release payloads (release-controller JSON) are written first, each in one transaction;
with an artifacts root, the runs of their failed jobs then join the runs to load.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from sippy.db import models as m
from sippy.db.engine import session_factory, session_scope
from sippy.ingest.payload import (
    Payload,
    fetch_tag_phases,
    is_payload_source,
    is_release_doc,
    is_tags_doc,
    parse_payload,
    read_release_json,
    tag_phases,
)
from sippy.ingest.payload_store import apply_phases, write_payload
from sippy.ingest.reader import ReadLimits, fingerprint, read_run
from sippy.ingest.records import ArtifactError, ParsedRun
from sippy.ingest.sources import (
    UNSAFE_NAME,
    RunFolder,
    Source,
    SourceError,
    group_runs,
    list_files,
    open_source,
    stray_unsafe_names,
)
from sippy.ingest.store import NameCache, lock_run, stored_fingerprint, write_run
from sippy.metrics import LOADER
from sippy.settings import Settings

log = logging.getLogger(__name__)
MAX_BUILD_ID = 2**63 - 1  # a BIGINT: larger names cannot be run ids


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
class PayloadOutcome:
    location: str
    status: str  # loaded | unchanged | failed
    release_tag: str = ""
    phase: str = ""
    jobs: int = 0
    failed_runs: list[int] = field(default_factory=list)  # build ids of its failed jobs
    why: str = ""
    warnings: list[str] = field(default_factory=list)  # jobs skipped (no usable run URL)
    missing: list[str] = field(default_factory=list)  # failed runs without artifacts


@dataclass(slots=True)
class LoadReport:
    outcomes: list[RunOutcome] = field(default_factory=list)
    source_errors: list[str] = field(default_factory=list)
    payloads: list[PayloadOutcome] = field(default_factory=list)
    phases_updated: list[str] = field(default_factory=list)  # stored tags a tags list changed

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)

    def count_payloads(self, status: str) -> int:
        return sum(p.status == status for p in self.payloads)

    @property
    def ok(self) -> bool:
        """False when anything failed: a source, a run, an artifact, a payload or its runs."""
        return (
            not self.source_errors
            and all(o.status != "failed" and not o.problems for o in self.outcomes)
            and all(p.status != "failed" and not p.missing for p in self.payloads)
        )


@dataclass(slots=True)
class _Wanted:
    """A failed payload run whose artifacts were asked for."""

    payload: PayloadOutcome
    label: str
    loaded: bool  # already in the database


Progress = Callable[[str, int], None]  # (event, amount): "total" sets the size, "advance" moves


def load_sources(
    sources: list[str],
    settings: Settings,
    engine: Engine,
    progress: Progress | None = None,
    *,
    artifacts: str | None = None,
    latest: int | None = None,
) -> LoadReport:
    """Load every run and payload in `sources`; never stops on one bad source, run or artifact.

    With `latest`, only the `latest` newest runs of each job folder under a source are
    listed and loaded (see `sources.list_files`).

    With `artifacts` (a bucket root: a folder in GCS layout or `gs://bucket`), the runs of
    each payload's failed jobs are loaded too, from `<artifacts>/<gcs path of the run>`.
    """
    report = LoadReport()
    run_sources = [s for s in sources if not is_payload_source(s)]
    payloads = _load_payloads(
        [s for s in sources if is_payload_source(s)], settings, engine, report
    )
    wanted = _artifact_locations(payloads, artifacts, engine, report) if artifacts else {}
    for location in run_sources:
        wanted.pop(location, None)  # asked for directly: errors are the source's own
    work: list[tuple[Source, RunFolder]] = []
    for source in [*run_sources, *wanted]:
        try:
            src = open_source(
                source, gcs_endpoint=settings.gcs_endpoint, gcs_timeout=settings.gcs_timeout
            )
            files = list_files(src, latest)
            runs = group_runs(src, files)
        except SourceError as exc:
            _source_failed(report, wanted.get(source), str(exc))
            continue
        if not runs:
            _source_failed(
                report,
                wanted.get(source),
                f"{source}: no job runs found (no prowjob.json, "
                "started.json or finished.json under it)",
            )
        stray = stray_unsafe_names(src, files, runs)
        if stray:
            shown = ", ".join(src.url_for(p) for p in stray[:3]) + (", …" if len(stray) > 3 else "")
            why = f"{source}: {len(stray)} object(s) not read, outside any run: {UNSAFE_NAME}"
            _source_failed(report, wanted.get(source), f"{why} ({shown})")
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
            report.outcomes.append(RunOutcome(src.url_for(run.path), "unchanged", _build_id(run)))
            LOADER.runs.labels("unchanged").inc()
            if progress:
                progress("advance", 1)
    for (src, run), parsed in _read_all(todo, limits, settings.load_workers):
        outcome = _store(factory, cache, src, run, parsed)
        report.outcomes.append(outcome)
        LOADER.runs.labels(outcome.status).inc()
        if progress:
            progress("advance", 1)


def _build_id(run: RunFolder) -> int | None:
    """The build id a run folder's name gives, if it is one."""
    name = run.path.rpartition("/")[2]
    if not (name.isascii() and name.isdigit()) or int(name) > MAX_BUILD_ID:
        return None
    return int(name)


def _stored_for(session, run: RunFolder) -> str | None:  # type: ignore[no-untyped-def]
    """The fingerprint stored for the run in this folder, if its id is known from the path."""
    build_id = _build_id(run)
    return stored_fingerprint(session, build_id) if build_id is not None else None


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
            lock_run(session, parsed.meta.build_id)  # another load may be writing it now
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


def _source_failed(report: LoadReport, wanted: list[_Wanted] | None, why: str) -> None:
    """A source that could not be listed: a missing payload run, or a failed source."""
    if wanted is None:
        report.source_errors.append(why)
        LOADER.source_errors.inc()
        return
    for item in wanted:
        if not item.loaded:
            item.payload.missing.append(f"{item.label}: {why}")


# ---------------------------------------------------------------------------------------------
# Release payloads


def _load_payloads(
    sources: list[str], settings: Settings, engine: Engine, report: LoadReport
) -> list[tuple[PayloadOutcome, Payload]]:
    """Read every payload source, then write each payload in its own transaction.

    Tags lists given alongside supply phases that release JSON lacks, and update the
    phase of tags stored earlier (as Sippy's loader does on a phase change).
    """
    read: list[tuple[str, Any]] = []  # (source, release JSON or the PayloadOutcome of a failure)
    phases: dict[str, str] = {}
    for source in sources:
        try:
            doc = read_release_json(source, max_bytes=settings.max_artifact_bytes)
        except ArtifactError as exc:
            read.append((source, PayloadOutcome(source, "failed", why=str(exc))))
            continue
        if is_tags_doc(doc):
            phases.update(tag_phases(doc))
        elif is_release_doc(doc):
            read.append((source, doc))
        else:
            why = (
                f"{source}: not a release-controller release JSON (expected an object with "
                '"name" and "results", as /api/v1/releasestream/<stream>/release/<tag>)'
            )
            read.append((source, PayloadOutcome(source, "failed", why=why)))
    factory = session_factory(engine)
    loaded: list[tuple[PayloadOutcome, Payload]] = []
    for source, doc in read:
        outcome, payload = (
            (doc, None)
            if isinstance(doc, PayloadOutcome)
            else _load_payload(factory, source, doc, phases)
        )
        report.payloads.append(outcome)
        if payload is not None:
            loaded.append((outcome, payload))
    if phases:
        mine = {p.release_tag for _, p in loaded}
        others = {tag: phase for tag, phase in phases.items() if tag not in mine}
        try:
            with session_scope(factory) as session:
                report.phases_updated = apply_phases(session, others)
        except Exception as exc:
            log.exception("updating phases failed")
            report.source_errors.append(f"tags list: database error: {exc}")
    return loaded


def _load_payload(
    factory: sessionmaker[Session], source: str, doc: Any, phases: dict[str, str]
) -> tuple[PayloadOutcome, Payload | None]:
    missing_phase = isinstance(doc, dict) and not doc.get("phase")
    if missing_phase and source.startswith(("http://", "https://")):
        phases = {**fetch_tag_phases(source), **phases}
    try:
        payload = parse_payload(doc, source=source, phases=phases)
    except ArtifactError as exc:
        return PayloadOutcome(source, "failed", why=str(exc)), None
    try:
        with session_scope(factory) as session:
            status = write_payload(session, payload)
            phase = session.scalar(  # a phase stored earlier survives a JSON without one
                select(m.ReleaseTag.phase).where(m.ReleaseTag.release_tag == payload.release_tag)
            )
    except Exception as exc:
        log.exception("storing payload %s failed", source)
        outcome = PayloadOutcome(
            source, "failed", payload.release_tag, why=f"database error: {exc}"
        )
        return outcome, None
    failed = [j.prow_job_run_id for j in payload.failed_jobs()]
    outcome = PayloadOutcome(
        source,
        status,
        payload.release_tag,
        phase or payload.phase,
        len(payload.jobs),
        failed,
        warnings=list(payload.warnings),
    )
    return outcome, payload


def _artifact_locations(
    payloads: list[tuple[PayloadOutcome, Payload]],
    root: str,
    engine: Engine,
    report: LoadReport,
) -> dict[str, list[_Wanted]]:
    """Where the artifacts of each failed payload run are under the bucket root `root`.

    A local root holding a folder named after the run's bucket (`test-platform-results`)
    is taken as the parent of buckets. Missing local folders are reported here; remote ones
    when listed. A run already in the database is never reported missing.
    """
    if root.startswith(("http://", "https://")):
        report.source_errors.append(
            f"--artifacts {root}: give a folder in GCS layout or gs://<bucket>, not a URL"
        )
        return {}
    remote = root.startswith("gs://")
    local = Path(root).expanduser()
    if not remote and not local.is_dir():
        report.source_errors.append(f"--artifacts {root}: no such folder")
        return {}
    ids = [i for outcome, _ in payloads for i in outcome.failed_runs]
    with session_factory(engine)() as session:
        known = set(session.scalars(select(m.ProwJobRun.id).where(m.ProwJobRun.id.in_(ids))))
    wanted: dict[str, list[_Wanted]] = {}
    for outcome, payload in payloads:
        for job in payload.failed_jobs():
            label = (
                f"{payload.release_tag}: {job.kind.lower()} job {job.name} "
                f"(run {job.prow_job_run_id})"
            )
            item = _Wanted(outcome, label, job.prow_job_run_id in known)
            if not job.gcs_path:
                if not item.loaded:
                    outcome.missing.append(f"{label}: {job.url} names no GCS path")
                continue
            if remote:
                location = f"{root.rstrip('/')}/{job.gcs_path}"
            else:
                bucket = local / job.gcs_bucket if job.gcs_bucket else local
                folder = (bucket if bucket.is_dir() else local) / job.gcs_path
                location = str(folder)
                if not folder.is_dir():
                    if not item.loaded:
                        outcome.missing.append(f"{label}: no artifacts at {location}")
                    continue
            wanted.setdefault(location, []).append(item)
    return wanted
