"""Listing and finding loaded runs: the recent-runs table and "open this run" by id or URL.

The home page and `GET /api/runs` show the same rows; `find_run` lets a user paste a run id,
a Prow URL, a gcsweb URL or a `gs://` path of a run that is already loaded and land on it
without loading anything.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sippy.db import models as m
from sippy.ingest.classify import RESULT_REASONS
from sippy.ingest.prowjob import prow_url_to_gcs

PER_PAGE = 50
MAX_PER_PAGE = 200
MAX_PAGE = 1_000_000  # keeps the SQL offset within 64 bits
MAX_BUILD_ID = 2**63 - 1


def recent_runs(
    session: Session,
    *,
    release: str | None = None,
    job: str | None = None,
    result: str | None = None,
    page: int = 1,
    per_page: int = PER_PAGE,
) -> dict[str, Any]:
    """One page of loaded runs, newest first: `{runs, page, perPage, total, pages, filters}`.

    `release` and `result` (a result letter) match exactly; `job` matches any job whose name
    contains it. A page past the end is empty, not an error.
    """
    page = min(max(page, 1), MAX_PAGE)  # a page past the end is empty anyway
    per_page = min(max(per_page, 1), MAX_PER_PAGE)
    where = []
    if release:
        where.append(m.ProwJob.release == release)
    if job:
        where.append(m.ProwJob.name.contains(job, autoescape=True))
    if result:
        where.append(m.ProwJobRun.overall_result == result)
    base = select(m.ProwJobRun, m.ProwJob).join(m.ProwJob, m.ProwJob.id == m.ProwJobRun.prow_job_id)
    total = session.scalar(
        select(func.count())
        .select_from(m.ProwJobRun)
        .join(m.ProwJob, m.ProwJob.id == m.ProwJobRun.prow_job_id)
        .where(*where)
    )
    rows = session.execute(
        base.where(*where)
        .order_by(
            m.ProwJobRun.timestamp.is_(None),
            m.ProwJobRun.timestamp.desc(),
            m.ProwJobRun.id.desc(),
        )
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    total = total or 0
    return {
        "runs": [_run_row(run, prow_job) for run, prow_job in rows],
        "page": page,
        "perPage": per_page,
        "total": total,
        "pages": max(1, -(-total // per_page)),
        "filters": {"release": release, "job": job, "result": result},
    }


def run_filter_choices(session: Session) -> dict[str, list[Any]]:
    """What the filters can take: the loaded releases, result letters (with reasons) and jobs."""
    releases = session.scalars(select(m.ProwJob.release).distinct().order_by(m.ProwJob.release))
    letters = session.scalars(
        select(m.ProwJobRun.overall_result).distinct().order_by(m.ProwJobRun.overall_result)
    )
    jobs = session.scalars(select(m.ProwJob.name).order_by(m.ProwJob.name))
    return {
        "releases": [r for r in releases if r],
        "results": [
            {"letter": letter, "reason": RESULT_REASONS.get(letter, "Unknown")}
            for letter in letters
            if letter
        ],
        "jobs": list(jobs),
    }


def find_run(session: Session, text: str) -> int | None:
    """The id of the loaded run that `text` names, or None.

    `text` is a build id, or a Prow, gcsweb or `gs://` URL of a run folder or of any file in
    it. A URL matches a run only through the run's own GCS path, so a pasted job folder or
    another bucket's run with the same number is never taken for it.
    """
    text = text.strip()
    if text.isascii() and text.isdigit():
        run_id = int(text)
        if run_id > MAX_BUILD_ID:
            return None
        return session.scalar(select(m.ProwJobRun.id).where(m.ProwJobRun.id == run_id))
    mapped = prow_url_to_gcs(text)
    if mapped is None:
        return None
    bucket, path = mapped
    segments = [s for s in path.split("/") if s]
    for index in range(len(segments) - 1, -1, -1):  # the deepest build id first
        segment = segments[index]
        if not (segment.isascii() and segment.isdigit()) or int(segment) > MAX_BUILD_ID:
            continue
        row = session.execute(
            select(m.ProwJobRun.gcs_bucket, m.ProwJobRun.gcs_path).where(
                m.ProwJobRun.id == int(segment)
            )
        ).first()
        if row is None:
            continue
        run_bucket, run_path = row
        if run_path.strip("/") == "/".join(segments[: index + 1]) and run_bucket in ("", bucket):
            return int(segment)
    return None


def run_artifacts(session: Session, run_id: int) -> list[dict[str, Any]]:
    """Every artifact read for a run: `[{path, kind, size, error}]`, by path."""
    rows = session.scalars(
        select(m.ProwJobRunArtifact)
        .where(m.ProwJobRunArtifact.prow_job_run_id == run_id)
        .order_by(m.ProwJobRunArtifact.path)
    )
    return [{"path": a.path, "kind": a.kind, "size": a.size, "error": a.error} for a in rows]


def _run_row(run: m.ProwJobRun, job: m.ProwJob) -> dict[str, Any]:
    return {
        "id": run.id,
        "job": job.name,
        "release": job.release,
        "overallResult": run.overall_result,
        "reason": RESULT_REASONS.get(run.overall_result, "Unknown"),
        "startTime": _rfc3339(run.timestamp),
        "durationSeconds": run.duration / 1e9 if run.duration is not None else None,
        "testFailureCount": run.test_failures,
        "testFlakeCount": run.test_flakes,
        "prowState": run.prow_state,
        "url": run.url,
    }


def _rfc3339(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite hands back naive datetimes; we store UTC
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
