"""A test's record across the loaded runs: by job, release and variant, with its failures.

Everything that reasons about one test (debugging steps, bug drafts, payload themes) needs
to know whether it fails everywhere, in one job, or only lately; this is that answer.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from sippy.db import models as m
from sippy.ingest.records import STATUS_FAILURE, STATUS_FLAKE

MAX_FAILED_RUNS = 50
STATUS_RANK = {STATUS_FAILURE: 2, STATUS_FLAKE: 1}  # a test in two suites: the worse counts


class UnknownTest(LookupError):
    """No loaded run has a test of this name."""


def history_of_test(
    session: Session,
    test_name: str,
    *,
    job: str | None = None,
    release: str | None = None,
    since: datetime | None = None,
) -> dict[str, Any]:
    """Runs, failures, flakes and rates of `test_name`, overall and by job/release/variant."""
    query = occurrences_of_test(id_of_test(session, test_name), job=job, release=release)
    if since:
        query = query.where(m.ProwJobRun.timestamp >= since)
    runs = worst_per_run(session.execute(query))
    return {
        "testName": test_name,
        **_counts(runs.values()),
        "firstFailure": iso_utc(min((r["timestamp"] for r in _failed(runs)), default=None)),
        "lastFailure": iso_utc(max((r["timestamp"] for r in _failed(runs)), default=None)),
        "byJob": _grouped(runs.values(), lambda r: [(r["job"], r["release"])], ("job", "release")),
        "byRelease": _grouped(runs.values(), lambda r: [(r["release"],)], ("release",)),
        "byVariant": _grouped(runs.values(), lambda r: [(v,) for v in r["variants"]], ("variant",)),
        "failedRuns": _failed_runs(runs),
    }


def id_of_test(session: Session, test_name: str) -> int:
    """The test's id; raises UnknownTest."""
    test_id = session.scalar(select(m.Test.id).where(m.Test.name == test_name))
    if test_id is None:
        raise UnknownTest(f"test {test_name!r} not found in the loaded runs")
    return test_id


def occurrences_of_test(test_id: int, *, job: str | None, release: str | None) -> Select[Any]:
    """Every stored result of the test with its run and job: (run id, status, job, release,
    variants, start time, url), one row per suite it ran in."""
    query = (
        select(
            m.ProwJobRunTest.prow_job_run_id,
            m.ProwJobRunTest.status,
            m.ProwJob.name,
            m.ProwJob.release,
            m.ProwJob.variants,
            m.ProwJobRun.timestamp,
            m.ProwJobRun.url,
        )
        .join(m.ProwJobRun, m.ProwJobRun.id == m.ProwJobRunTest.prow_job_run_id)
        .join(m.ProwJob, m.ProwJob.id == m.ProwJobRunTest.prow_job_id)
        .where(m.ProwJobRunTest.test_id == test_id)
    )
    return with_job_filters(query, job, release)


def with_job_filters(query: Any, job: str | None, release: str | None) -> Any:
    """Only runs of this job and release (each when given); the query joins ProwJob."""
    if job:
        query = query.where(m.ProwJob.name == job)
    if release:
        query = query.where(m.ProwJob.release == release)
    return query


def worst_per_run(rows: Any) -> dict[int, dict[str, Any]]:
    """One entry per run from `occurrences_of_test` rows: a test in two suites counts once,
    with its worst status."""
    rank = STATUS_RANK
    runs: dict[int, dict[str, Any]] = {}
    for run_id, status, job, release, variants, timestamp, url in rows:
        entry = runs.get(run_id)
        if entry is None or rank.get(status, 0) > rank.get(entry["status"], 0):
            runs[run_id] = {
                "id": run_id,
                "status": status,
                "job": job,
                "release": release,
                "variants": variants or [],
                "timestamp": _utc(timestamp),
                "url": url,
            }
    return runs


def _counts(runs: Any) -> dict[str, Any]:
    runs = list(runs)
    failures = sum(r["status"] == STATUS_FAILURE for r in runs)
    flakes = sum(r["status"] == STATUS_FLAKE for r in runs)
    return {
        "runs": len(runs),
        "failures": failures,
        "flakes": flakes,
        "passes": len(runs) - failures - flakes,
        "failureRate": round(failures / len(runs), 4) if runs else 0.0,
        "flakeRate": round(flakes / len(runs), 4) if runs else 0.0,
    }


def _grouped(runs: Any, keys: Any, names: tuple[str, ...]) -> list[dict[str, Any]]:
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for run in runs:
        for key in keys(run):
            groups[key].append(run)
    out = [{**dict(zip(names, key, strict=True)), **_counts(v)} for key, v in groups.items()]
    return sorted(out, key=lambda g: (-g["failures"], -g["runs"], [str(g[n]) for n in names]))


def _failed(runs: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in runs.values() if r["status"] == STATUS_FAILURE and r["timestamp"]]


def _failed_runs(runs: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
    bad = [r for r in runs.values() if r["status"] in (STATUS_FAILURE, STATUS_FLAKE)]
    bad.sort(
        key=lambda r: (r["timestamp"] or datetime.min.replace(tzinfo=UTC), r["id"]), reverse=True
    )
    return [
        {
            "id": r["id"],
            "job": r["job"],
            "release": r["release"],
            "startTime": iso_utc(r["timestamp"]),
            "status": "failure" if r["status"] == STATUS_FAILURE else "flake",
            "url": r["url"],
        }
        for r in bad[:MAX_FAILED_RUNS]
    ]


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def iso_utc(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with `Z` (SQLite hands back naive datetimes; we store UTC)."""
    value = _utc(value)
    return value.isoformat().replace("+00:00", "Z") if value else None
