"""Writing release payloads: one tag and all its job runs, replaced whole in one transaction.

Loading the same release JSON again changes nothing ("unchanged"); a newer JSON of the same
tag replaces its job rows. A phase change between Accepted and Rejected of a stored tag is a
manual override, so it marks the tag `forced`, as Sippy's release loader does.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from sippy.db import models as m
from sippy.ingest.payload import (
    ACCEPTED,
    BLOCKING,
    FAILED,
    REJECTED,
    UNKNOWN_PHASE,
    Payload,
    PayloadJob,
    forced_by_rule,
    has_failed_blocking,
)

_FINAL = (ACCEPTED, REJECTED)
_TAG_FIELDS = ("release", "stream", "architecture", "phase", "forced", "release_time")
_TAG_FIELDS += ("previous_release_tag",)
_JOB_FIELDS = (
    "prow_job_run_id",
    "job_name",
    "prow_job_name",
    "kind",
    "state",
    "retries",
    "transition_time",
    "url",
    "upgrade",
    "upgrades_from",
    "upgrades_to",
)


def write_payload(session: Session, payload: Payload) -> str:
    """Insert or replace one payload tag and its job runs: "loaded" or "unchanged"."""
    tag = session.scalar(
        select(m.ReleaseTag).where(m.ReleaseTag.release_tag == payload.release_tag)
    )
    values = _tag_values(payload, tag)
    rows = [_job_values(job) for job in payload.jobs]
    if tag is not None and _same(session, tag, values, rows):
        return "unchanged"
    now = datetime.now(UTC)
    if tag is None:
        tag = m.ReleaseTag(release_tag=payload.release_tag, source=payload.source, **values)
        session.add(tag)
    else:
        for name, value in values.items():
            setattr(tag, name, value)
        tag.source = payload.source
        session.execute(delete(m.ReleaseJobRun).where(m.ReleaseJobRun.release_tag_id == tag.id))
    tag.loaded_at = now
    session.flush()
    if rows:
        session.execute(insert(m.ReleaseJobRun), [{"release_tag_id": tag.id, **r} for r in rows])
    return "loaded"


def apply_phases(session: Session, phases: dict[str, str]) -> list[str]:
    """Update stored tags whose phase a tags list reports differently; the tags changed."""
    if not phases:
        return []
    changed = []
    tags = session.scalars(select(m.ReleaseTag).where(m.ReleaseTag.release_tag.in_(list(phases))))
    for tag in tags:
        new = phases[tag.release_tag]
        if new == tag.phase or new == UNKNOWN_PHASE:
            continue
        if tag.phase in _FINAL and new in _FINAL:
            tag.forced = True
        else:
            failed = session.scalar(
                select(func.count()).where(
                    m.ReleaseJobRun.release_tag_id == tag.id,
                    m.ReleaseJobRun.kind == BLOCKING,
                    m.ReleaseJobRun.state == FAILED,
                )
            )
            tag.forced = forced_by_rule(new, bool(failed))
        tag.phase = new
        changed.append(tag.release_tag)
    return changed


def _tag_values(payload: Payload, stored: m.ReleaseTag | None) -> dict[str, Any]:
    """The tag's columns; a stored phase survives a JSON without one, a flip forces the tag."""
    phase, forced = payload.phase, payload.forced
    if stored is not None:
        if phase == UNKNOWN_PHASE and stored.phase != UNKNOWN_PHASE:
            phase = stored.phase
            forced = forced_by_rule(phase, has_failed_blocking(payload.jobs))
        if stored.phase in _FINAL and phase in _FINAL and stored.phase != phase:
            forced = True
        elif stored.phase == phase and stored.forced:
            forced = True  # an override seen earlier stays recorded
    return {
        "release": payload.release,
        "stream": payload.stream,
        "architecture": payload.architecture,
        "phase": phase,
        "forced": forced,
        "release_time": payload.release_time,
        "previous_release_tag": payload.previous_release_tag,
    }


def _job_values(job: PayloadJob) -> dict[str, Any]:
    return {
        "prow_job_run_id": job.prow_job_run_id,
        "job_name": job.name,
        "prow_job_name": job.prow_job_name,
        "kind": job.kind,
        "state": job.state,
        "retries": job.retries,
        "transition_time": job.transition_time,
        "url": job.url,
        "upgrade": job.upgrade,
        "upgrades_from": job.upgrades_from,
        "upgrades_to": job.upgrades_to,
    }


def _same(session: Session, tag: m.ReleaseTag, values: dict[str, Any], rows: list[Any]) -> bool:
    """Whether the stored tag and rows already say exactly this."""
    if any(_norm(getattr(tag, f)) != _norm(values[f]) for f in _TAG_FIELDS):
        return False
    stored = session.execute(
        select(*(getattr(m.ReleaseJobRun, f) for f in _JOB_FIELDS)).where(
            m.ReleaseJobRun.release_tag_id == tag.id
        )
    )
    have = {row[0]: tuple(_norm(v) for v in row) for row in stored}
    want = {r["prow_job_run_id"]: tuple(_norm(r[f]) for f in _JOB_FIELDS) for r in rows}
    return have == want


def _norm(value: Any) -> Any:
    """Datetimes as naive UTC: SQLite hands them back without a zone."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value
