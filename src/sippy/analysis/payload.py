"""Release payloads as loaded: one payload's jobs, its failed runs, the newest payloads.

Payload rows name Prow runs by build id only (as Sippy), so every read joins `prow_job_runs`
to say which runs are actually loaded: only those have evidence to summarize or compare.
Plain functions over a session, shared by the HTTP API, the CLI and payload-level analysis.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from sippy.db import models as m
from sippy.ingest.payload import BLOCKING, FAILED


class PayloadNotFound(LookupError):
    """No release payload with this tag has been loaded."""


def payload_summary(session: Session, release_tag: str) -> dict[str, Any]:
    """One payload and all its jobs, blocking first; raises PayloadNotFound."""
    tag = _tag(session, release_tag)
    rows = session.execute(
        select(m.ReleaseJobRun, m.ProwJobRun.overall_result)
        .outerjoin(m.ProwJobRun, m.ProwJobRun.id == m.ReleaseJobRun.prow_job_run_id)
        .where(m.ReleaseJobRun.release_tag_id == tag.id)
        .order_by(_blocking_first(), m.ReleaseJobRun.job_name, m.ReleaseJobRun.prow_job_run_id)
    ).all()
    jobs = [
        {
            "name": job.job_name,
            "prowJobName": job.prow_job_name,
            "kind": job.kind,
            "state": job.state,
            "retries": job.retries,
            "url": job.url,
            "prowJobRunId": job.prow_job_run_id,
            "transitionTime": _rfc3339(job.transition_time),
            "loaded": result is not None,
            "overallResult": result,  # None when the run is not loaded
            "upgrade": (
                {"from": job.upgrades_from, "to": job.upgrades_to} if job.upgrade else None
            ),
        }
        for job, result in rows
    ]
    return {**_tag_fields(tag), "jobs": jobs}


def failed_payload_runs(session: Session, release_tag: str) -> list[int]:
    """Build ids of the payload's failed jobs whose runs are loaded, blocking first.

    Raises PayloadNotFound; an empty list means no failed run has been loaded yet.
    """
    tag = _tag(session, release_tag)
    rows = session.scalars(
        select(m.ReleaseJobRun.prow_job_run_id)
        .join(m.ProwJobRun, m.ProwJobRun.id == m.ReleaseJobRun.prow_job_run_id)
        .where(m.ReleaseJobRun.release_tag_id == tag.id, m.ReleaseJobRun.state == FAILED)
        .order_by(_blocking_first(), m.ReleaseJobRun.job_name, m.ReleaseJobRun.prow_job_run_id)
    )
    return list(rows)


def recent_payloads(session: Session, limit: int = 20) -> list[dict[str, Any]]:
    """The newest loaded payloads (by release time), with job and failure counts."""
    failed = m.ReleaseJobRun.state == FAILED
    blocking = m.ReleaseJobRun.kind == BLOCKING
    rows = session.execute(
        select(
            m.ReleaseTag,
            func.count(m.ReleaseJobRun.id),
            func.coalesce(func.sum(case((failed & blocking, 1), else_=0)), 0),
            func.coalesce(func.sum(case((failed & ~blocking, 1), else_=0)), 0),
            func.count(m.ProwJobRun.id),
        )
        .outerjoin(m.ReleaseJobRun, m.ReleaseJobRun.release_tag_id == m.ReleaseTag.id)
        .outerjoin(m.ProwJobRun, m.ProwJobRun.id == m.ReleaseJobRun.prow_job_run_id)
        .group_by(m.ReleaseTag.id)
        .order_by(
            m.ReleaseTag.release_time.is_(None),
            m.ReleaseTag.release_time.desc(),
            m.ReleaseTag.id.desc(),
        )
        .limit(limit)
    ).all()
    return [
        {
            **_tag_fields(tag),
            "jobCount": jobs,
            "failedBlockingCount": int(failed_blocking),
            "failedInformingCount": int(failed_informing),
            "loadedRunCount": loaded,
        }
        for tag, jobs, failed_blocking, failed_informing, loaded in rows
    ]


def payloads_of_run(session: Session, run_id: int) -> list[dict[str, Any]]:
    """The payloads a run verified, as Sippy's `/api/job/run/payload` (plus kind and state)."""
    rows = session.execute(
        select(m.ReleaseTag.release_tag, m.ReleaseJobRun)
        .join(m.ReleaseTag, m.ReleaseTag.id == m.ReleaseJobRun.release_tag_id)
        .where(m.ReleaseJobRun.prow_job_run_id == run_id)
        .order_by(m.ReleaseTag.release_tag)
    ).all()
    return [
        {
            "prowjob_job_name": job.prow_job_name,
            "payload": release_tag,
            "prowjob_build_id": str(job.prow_job_run_id),
            "kind": job.kind,
            "state": job.state,
        }
        for release_tag, job in rows
    ]


def _tag(session: Session, release_tag: str) -> m.ReleaseTag:
    tag = session.scalar(select(m.ReleaseTag).where(m.ReleaseTag.release_tag == release_tag))
    if tag is None:
        raise PayloadNotFound(f"release payload {release_tag} not found")
    return tag


def _tag_fields(tag: m.ReleaseTag) -> dict[str, Any]:
    return {
        "releaseTag": tag.release_tag,
        "release": tag.release,
        "stream": tag.stream,
        "architecture": tag.architecture,
        "phase": tag.phase,
        "forced": tag.forced,
        "releaseTime": _rfc3339(tag.release_time),
        "previousReleaseTag": tag.previous_release_tag,
    }


def _blocking_first() -> Any:
    return case((m.ReleaseJobRun.kind == BLOCKING, 0), else_=1)


def _rfc3339(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite hands back naive datetimes; we store UTC
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
