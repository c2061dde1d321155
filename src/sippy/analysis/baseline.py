"""Build-log findings that also show in the job's passing runs: noise, not the cause.

logjuicer's idea (what is new in a failed run, against successful ones), done cheaply: the
build-log findings of every run are ranked and stored at load time, so a failed run's
findings are compared with those of up to PASSING_RUNS earlier successful runs of the same
job. A finding whose decisive line normalises to the same key as one of theirs (timestamps,
names, addresses and numbers replaced) is marked, and the evidence and the built-in answer
put it last: an `error:` that every passing run also logs did not fail this one.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sippy.db import models as m
from sippy.evidence.buildlog import finding_line
from sippy.evidence.normalize import normalize_line

PASSING_RUNS = 5


def mark_findings_seen_in_passing_runs(
    session: Session, run: m.ProwJobRun, findings: list[dict[str, Any]]
) -> int:
    """Set `alsoInPassingRuns` on each finding (how many of the compared passing runs logged
    it); returns how many passing runs were compared."""
    compared, keys = passing_finding_keys(
        session, run.prow_job_id, before=run.timestamp, exclude=run.id
    )
    for finding in findings:
        key = finding_key(finding["text"], finding.get("score"), finding.get("kind"))
        finding["alsoInPassingRuns"] = keys[key]
    return compared


def finding_key(text: str, score: int | None = None, kind: str | None = None) -> str:
    """The normalised line of a stored finding: its own line, not a context line (which may
    be another finding's)."""
    return normalize_line(finding_line(text, score, kind))


def passing_finding_keys(
    session: Session, job_id: int, *, before: datetime | None = None, exclude: int | None = None
) -> tuple[int, Counter[str]]:
    """(how many passing runs were compared, finding key -> how many of them logged it), over
    the job's last PASSING_RUNS successful runs (started before `before`, when given)."""
    query = select(m.ProwJobRun.id).where(
        m.ProwJobRun.prow_job_id == job_id, m.ProwJobRun.overall_result == "S"
    )
    if exclude is not None:
        query = query.where(m.ProwJobRun.id != exclude)
    if before is not None:
        query = query.where(m.ProwJobRun.timestamp < before)
    ids = session.scalars(query.order_by(m.ProwJobRun.timestamp.desc()).limit(PASSING_RUNS)).all()
    if not ids:
        return 0, Counter()
    per_run: dict[int, set[str]] = defaultdict(set)
    rows = session.execute(
        select(
            m.LogSnippetRow.prow_job_run_id,
            m.LogSnippetRow.text,
            m.LogSnippetRow.score,
            m.LogSnippetRow.kind,
        ).where(m.LogSnippetRow.prow_job_run_id.in_(ids), m.LogSnippetRow.origin == "build-log")
    )
    for run_id, text, score, kind in rows:
        per_run[run_id].add(finding_key(text, score, kind))
    keys: Counter[str] = Counter()
    for found in per_run.values():
        keys.update(found)
    return len(ids), keys
