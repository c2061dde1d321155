"""A test's outcome run by run, and its recent failure texts: what the charts and pages show.

`history_of_test` answers "how often"; these answer "when" (pass, failure or flake in each
run, in start order) and "how did it fail lately" (the decisive lines of its latest failures).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sippy.analysis.test_history import (
    STATUS_RANK,
    id_of_test,
    iso_utc,
    occurrences_of_test,
    with_job_filters,
    worst_per_run,
)
from sippy.db import models as m
from sippy.evidence.snippets import failure_snippet
from sippy.ingest.records import STATUS_FAILURE, STATUS_FLAKE

STRIP_WINDOW = 20
TIMELINE_RUNS = 200
EXCERPTS = 10
EXCERPT_BYTES = 1024
_NAMES = {STATUS_FAILURE: "failure", STATUS_FLAKE: "flake"}


def status_name(status: int | None) -> str:
    """`failure`, `flake`, `pass`, or `absent` for a run that did not run the test."""
    if status is None:
        return "absent"
    return _NAMES.get(status, "pass")


def outcome_strips(
    session: Session, run_id: int, test_names: Iterable[str], window: int = STRIP_WINDOW
) -> dict[str, list[dict[str, Any]]]:
    """test name -> its outcome in the last `window` runs of this run's job, up to and
    including this run, oldest first: `[{id, startTime, status}]`.

    A name no loaded run has is left out; a run that did not run the test is `absent`.
    """
    names = sorted(set(test_names))
    run = session.get(m.ProwJobRun, run_id)
    if run is None or not names:
        return {}
    query = select(m.ProwJobRun.id, m.ProwJobRun.timestamp).where(
        m.ProwJobRun.prow_job_id == run.prow_job_id
    )
    if run.timestamp is not None:
        query = query.where(m.ProwJobRun.timestamp <= run.timestamp)
    runs = session.execute(
        query.order_by(m.ProwJobRun.timestamp.desc(), m.ProwJobRun.id.desc()).limit(window)
    ).all()
    runs.reverse()
    rows = session.execute(select(m.Test.name, m.Test.id).where(m.Test.name.in_(names)))
    tests = dict(rows.all())  # name -> id
    if not tests or not runs:
        return {}
    worst: dict[tuple[int, int], int] = {}
    results = session.execute(
        select(
            m.ProwJobRunTest.test_id, m.ProwJobRunTest.prow_job_run_id, m.ProwJobRunTest.status
        ).where(
            m.ProwJobRunTest.prow_job_run_id.in_([r for r, _ in runs]),
            m.ProwJobRunTest.test_id.in_(tests.values()),
        )
    )
    for test_id, in_run, status in results:
        key = (test_id, in_run)
        if key not in worst or STATUS_RANK.get(status, 0) > STATUS_RANK.get(worst[key], 0):
            worst[key] = status
    return {
        name: [
            {"id": r, "startTime": iso_utc(ts), "status": status_name(worst.get((test_id, r)))}
            for r, ts in runs
        ]
        for name, test_id in tests.items()
    }


def timeline_of_test(
    session: Session,
    test_name: str,
    *,
    job: str | None = None,
    release: str | None = None,
    limit: int = TIMELINE_RUNS,
) -> list[dict[str, Any]]:
    """The test's outcome in the newest `limit` runs that ran it, oldest first:
    `[{id, job, release, startTime, status}]`; raises UnknownTest."""
    query = occurrences_of_test(id_of_test(session, test_name), job=job, release=release)
    runs = worst_per_run(session.execute(query)).values()
    oldest_first = sorted(
        runs, key=lambda r: (r["timestamp"] or datetime.min.replace(tzinfo=UTC), r["id"])
    )
    return [
        {
            "id": r["id"],
            "job": r["job"],
            "release": r["release"],
            "startTime": iso_utc(r["timestamp"]),
            "status": status_name(r["status"]),
        }
        for r in oldest_first[-limit:]
    ]


def failure_excerpts(
    session: Session,
    test_name: str,
    *,
    job: str | None = None,
    release: str | None = None,
    limit: int = EXCERPTS,
) -> list[dict[str, Any]]:
    """The decisive lines of the test's latest failures and flakes, newest first:
    `[{id, job, release, startTime, status, excerpt, source}]`; raises UnknownTest."""
    test_id = id_of_test(session, test_name)
    bad = (
        m.ProwJobRunTest.test_id == test_id,
        m.ProwJobRunTest.status.in_((STATUS_FAILURE, STATUS_FLAKE)),
    )
    latest = with_job_filters(
        select(m.ProwJobRun.id, m.ProwJobRun.timestamp)
        .join(m.ProwJobRunTest, m.ProwJobRunTest.prow_job_run_id == m.ProwJobRun.id)
        .join(m.ProwJob, m.ProwJob.id == m.ProwJobRun.prow_job_id)
        .where(*bad),
        job,
        release,
    )
    run_ids = list(
        session.scalars(
            latest.group_by(m.ProwJobRun.id, m.ProwJobRun.timestamp)
            .order_by(m.ProwJobRun.timestamp.desc(), m.ProwJobRun.id.desc())
            .limit(limit)
        )
    )
    rows = session.execute(
        select(
            m.ProwJobRunTest.prow_job_run_id,
            m.ProwJobRunTest.status,
            m.ProwJob.name,
            m.ProwJob.release,
            m.ProwJobRun.timestamp,
            m.ProwJobRunTestOutput.output,
            m.ProwJobRunArtifact.path,
        )
        .join(m.ProwJobRun, m.ProwJobRun.id == m.ProwJobRunTest.prow_job_run_id)
        .join(m.ProwJob, m.ProwJob.id == m.ProwJobRunTest.prow_job_id)
        .outerjoin(
            m.ProwJobRunTestOutput,
            m.ProwJobRunTestOutput.prow_job_run_test_id == m.ProwJobRunTest.id,
        )
        .outerjoin(m.ProwJobRunArtifact, m.ProwJobRunArtifact.id == m.ProwJobRunTest.artifact_id)
        .where(*bad, m.ProwJobRunTest.prow_job_run_id.in_(run_ids))
        .order_by(m.ProwJobRunTest.id)
    )
    found: dict[int, dict[str, Any]] = {}
    for run_id, status, job_name, job_release, timestamp, output, source in rows:
        entry = found.get(run_id)
        if entry is not None and STATUS_RANK[status] <= STATUS_RANK[entry["rank"]]:
            continue  # a test in two suites: keep its worse outcome
        found[run_id] = {
            "id": run_id,
            "job": job_name,
            "release": job_release,
            "startTime": iso_utc(timestamp),
            "status": status_name(status),
            "excerpt": failure_snippet(output or "", EXCERPT_BYTES),
            "source": source,
            "rank": status,
        }
    return [{k: v for k, v in found[r].items() if k != "rank"} for r in run_ids if r in found]


def find_tests(session: Session, fragment: str, limit: int = 50) -> list[str]:
    """Names of loaded tests that contain `fragment` (any case), shortest first."""
    fragment = fragment.strip()
    if not fragment:
        return []
    rows = session.scalars(
        select(m.Test.name)
        .where(func.lower(m.Test.name).contains(fragment.lower(), autoescape=True))
        .order_by(func.length(m.Test.name), m.Test.name)
        .limit(limit)
    )
    return list(rows)


def names_of_keys(session: Session, run_id: int, keys: Iterable[str]) -> dict[str, str]:
    """The summary's `testFailures`/`testFlakes` keys -> test names: a name failing in two
    suites is keyed `<suite>.<name>` there, and pages need the plain name to link it."""
    rows = session.execute(
        select(m.Test.name, m.Suite.name)
        .select_from(m.ProwJobRunTest)
        .join(m.Test, m.Test.id == m.ProwJobRunTest.test_id)
        .outerjoin(m.Suite, m.Suite.id == m.ProwJobRunTest.suite_id)
        .where(
            m.ProwJobRunTest.prow_job_run_id == run_id,
            m.ProwJobRunTest.status.in_((STATUS_FAILURE, STATUS_FLAKE)),
        )
    )
    known: dict[str, str] = {}
    for name, suite in rows:
        known[name] = name
        known[f"{suite or ''}.{name}"] = name
    return {key: known[key] for key in keys if key in known}
